"""Sparse TopK decode as an autograd Function: ``(indices, values, decoder_weight) -> [B, d]``.

``decoder_weight`` is ``[d, n]`` (``nn.Linear(n, d).weight``). The forward never builds the
dense ``[B, n]`` code tensor; the backward returns the gradient of ``values`` (a sampled
dot product) and of ``decoder_weight`` (one sparse-transpose mat-mul), both O(B·k·d).

``HAS_TRITON`` reports whether Triton kernels could run here (Triton importable AND a CUDA
device present). The Function itself is written with torch's sparse primitives
(embedding_bag, CSR mat-mul, sampled_addmm), so it runs on CPU and CUDA alike and gives the
same values and gradients as :func:`sae.kernels.reference.reference_decode`.
"""

from __future__ import annotations

import importlib.util

import torch

from .sparse_ops import gather_rows_sum, sampled_rows_dot, scatter_rows_sum


def _triton_usable() -> bool:
    if importlib.util.find_spec("triton") is None or not torch.cuda.is_available():
        return False
    try:
        import triton  # noqa: F401
    except Exception:
        return False
    return True


HAS_TRITON: bool = _triton_usable()


class TritonDecoderAutograd(torch.autograd.Function):
    """``out[b] = Σ_j values[b, j] · decoder_weight[:, indices[b, j]]`` with sparse backward.

    ``apply(indices, values, decoder_weight[, grad_buffer])``: an optional
    :class:`~sae.kernels.sparse_ops.ReusableBuffer` for the weight gradient (latent-major).
    """

    @staticmethod
    def forward(ctx, sparse_indices, sparse_values, decoder_weight, grad_buffer=None):
        rows = decoder_weight.t()  # [n, d]; contiguous when the weight is stored latent-major
        if not rows.is_contiguous():
            rows = rows.contiguous()
        ctx.save_for_backward(sparse_indices, sparse_values, rows)
        ctx.grad_buffer = grad_buffer
        return gather_rows_sum(sparse_indices, sparse_values, rows)

    @staticmethod
    def backward(ctx, grad_out):
        indices, values, rows = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        g_values = g_weight = None
        if ctx.needs_input_grad[1]:
            g_values = sampled_rows_dot(indices, grad_out, rows)
        if ctx.needs_input_grad[2]:
            n, d = rows.shape
            if ctx.grad_buffer is not None:  # latent-major [d, n], on reused memory
                g_weight = ctx.grad_buffer.take((d, n), (1, d), grad_out)
                scatter_rows_sum(indices, values, grad_out, n, out=g_weight.t())
            else:
                g_weight = scatter_rows_sum(indices, values, grad_out, n).t()
        return None, g_values, g_weight, None
