"""Plain dense PyTorch versions of the sparse decode: the oracle the fast paths are tested on."""

from __future__ import annotations

import torch


def reference_sparse_dense_matmul(
    sparse_indices: torch.Tensor, sparse_values: torch.Tensor, dense: torch.Tensor
) -> torch.Tensor:
    """``S @ dense`` for the sparse ``S`` given as (indices, values) ``[A, k]``; dense ``[N, B]``."""
    picked = dense[sparse_indices]  # [A, k, B]
    return torch.einsum("akb,ak->ab", picked, sparse_values)


def reference_decode(
    sparse_indices: torch.Tensor, sparse_values: torch.Tensor, decoder_weight: torch.Tensor
) -> torch.Tensor:
    """Scatter the codes densely and multiply by ``decoder_weight.T`` (``[d, n]`` weight)."""
    n = decoder_weight.shape[1]
    codes = sparse_values.new_zeros(sparse_indices.shape[0], n)
    codes = codes.scatter(-1, sparse_indices, sparse_values)
    return codes @ decoder_weight.t()
