"""Latent-sharded (tensor-parallel) TopK SAE, numerically equal to the dense ``TopKSAE``.

Rank ``r`` of ``world_size`` owns latents ``[r·L, (r+1)·L)`` with ``L = hidden_dim / world_size``:
its rows of the encoder (``W_enc_local [L, d]``), of ``latent_bias`` and its decoder columns
(``W_dec_local [d, L]``). ``pre_bias`` is replicated. A forward pass computes the local
pre-activations, selects the global top-k (:func:`sae.parallel.global_topk`), decodes the
selections this rank owns and sums the partial reconstructions over ranks.

``pre_bias`` gradient: each rank adds ``pre_bias / world_size`` to its partial decode and scales
the ``pre_bias`` part of the loss denominator by ``1 / world_size`` (same value), so that the
all-reduce(SUM) in :meth:`reduce_replicated_grads` yields exactly the dense gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..kernels import HAS_TRITON, TritonDecoderAutograd
from ..parallel import all_reduce_sum, autograd_all_reduce_sum, global_topk
from .base import (
    NORM_EPS,
    geometric_median,
    keep_hparams,
    standardize,
    unstandardize,
    variance_explained,
)
from .topk import FIRE_THRESHOLD

# constructor arguments kept as attributes of the same name
_HPARAMS = (
    "input_dim",
    "hidden_dim",
    "top_k",
    "rank",
    "world_size",
    "normalize_input",
    "auxk",
    "auxk_coef",
    "dead_tokens_threshold",
    "decoder_impl",
    "group",
)


class ShardedTopKSAE(nn.Module):
    """Tensor-parallel TopK SAE; ``hidden_dim`` is the global latent count."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        top_k: int,
        rank: int,
        world_size: int,
        normalize_input: bool = True,
        auxk: int | None = None,
        auxk_coef: float = 1 / 32,
        dead_tokens_threshold: int = 10_000_000,
        decoder_impl: str = "dense",
        group=None,
    ):
        super().__init__()
        if hidden_dim % world_size != 0:
            raise ValueError(
                f"hidden_dim {hidden_dim} must be divisible by world_size {world_size}"
            )
        if decoder_impl not in ("dense", "triton"):
            raise ValueError(f"decoder_impl must be 'dense' or 'triton', got {decoder_impl!r}")
        keep_hparams(self, locals(), _HPARAMS)
        self.latents_per_rank = n_local = hidden_dim // world_size
        # this rank's slice of the dense init: kaiming decoder columns, encoder = its transpose
        w_dec = nn.init.kaiming_uniform_(torch.empty(input_dim, n_local), a=5**0.5)
        self.W_enc_local = nn.Parameter(w_dec.t().clone())
        self.latent_bias_local = nn.Parameter(torch.zeros(n_local))
        self.W_dec_local = nn.Parameter(w_dec)
        self.pre_bias = nn.Parameter(torch.zeros(input_dim))  # replicated on every rank
        self.register_buffer("stats_last_nonzero", torch.zeros(n_local, dtype=torch.long))

    # ------------------------------------------------------------------ setup / sync
    @torch.no_grad()
    def load_shard_from_dense(self, dense) -> None:
        """Copy this rank's slice of a dense ``TopKSAE``."""
        lo = self.rank * self.latents_per_rank
        hi = lo + self.latents_per_rank
        self.W_enc_local.copy_(dense.encoder.weight[lo:hi])
        self.latent_bias_local.copy_(dense.latent_bias[lo:hi])
        self.W_dec_local.copy_(dense.decoder.weight[:, lo:hi])
        self.pre_bias.copy_(dense.pre_bias)

    @torch.no_grad()
    def init_pre_bias_from_data(
        self, data: torch.Tensor, max_iter: int = 100, eps: float = 1e-6
    ) -> None:
        """Same as ``TopKSAE.init_pre_bias_from_data`` (each rank computes the same value)."""
        pts = torch.as_tensor(data).float().cpu()
        if self.normalize_input:
            pts = standardize(pts)[0]
        med = geometric_median(pts, max_iter=max_iter, eps=eps)
        self.pre_bias.data = med.to(self.pre_bias.device)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Unit-norm each row of the global ``decoder.weight`` (sum of squares over ranks)."""
        sumsq = self.W_dec_local.pow(2).sum(dim=1)
        all_reduce_sum(sumsq, self.group)
        self.W_dec_local.div_(sumsq.clamp_min(1e-24).sqrt().unsqueeze(1))

    def post_step(self) -> None:
        self.normalize_decoder()

    def reduce_replicated_grads(self) -> None:
        """All-reduce(SUM) the ``pre_bias`` gradient; call between backward and step."""
        if self.pre_bias.grad is not None:
            all_reduce_sum(self.pre_bias.grad, self.group)

    # ------------------------------------------------------------------ forward pieces
    def _normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return standardize(x)

    def _denormalize(self, x: torch.Tensor, info: dict[str, torch.Tensor]) -> torch.Tensor:
        return unstandardize(x, info)

    def encode_pre_act(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Local pre-activations ``[B, L]`` and the normalisation info ({} when off)."""
        info: dict[str, torch.Tensor] = {}
        if self.normalize_input:
            x, info = standardize(x)
        return F.linear(x - self.pre_bias, self.W_enc_local, self.latent_bias_local), info

    def _decode_local(self, vals: torch.Tensor, local_indices: torch.Tensor) -> torch.Tensor:
        """Partial reconstruction from this rank's selections (``vals`` is 0 where unowned)."""
        if self.decoder_impl == "triton" and HAS_TRITON and vals.is_cuda:
            return TritonDecoderAutograd.apply(local_indices, vals, self.W_dec_local)
        cols = self.W_dec_local.t()[local_indices]  # [B, k, d]
        return torch.einsum("bkd,bk->bd", cols, vals)

    def _select(self, acts_local: torch.Tensor, k: int):
        gtk = global_topk(acts_local, k, self.rank, self.latents_per_rank, self.group)
        vals = acts_local.gather(1, gtk.local_indices) * gtk.owned_mask.to(acts_local.dtype)
        return gtk, vals

    def _reconstruct(self, x: torch.Tensor):
        pre_local, info = self.encode_pre_act(x)
        acts_local = torch.relu(pre_local)
        gtk, vals = self._select(acts_local, self.top_k)
        partial = self._decode_local(vals, gtk.local_indices) + self.pre_bias / self.world_size
        recon_n = autograd_all_reduce_sum(partial, self.group)
        recon = unstandardize(recon_n, info) if info else recon_n
        return recon, recon_n, gtk, vals, acts_local, info

    def forward(self, x: torch.Tensor):
        """-> (reconstruction ``[B, d]``, replicated on all ranks; the ``GlobalTopK``)."""
        recon, _, gtk, _, _, _ = self._reconstruct(x)
        return recon, gtk

    @torch.no_grad()
    def _update_dead_latent_stats_local(self, gtk, vals: torch.Tensor, n_tokens: int) -> None:
        fired = torch.zeros_like(self.stats_last_nonzero, dtype=torch.bool)
        fired[gtk.local_indices[vals > FIRE_THRESHOLD]] = True
        self.stats_last_nonzero.add_(int(n_tokens)).masked_fill_(fired, 0)

    def loss(self, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """Same keys and values as the dense ``TopKSAE.loss`` (per-token loss reduction)."""
        recon, recon_n, gtk, vals, acts_local, info = self._reconstruct(x)
        self._update_dead_latent_stats_local(gtk, vals, x.shape[0])

        # the replicated pre_bias enters the denominator once per rank: scale its gradient
        share = self.pre_bias / self.world_size
        pb = share + (self.pre_bias - share).detach()
        mse_t = (recon - x).pow(2).mean(dim=-1)
        recon_loss = (mse_t / ((x - pb).pow(2).mean(dim=-1) + NORM_EPS)).mean()
        with torch.no_grad():
            var_exp = variance_explained(x, recon)
            n_dead = (self.stats_last_nonzero > self.dead_tokens_threshold).sum().float()
            n_dead = all_reduce_sum(n_dead, self.group)
            out = {
                "total": recon_loss,
                "fvu": 1.0 - var_exp,
                "sparsity": (gtk.global_values != 0).float().sum(dim=-1).mean(),
                "mse": (recon - x).pow(2).mean(),
                "variance_explained": var_exp,
                "dead_pct": n_dead / self.hidden_dim * 100,
            }
        if self.auxk is not None:
            aux = self._auxk_loss(x, recon, recon_n, acts_local, info, int(n_dead))
            out["total"] = recon_loss + self.auxk_coef * aux
            out["aux"] = aux
        return out

    def _auxk_loss(self, x, recon, recon_n, acts_local, info, n_dead: int) -> torch.Tensor:
        if n_dead == 0:
            return torch.zeros((), device=x.device, dtype=x.dtype)
        dead = self.stats_last_nonzero > self.dead_tokens_threshold
        candidates = acts_local.masked_fill(~dead, float("-inf"))
        gtk, _ = self._select(candidates, min(int(self.auxk), n_dead))
        vals = acts_local.gather(1, gtk.local_indices) * gtk.owned_mask.to(acts_local.dtype)
        recon_aux = autograd_all_reduce_sum(self._decode_local(vals, gtk.local_indices), self.group)
        if info:
            residual = (x - info["mu"]) / info["std"] - recon_n.detach()
        else:
            residual = x - recon.detach() + self.pre_bias.detach()
        err = (recon_aux - residual).pow(2).mean(dim=-1)
        return (err / (residual.pow(2).mean(dim=-1) + NORM_EPS)).mean()
