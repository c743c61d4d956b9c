"""Sparse decode kernels for TopK SAEs.

``HAS_TRITON`` (Triton importable and CUDA present), ``TritonDecoderAutograd`` (sparse decode
with sparse gradients), ``reference_decode`` / ``reference_sparse_dense_matmul`` (dense oracles).
"""

from .reference import reference_decode, reference_sparse_dense_matmul
from .triton_decoder import HAS_TRITON, TritonDecoderAutograd

__all__ = [
    "HAS_TRITON",
    "TritonDecoderAutograd",
    "reference_decode",
    "reference_sparse_dense_matmul",
]
