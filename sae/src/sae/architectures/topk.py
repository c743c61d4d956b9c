"""TopK sparse autoencoder (Gao et al. 2024) with the optional AuxK dead-latent loss.

Model (``x_n`` = per-token standardised ``x`` when ``normalize_input``, else ``x``)::

    pre    = encoder(x_n - pre_bias) + latent_bias               # [B, n]
    codes  = the top_k entries of relu(pre), zero elsewhere
    recon  = decoder(codes) + pre_bias  (then un-standardised)

Objective (``aggregate_loss=False``, the default): ``mean_b(mse_b / (var_b + 1e-8))`` with
``mse_b = mean_d (recon - x)²`` and ``var_b = mean_d (x - pre_bias)²``; with
``aggregate_loss=True`` the batch-level ratio of the two means. AuxK (``auxk`` set) adds
``auxk_coef ·`` the normalised error with which the top-``auxk`` *dead* latents (inactive for
more than ``dead_tokens_threshold`` tokens) reconstruct the main residual. A latent counts as
active when its code exceeds 1e-3; ``dead_count_global`` advances the counters by the tokens of
all data-parallel ranks. ``post_step`` rescales each row of ``decoder.weight`` (``[d, n]``) to
unit norm over the latents (the reference library's rule).

Opt-in training settings (off by default = the reference's behaviour; the constructor keeps the
reference's exact signature and ``model_config`` its keys, since the trained weights alone define
the model). ``TrainingConfig(unit_norm_latents=True, project_decoder_grad=True)`` turns them on
(and ``detach_loss_variance=True``) turn them on through the Trainer, or call the methods
yourself:

* :meth:`TopKSAE.use_unit_norm_latents`: each latent's decoder direction (a column of
  ``decoder.weight``) is kept at unit norm instead, from now on and in every ``post_step``
  (an encoder still equal to the decoder's transpose is re-copied from the normalised decoder).
  The reference rule leaves the directions' norms free, and many latents die.
* :meth:`TopKSAE.use_decoder_grad_projection`: a gradient hook on ``decoder.weight`` removes, per
  latent, the gradient component parallel to its decoder direction (the part renormalisation
  would undo), so the optimizer only rotates directions. Works in any training loop, DDP included.
* :meth:`TopKSAE.use_detached_loss_variance`: the loss's denominator (``var_b``, the input's
  variance around ``pre_bias``) carries no gradient, so ``pre_bias`` cannot lower the loss by
  drifting away from the data to inflate it.

Training speed (:meth:`TopKSAE.loss`): the only dense ``[B, n]`` work is the encoder mat-mul
and its top-k, done without autograd. Gradients flow only through the selected top-k (and
AuxK) pre-activations via :class:`_SelectedPreActivations`, whose backward is sparse; the
decoder is the sparse :class:`~sae.kernels.TritonDecoderAutograd`; dead-latent counts come from
the selected indices. ``decoder.weight`` is stored latent-major (its transpose is contiguous)
so the sparse decode reads decoder rows without copies; the state dict is unaffected.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..kernels import TritonDecoderAutograd
from ..kernels.sparse_ops import (
    ReusableBuffer,
    column_sums,
    gather_rows_sum,
    remove_parallel_rows,
    scatter_rows_sum,
)
from .base import (
    NORM_EPS,
    SparseAutoencoder,
    geometric_median,
    standardize,
    unstandardize,
    variance_explained,
)

FIRE_THRESHOLD = 1e-3  # a latent "fires" on a token when its code exceeds this


def latent_major_(linear: nn.Linear) -> None:
    """Re-store ``linear.weight`` (``[d, n]``) so that ``weight.t()`` is contiguous; same values."""
    w = linear.weight.detach()
    store = torch.empty(w.shape[1], w.shape[0], dtype=w.dtype, device=w.device).t()
    store.copy_(w)
    linear.weight = nn.Parameter(store, requires_grad=linear.weight.requires_grad)


class _SelectedPreActivations(torch.autograd.Function):
    """Pre-activations at selected latents, with a sparse backward.

    ``forward(x_n, xc, pre_bias, w_enc, latent_bias, indices, values, grad_buffer)`` returns ``values``
    (already computed as ``(xc @ w_enc.T + latent_bias)`` at ``indices``, ``xc = x_n - pre_bias``)
    as a differentiable function of the parameters. Backward, with ``g [B, m]`` the incoming
    gradient: ``d w_enc = Gᵀ xc``, ``d latent_bias = Σ_b G``, ``d pre_bias = -(Σ_b G) w_enc``,
    ``d x_n = G w_enc`` (``G`` the sparse ``[B, n]`` matrix of ``g`` at ``indices``).
    ``grad_buffer`` (a :class:`~sae.kernels.sparse_ops.ReusableBuffer` or None) holds
    ``d w_enc`` across steps.
    """

    @staticmethod
    def forward(ctx, x_n, xc, pre_bias, w_enc, latent_bias, indices, values, grad_buffer=None):
        ctx.save_for_backward(xc, w_enc, indices)
        ctx.mark_non_differentiable(indices)
        ctx.grad_buffer = grad_buffer
        return values.clone()

    @staticmethod
    def backward(ctx, g):
        xc, w_enc, indices = ctx.saved_tensors
        n = w_enc.shape[0]
        need = ctx.needs_input_grad
        g = g.contiguous()
        g_x = g_pb = g_w = g_b = None
        colsum = column_sums(indices, g, n) if (need[2] or need[4]) else None
        if need[0]:
            g_x = gather_rows_sum(indices, g, w_enc)
        if need[2]:
            g_pb = -(colsum @ w_enc)
        if need[3]:
            out = None
            if ctx.grad_buffer is not None:
                out = ctx.grad_buffer.take(tuple(w_enc.shape), (w_enc.shape[1], 1), xc)
            g_w = scatter_rows_sum(indices, g, xc, n, out=out)
        if need[4]:
            g_b = colsum
        return g_x, None, g_pb, g_w, g_b, None, None, None


class TopKSAE(SparseAutoencoder):
    """Top-K SAE with ``pre_bias``, ``latent_bias`` and optional AuxK (see module docstring).

    Args mirror the reference library: ``decoder_impl`` "dense" decodes ``forward`` through the
    dense code tensor, "triton" through the sparse decode Function; ``loss`` is sparse either way.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        top_k: int,
        normalize_input: bool = True,
        auxk: int | None = None,
        auxk_coef: float = 1 / 32,
        dead_tokens_threshold: int = 10_000_000,
        aggregate_loss: bool = False,
        dead_count_global: bool = False,
        init_encoder_from_decoder: bool = True,
        init_pre_bias: bool = True,
        decoder_impl: str = "dense",
    ):
        super().__init__(input_dim, hidden_dim)
        if decoder_impl not in ("dense", "triton"):
            raise ValueError(f"decoder_impl must be 'dense' or 'triton', got {decoder_impl!r}")
        if not 1 <= int(top_k) <= self.hidden_dim:
            raise ValueError(f"TopKSAE: top_k must be in [1, hidden_dim={hidden_dim}], got {top_k}")
        if auxk is not None and int(auxk) < 1:
            raise ValueError(f"TopKSAE: auxk must be None or >= 1, got {auxk}")
        self.top_k = top_k
        self.init_pre_bias = init_pre_bias
        self.normalize_input = normalize_input
        self.auxk = auxk
        self.auxk_coef = auxk_coef
        self.dead_tokens_threshold = dead_tokens_threshold
        self.decoder_impl = decoder_impl
        self.aggregate_loss = aggregate_loss
        self.dead_count_global = dead_count_global
        self.unit_norm_latents = False  # opt-in: use_unit_norm_latents()
        self.project_decoder_grad = False  # opt-in: use_decoder_grad_projection()
        self.detach_loss_variance = False  # opt-in: use_detached_loss_variance()

        # registration order = the reference's (optimizer state lines up across libraries)
        self.pre_bias = nn.Parameter(torch.zeros(input_dim))
        self.encoder = nn.Linear(input_dim, hidden_dim, bias=False)
        self.latent_bias = nn.Parameter(torch.zeros(hidden_dim))
        self.decoder = nn.Linear(hidden_dim, input_dim, bias=False)
        latent_major_(self.decoder)
        if init_encoder_from_decoder:
            self._init_encoder_from_decoder()
        self.register_buffer("stats_last_nonzero", torch.zeros(hidden_dim, dtype=torch.long))

    # ------------------------------------------------------------------ configuration
    def _get_config(self) -> dict[str, Any]:
        """Constructor arguments stored in checkpoints (``model_config``)."""
        return {
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dim,
            "top_k": self.top_k,
            "normalize_input": self.normalize_input,
            "auxk": self.auxk,
            "auxk_coef": self.auxk_coef,
            "dead_tokens_threshold": self.dead_tokens_threshold,
            "aggregate_loss": self.aggregate_loss,
            "dead_count_global": self.dead_count_global,
        }

    def config_dict(self) -> dict[str, Any]:
        """Checkpoint ``model_config``: exactly ``_get_config()`` (the reference's keys, so
        ``TopKSAE(**model_config)`` works on both libraries; TopKSAE is the loaders' default)."""
        return self._get_config()

    @torch.no_grad()
    def _init_encoder_from_decoder(self) -> None:
        self.encoder.weight.copy_(self.decoder.weight.t())

    # ------------------------------------------------------------------ extension views
    @property
    def W_dec(self) -> torch.Tensor:
        """Decoder directions as ``[hidden_dim, input_dim]`` (a view of ``decoder.weight``)."""
        return self.decoder.weight.t()

    @property
    def tokens_since_fired(self) -> torch.Tensor:
        """Alias of ``stats_last_nonzero``."""
        return self.stats_last_nonzero

    @property
    def dead_mask(self) -> torch.Tensor:
        """Latents inactive for more than ``dead_tokens_threshold`` tokens."""
        return self.stats_last_nonzero > self.dead_tokens_threshold

    # ------------------------------------------------------------------ normalisation
    def _normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return standardize(x)

    def _denormalize(self, x: torch.Tensor, info: dict[str, torch.Tensor]) -> torch.Tensor:
        return unstandardize(x, info)

    def _prepare(self, x: torch.Tensor):
        if self.normalize_input:
            return standardize(x)
        return x, {}

    # ------------------------------------------------------------------ encode / decode
    def encode_pre_act(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """-> (pre-activations ``[B, n]`` before ReLU/top-k, normalisation info or {})."""
        x_n, info = self._prepare(x)
        return F.linear(x_n - self.pre_bias, self.encoder.weight, self.latent_bias), info

    def _topk(self, pre_act: torch.Tensor):
        vals, idx = torch.topk(torch.relu(pre_act), self.top_k, dim=-1)
        return vals, idx

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Dense codes ``[B, n]`` with at most ``top_k`` non-zeros per row."""
        pre_act, _ = self.encode_pre_act(x)
        vals, idx = self._topk(pre_act)
        return torch.zeros_like(pre_act).scatter(-1, idx, vals)

    def encode_topk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse codes: (values ``[B, k]`` >= 0, latent indices ``[B, k]``)."""
        pre_act, _ = self.encode_pre_act(x)
        return self._topk(pre_act)

    def decode(
        self, codes: torch.Tensor, info: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Dense codes -> reconstruction; un-standardised when ``info`` is given."""
        recon = F.linear(codes, self.decoder.weight) + self.pre_bias
        if self.normalize_input and info is not None:
            recon = unstandardize(recon, info)
        return recon

    def decode_without_bias(self, codes: torch.Tensor) -> torch.Tensor:
        """``decoder(codes)`` without ``pre_bias``."""
        return F.linear(codes, self.decoder.weight)

    def decode_topk(
        self,
        values: torch.Tensor,
        indices: torch.Tensor,
        info: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Sparse codes -> reconstruction without the dense code tensor."""
        recon = TritonDecoderAutograd.apply(indices, values, self.decoder.weight) + self.pre_bias
        if self.normalize_input and info:
            recon = unstandardize(recon, info)
        return recon

    def _decode_topk_triton(self, top_k_vals, top_k_indices, info=None, denormalize=True):
        recon = TritonDecoderAutograd.apply(top_k_indices, top_k_vals, self.decoder.weight)
        recon = recon + self.pre_bias
        if denormalize and self.normalize_input and info:
            recon = unstandardize(recon, info)
        return recon

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (reconstruction on the scale of ``x``, dense codes ``[B, n]``)."""
        pre_act, info = self.encode_pre_act(x)
        vals, idx = self._topk(pre_act)
        codes = torch.zeros_like(pre_act).scatter(-1, idx, vals)
        if self.decoder_impl == "triton":
            return self._decode_topk_triton(vals, idx, info), codes
        return self.decode(codes, info), codes

    def forward_with_aux(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> dict(recon, codes, pre_act, top_k_indices, norm_info)."""
        pre_act, info = self.encode_pre_act(x)
        vals, idx = self._topk(pre_act)
        codes = torch.zeros_like(pre_act).scatter(-1, idx, vals)
        return {
            "recon": self.decode(codes, info),
            "codes": codes,
            "pre_act": pre_act,
            "top_k_indices": idx,
            "norm_info": info,
        }

    # ------------------------------------------------------------------ dead latents
    def _tokens_per_update(self, n_rows: int) -> int:
        world = 1
        if self.dead_count_global and dist.is_available() and dist.is_initialized():
            world = dist.get_world_size()
        return int(n_rows) * world

    @torch.no_grad()
    def _advance_stats(self, fired: torch.Tensor, n_tokens: int) -> None:
        self.stats_last_nonzero.add_(n_tokens).masked_fill_(fired, 0)

    @torch.no_grad()
    def _update_dead_latent_stats(self, codes: torch.Tensor) -> None:
        """From dense codes: reset latents with a code > 1e-3, age the others."""
        fired = (codes.abs() > FIRE_THRESHOLD).any(dim=0)
        self._advance_stats(fired, self._tokens_per_update(codes.shape[0]))

    @torch.no_grad()
    def _update_dead_latent_stats_from_indices(
        self, top_k_indices: torch.Tensor, n_tokens: int
    ) -> None:
        """Reset every latent listed in ``top_k_indices``; age the others by ``n_tokens``."""
        fired = torch.zeros_like(self.stats_last_nonzero, dtype=torch.bool)
        fired[top_k_indices.reshape(-1)] = True
        self._advance_stats(fired, int(n_tokens))

    @torch.no_grad()
    def update_dead_stats(self, fired: torch.Tensor, n_tokens: int) -> None:
        """Extension: age by ``n_tokens`` and reset ``fired`` ([n] bool); with
        ``dead_count_global`` under torch.distributed both are combined over ranks first."""
        fired = fired.to(torch.int32)
        tokens = torch.tensor(int(n_tokens), device=fired.device, dtype=torch.long)
        if self.dead_count_global and dist.is_available() and dist.is_initialized():
            dist.all_reduce(fired, op=dist.ReduceOp.MAX)
            dist.all_reduce(tokens, op=dist.ReduceOp.SUM)
        self._advance_stats(fired.bool(), int(tokens))

    # ------------------------------------------------------------------ training
    def normalize_decoder(self) -> None:
        """Scale each row of ``decoder.weight`` (``[d, n]``) to unit norm, in place; with
        ``unit_norm_latents`` each column (one latent's direction) instead."""
        with torch.no_grad():
            rows = self.decoder.weight.t()  # [n, d]; contiguous in the latent-major layout
            if self.unit_norm_latents:  # one norm per latent
                rows.div_(rows.norm(dim=1, keepdim=True).clamp_min_(1e-12))
                return
            norms = rows.pow(2).sum(dim=0).sqrt_().clamp_min_(1e-12)  # one per decoder row
            rows.div_(norms)

    def use_unit_norm_latents(self) -> TopKSAE:
        """Opt in: keep every latent's decoder direction at unit norm (see the module
        docstring); normalises now, re-copying an encoder that still equals the decoder's
        transpose. -> self."""
        with torch.no_grad():
            tied = torch.equal(self.encoder.weight, self.decoder.weight.t())
            self.unit_norm_latents = True
            self.normalize_decoder()
            if tied:
                self._init_encoder_from_decoder()
        return self

    @torch.no_grad()
    def init_encoder_uniform_(self) -> TopKSAE:
        """Opt in (fresh models): re-draw the encoder as PyTorch's default ``nn.Linear`` init
        (uniform in +-1/sqrt(input_dim), so each latent's encoder row has norm ~0.58) and set
        every latent's decoder direction to its encoder row at unit norm, as EleutherAI's
        sparsify initialises. -> self."""
        bound = 1.0 / math.sqrt(self.input_dim)
        self.encoder.weight.uniform_(-bound, bound)
        rows = self.encoder.weight  # [n, d]
        self.decoder.weight.t().copy_(rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12))
        return self

    def use_decoder_grad_projection(self) -> TopKSAE:
        """Opt in: project each latent's decoder gradient orthogonal to its direction (a
        gradient hook on ``decoder.weight``; registered once). -> self."""
        if not self.project_decoder_grad:
            self.decoder.weight.register_hook(self._project_decoder_grad)
            self.project_decoder_grad = True
        return self

    def _project_decoder_grad(self, grad: torch.Tensor) -> torch.Tensor:
        """Gradient of ``decoder.weight`` minus, per latent, its part along that latent's
        (unit) decoder direction."""
        with torch.no_grad():  # [n, d] views; contiguous in the latent-major layout
            out = None
            if grad.is_contiguous() or grad.t().is_contiguous():  # dense: memory reused
                out = self._grad_buffer("decoder_projected").take(grad.shape, grad.stride(), grad)
                out = out.t()
            return remove_parallel_rows(grad.t(), self.decoder.weight.t(), out=out).t()

    def use_detached_loss_variance(self) -> TopKSAE:
        """Opt in: the loss's denominator (the input's variance around ``pre_bias``) is a
        constant for the gradient. The reference differentiates it, so ``pre_bias`` can lower
        the loss by moving away from the data (which inflates the variance) instead of by
        reconstructing better; on the synthetic benchmark it drifted 8x further from the data
        mean and 11% of the latents died. -> self."""
        self.detach_loss_variance = True
        return self

    def post_step(self) -> None:
        """Called after each optimizer step: :meth:`normalize_decoder`."""
        self.normalize_decoder()

    def init_pre_bias_from_data(
        self, data: torch.Tensor, max_iter: int = 100, eps: float = 1e-6
    ) -> None:
        """Set ``pre_bias`` to the geometric median of ``data`` (standardised when normalising)."""
        with torch.no_grad():
            pts = torch.as_tensor(data).float().cpu()
            if self.normalize_input:
                pts = standardize(pts)[0]
            med = geometric_median(pts, max_iter=max_iter, eps=eps)
            self.pre_bias.data = med.to(self.pre_bias.device)

    def _pre_activations(self, xc: torch.Tensor) -> torch.Tensor:
        """``xc @ W_enc.T + latent_bias`` written into a scratch buffer reused across steps (no
        fresh [B, n] allocation and page faults per step). Valid until the next call."""
        shape = (xc.shape[0], self.hidden_dim)
        buf = self.__dict__.get("_pre_scratch")
        if buf is None or buf.shape != shape or buf.dtype != xc.dtype or buf.device != xc.device:
            buf = torch.empty(shape, dtype=xc.dtype, device=xc.device)
            self.__dict__["_pre_scratch"] = buf
        return torch.addmm(self.latent_bias, xc, self.encoder.weight.t(), out=buf)

    def _grad_buffer(self, name: str) -> ReusableBuffer:
        """Per-model memory for one weight gradient, reused across steps (see ReusableBuffer)."""
        buffers = self.__dict__.setdefault("_grad_buffers", {})
        if name not in buffers:
            buffers[name] = ReusableBuffer()
        return buffers[name]

    def _select(self, x_n: torch.Tensor):
        """No-grad selection: top-k (and AuxK over dead latents) + dead-count update."""
        with torch.no_grad():
            xc = x_n - self.pre_bias
            pre = self._pre_activations(xc)
            vals, idx = torch.topk(pre, self.top_k, dim=-1, sorted=False)
            fired = torch.zeros(self.hidden_dim, dtype=torch.bool, device=pre.device)
            fired[idx[vals > FIRE_THRESHOLD]] = True
            n_tokens = self._tokens_per_update(x_n.shape[0])
            if self.dead_count_global and dist.is_available() and dist.is_initialized():
                fired_i = fired.to(torch.int32)
                dist.all_reduce(fired_i, op=dist.ReduceOp.MAX)
                fired = fired_i.bool()
            self._advance_stats(fired, n_tokens)
            aux_vals = aux_idx = None
            if self.auxk is not None:
                dead_ids = (self.stats_last_nonzero > self.dead_tokens_threshold).nonzero()
                dead_ids = dead_ids.squeeze(1)
                if dead_ids.numel() > 0:
                    k_aux = min(int(self.auxk), dead_ids.numel())
                    sub = pre.index_select(1, dead_ids)
                    aux_vals, pos = torch.topk(sub, k_aux, dim=-1, sorted=False)
                    aux_idx = dead_ids[pos]
        return xc, vals, idx, aux_vals, aux_idx

    def loss(self, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """Training objective and metrics (keys as the reference: total, fvu, sparsity, mse,
        variance_explained, dead_pct, and aux when ``auxk`` is set; ``l0`` = ``sparsity``).

        Updates the dead-latent counters (every call, as the reference does).
        """
        x_n, info = self._prepare(x)
        xc, vals, idx, aux_vals, aux_idx = self._select(x_n)
        k = idx.shape[1]
        if aux_idx is not None:
            sel_idx, sel_vals = torch.cat([idx, aux_idx], 1), torch.cat([vals, aux_vals], 1)
        else:
            sel_idx, sel_vals = idx, vals
        pre_sel = _SelectedPreActivations.apply(
            x_n,
            xc,
            self.pre_bias,
            self.encoder.weight,
            self.latent_bias,
            sel_idx,
            sel_vals,
            self._grad_buffer("encoder"),
        )
        acts = torch.relu(pre_sel)
        top = acts[:, :k]
        w_dec = self.decoder.weight
        recon_n = TritonDecoderAutograd.apply(idx, top, w_dec, self._grad_buffer("decoder"))
        recon_n = recon_n + self.pre_bias
        recon = unstandardize(recon_n, info) if info else recon_n

        x_var_src = x - (self.pre_bias.detach() if self.detach_loss_variance else self.pre_bias)
        if self.aggregate_loss:
            recon_loss = (recon - x).pow(2).mean() / (x_var_src.pow(2).mean() + NORM_EPS)
        else:
            mse_t = (recon - x).pow(2).mean(dim=-1)
            recon_loss = (mse_t / (x_var_src.pow(2).mean(dim=-1) + NORM_EPS)).mean()

        with torch.no_grad():
            l0 = (top != 0).float().sum(dim=-1).mean()
            var_exp = variance_explained(x, recon)
            out = {
                "total": recon_loss,
                "fvu": 1.0 - var_exp,
                "sparsity": l0,
                "mse": (recon - x).pow(2).mean(),
                "variance_explained": var_exp,
                "dead_pct": self.dead_mask.float().mean() * 100,
            }
        if self.auxk is not None:
            if aux_idx is None:
                aux = torch.zeros((), device=x.device, dtype=x.dtype)
            else:
                aux_acts = acts[:, k:]
                recon_aux = TritonDecoderAutograd.apply(
                    aux_idx, aux_acts, w_dec, self._grad_buffer("decoder_aux")
                )
                if info:
                    residual = x_n - recon_n.detach()
                elif not self.aggregate_loss:
                    residual = x - recon.detach() + self.pre_bias.detach()
                else:
                    residual = x - recon.detach()
                if self.aggregate_loss:
                    aux = (recon_aux - residual).pow(2).mean() / (residual.pow(2).mean() + NORM_EPS)
                else:
                    err = (recon_aux - residual).pow(2).mean(dim=-1)
                    aux = (err / (residual.pow(2).mean(dim=-1) + NORM_EPS)).mean()
            out["total"] = recon_loss + self.auxk_coef * aux
            out["aux"] = aux
        out["l0"] = out["sparsity"]
        return out
