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


def reference_topk_loss(model, x: torch.Tensor, stats: torch.Tensor):
    """``TopKSAE.loss``'s objective written densely (dense codes, full mat-muls, plain autograd).

    ``stats`` are the dead-latent counters before the step. Returns ``(total, aux or None,
    new_stats)`` and leaves ``model`` untouched: the oracle the sparse training step is tested
    and benchmarked against.
    """
    pb, we = model.pre_bias, model.encoder.weight
    lb, wd = model.latent_bias, model.decoder.weight
    if model.normalize_input:
        mu = x.mean(-1, keepdim=True)
        sd = x.std(-1, keepdim=True) + 1e-8
        xn = (x - mu) / sd
    else:
        xn = x
    act = torch.relu((xn - pb) @ we.T + lb)
    v, i = act.topk(model.top_k, dim=-1)
    codes = torch.zeros_like(act).scatter(-1, i, v)
    recon_n = codes @ wd.T + pb
    recon = recon_n * sd + mu if model.normalize_input else recon_n
    fired = (codes > 1e-3).any(0)
    stats = torch.where(fired, torch.zeros_like(stats), stats + x.shape[0])
    if model.aggregate_loss:
        total = (recon - x).pow(2).mean() / ((x - pb).pow(2).mean() + 1e-8)
    else:
        total = ((recon - x).pow(2).mean(-1) / ((x - pb).pow(2).mean(-1) + 1e-8)).mean()
    aux = None
    if model.auxk is not None:
        dead = stats > model.dead_tokens_threshold
        n_dead = int(dead.sum())
        if n_dead == 0:
            aux = torch.zeros((), device=x.device, dtype=x.dtype)
        else:
            masked = act.masked_fill(~dead, -1.0)  # codes are >= 0: live latents never win
            av, ai = masked.topk(min(int(model.auxk), n_dead), dim=-1)
            aux_codes = torch.zeros_like(act).scatter(-1, ai, av.clamp_min(0))
            r_aux = aux_codes @ wd.T
            if model.normalize_input:
                res = xn - recon_n.detach()
            elif model.aggregate_loss:
                res = x - recon.detach()
            else:
                res = x - recon.detach() + pb.detach()
            if model.aggregate_loss:
                aux = (r_aux - res).pow(2).mean() / (res.pow(2).mean() + 1e-8)
            else:
                aux = ((r_aux - res).pow(2).mean(-1) / (res.pow(2).mean(-1) + 1e-8)).mean()
        total = total + model.auxk_coef * aux
    return total, aux, stats
