"""Sparse autoencoders: TopKSAE (with AuxK and the opt-in fixes) and ReLUSAE (L1).

Shapes: ``encoder`` is ``nn.Linear(input_dim, hidden_dim)`` (its bias is the latent bias),
``W_dec`` is ``[hidden_dim, input_dim]`` (row i = latent i's unit-norm direction), ``pre_bias``
is ``[input_dim]`` and is subtracted before encoding and added after decoding.

Loss terms (one definition, used by training and ``sae.eval``), over a batch of B tokens with
``err_b = ||x_b - x̂_b||²`` and ``var_b = ||x_b - mean_batch(x)||²``:
``fvu = Σ err_b / Σ var_b`` (batch-level), ``variance_explained = 1 - fvu``,
``mse = mean over tokens and dims of (x - x̂)²``. The training objective uses the batch-level
``fvu`` when ``aggregate_loss=True``, else the per-token mean ``mean_b(err_b / var_b)``
(the reference's behaviour). All of it is computed in normalised space when
``normalize_input=True``.

``normalize_input`` defaults to False here: the reference library defaults it to True while
every CLI defaults it to False (a listed defect); we keep the library and CLIs consistent.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

_EPS = 1e-6


def geometric_median(x: torch.Tensor, n_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """Weiszfeld's algorithm: the point minimising the sum of Euclidean distances to rows of x."""
    x = x.detach().double()
    y = x.mean(0)
    for _ in range(n_iter):
        d = (x - y).norm(dim=1).clamp_min(1e-12)
        w = 1.0 / d
        y_new = (w[:, None] * x).sum(0) / w.sum()
        if (y_new - y).norm() <= tol * max(1.0, y.norm().item()):
            y = y_new
            break
        y = y_new
    return y.float()


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _SAEBase(nn.Module):
    """Shared pieces: biases, decoder, dead-latent statistics, normalisation, pre-bias init."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        normalize_input: bool,
        dead_tokens_threshold: int,
        dead_count_global: bool,
    ):
        super().__init__()
        if int(input_dim) < 1 or int(hidden_dim) < 1:
            raise ValueError(
                f"input_dim and hidden_dim must be >= 1, got {input_dim}, {hidden_dim}"
            )
        self.input_dim = int(input_dim)
        self.hidden_dim = int(hidden_dim)
        self.normalize_input = bool(normalize_input)
        self.dead_tokens_threshold = int(dead_tokens_threshold)
        self.dead_count_global = bool(dead_count_global)
        self.pre_bias = nn.Parameter(torch.zeros(self.input_dim))
        self.encoder = nn.Linear(self.input_dim, self.hidden_dim)
        w = torch.randn(self.hidden_dim, self.input_dim)
        w = w / w.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(w)
        with torch.no_grad():
            self.encoder.weight.copy_(w)
            self.encoder.bias.zero_()
        # tokens seen since each latent last fired (counted per rank, or globally with DDP)
        self.register_buffer("tokens_since_fired", torch.zeros(self.hidden_dim, dtype=torch.long))

    # ------------------------------------------------------------------ normalisation
    def _normalize(self, x: torch.Tensor):
        if not self.normalize_input:
            return x, None
        mu = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True, unbiased=False) + _EPS
        return (x - mu) / std, (mu, std)

    @staticmethod
    def _denormalize(x: torch.Tensor, stats):
        return x if stats is None else x * stats[1] + stats[0]

    @torch.no_grad()
    def init_pre_bias_from_data(self, x: torch.Tensor) -> None:
        """Set ``pre_bias`` to the geometric median of ``x`` (in normalised space if normalising)."""
        x = torch.as_tensor(x).to(self.pre_bias.device, torch.float32)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"init_pre_bias_from_data expects [n, {self.input_dim}], got {tuple(x.shape)}"
            )
        x_n, _ = self._normalize(x)
        self.pre_bias.copy_(geometric_median(x_n).to(self.pre_bias.device))

    @torch.no_grad()
    def post_step(self) -> None:
        """Re-project decoder rows to unit norm (call after each optimizer step)."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))

    # ------------------------------------------------------------------ dead latents
    @property
    def dead_mask(self) -> torch.Tensor:
        return self.tokens_since_fired >= self.dead_tokens_threshold

    @torch.no_grad()
    def update_dead_stats(self, fired: torch.Tensor, n_tokens: int) -> None:
        """Count inactivity; with ``dead_count_global`` in tokens over all ranks (all_reduce)."""
        fired = fired.to(torch.int32)
        tokens = torch.tensor(int(n_tokens), device=fired.device, dtype=torch.long)
        if self.dead_count_global and _world() > 1:
            dist.all_reduce(fired, op=dist.ReduceOp.MAX)
            dist.all_reduce(tokens, op=dist.ReduceOp.SUM)
        self.tokens_since_fired.add_(tokens)
        self.tokens_since_fired.masked_fill_(fired.bool(), 0)

    def _loss_terms(self, x_n, recon_n, aggregate: bool):
        err = (recon_n - x_n).pow(2).sum(-1)
        var = (x_n - x_n.mean(0, keepdim=True)).pow(2).sum(-1)
        fvu = err.sum() / var.sum().clamp_min(_EPS)
        if aggregate:
            main = fvu
        else:
            main = (err / var.clamp_min(max(_EPS, 1e-6 * float(var.mean())))).mean()
        mse = err.mean() / self.input_dim
        return main, fvu, mse

    def config_dict(self) -> dict:
        raise NotImplementedError


class TopKSAE(_SAEBase):
    """TopK SAE (Gao et al. 2024) with AuxK over dead latents; see the module docstring."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        top_k: int,
        normalize_input: bool = False,
        auxk: int | None = None,
        auxk_coef: float = 1 / 32,
        dead_tokens_threshold: int = 10_000_000,
        aggregate_loss: bool = False,
        dead_count_global: bool = False,
        sparse_decode: bool = True,
    ):
        super().__init__(
            input_dim, hidden_dim, normalize_input, dead_tokens_threshold, dead_count_global
        )
        if not 1 <= int(top_k) < self.hidden_dim:
            raise ValueError(f"TopKSAE: top_k must be in [1, hidden_dim={hidden_dim}), got {top_k}")
        if auxk is not None and not 1 <= int(auxk) <= self.hidden_dim:
            raise ValueError(f"TopKSAE: auxk must be None or in [1, {hidden_dim}], got {auxk}")
        self.top_k = int(top_k)
        self.auxk = None if auxk is None else int(auxk)
        self.auxk_coef = float(auxk_coef)
        self.aggregate_loss = bool(aggregate_loss)
        self.sparse_decode = bool(sparse_decode)

    def config_dict(self) -> dict:
        return {
            "class": "TopKSAE",
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

    # ------------------------------------------------------------------ core
    def encode_topk(self, x_n: torch.Tensor):
        """Normalised input -> (values [B,k] >= 0, indices [B,k], pre-activations [B,n])."""
        pre = self.encoder(x_n - self.pre_bias)
        vals, idx = pre.topk(self.top_k, dim=-1, sorted=False)
        return F.relu(vals), idx, pre

    def decode_topk(self, vals: torch.Tensor, idx: torch.Tensor, bias: bool = True):
        """Decode from k active latents only (embedding_bag) or densely (``sparse_decode=False``)."""
        if self.sparse_decode:
            out = F.embedding_bag(idx, self.W_dec, per_sample_weights=vals, mode="sum")
        else:
            dense = torch.zeros(
                vals.shape[0], self.hidden_dim, dtype=vals.dtype, device=vals.device
            )
            out = dense.scatter(1, idx, vals) @ self.W_dec
        return out + self.pre_bias if bias else out

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Dense codes [B, hidden_dim] with at most ``top_k`` non-zeros per row."""
        vals, idx, _ = self.encode_topk(self._normalize(x)[0])
        codes = torch.zeros(x.shape[0], self.hidden_dim, dtype=vals.dtype, device=vals.device)
        return codes.scatter(1, idx, vals)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Dense codes -> reconstruction (in normalised space when ``normalize_input``)."""
        return codes @ self.W_dec + self.pre_bias

    def forward(self, x: torch.Tensor):
        """-> (reconstruction in input space, dense codes)."""
        x_n, stats = self._normalize(x)
        vals, idx, _ = self.encode_topk(x_n)
        recon = self._denormalize(self.decode_topk(vals, idx), stats)
        codes = torch.zeros(x.shape[0], self.hidden_dim, dtype=vals.dtype, device=vals.device)
        return recon, codes.scatter(1, idx, vals)

    def loss(self, x: torch.Tensor) -> dict:
        """Training loss and metrics (see module docstring); updates dead stats in train mode."""
        x_n, _ = self._normalize(x)
        vals, idx, pre = self.encode_topk(x_n)
        recon_n = self.decode_topk(vals, idx)
        main, fvu, mse = self._loss_terms(x_n, recon_n, self.aggregate_loss)
        if self.training:
            hits = torch.zeros(self.hidden_dim, device=x.device, dtype=vals.dtype)
            hits.index_add_(0, idx.reshape(-1), (vals > 0).reshape(-1).to(vals.dtype))
            self.update_dead_stats(hits > 0, x.shape[0])  # no host sync
        dead = self.dead_mask
        n_dead = int(dead.sum())
        aux = torch.zeros((), device=x.device)
        if self.auxk is not None and n_dead > 0:
            k_aux = min(self.auxk, n_dead)
            masked = pre.masked_fill(~dead, float("-inf"))
            a_vals, a_idx = masked.topk(k_aux, dim=-1, sorted=False)
            a_vals = F.relu(a_vals)
            resid = (x_n - recon_n).detach()
            a_recon = self.decode_topk(a_vals, a_idx, bias=False)
            a_err = (a_recon - resid).pow(2).sum(-1)
            if self.aggregate_loss:
                denom = (resid - resid.mean(0, keepdim=True)).pow(2).sum().clamp_min(_EPS)
                aux = a_err.sum() / denom
            else:
                aux = (a_err / resid.pow(2).sum(-1).clamp_min(_EPS)).mean()
            aux = torch.nan_to_num(aux, nan=0.0)
        total = main + self.auxk_coef * aux
        return {
            "total": total,
            "fvu": fvu.detach(),
            "mse": mse.detach(),
            "variance_explained": (1 - fvu).detach(),
            "dead_pct": torch.tensor(100.0 * n_dead / self.hidden_dim),
            "aux": aux.detach(),
            "l0": (vals > 0).sum(-1).float().mean().detach(),
        }


class ReLUSAE(_SAEBase):
    """ReLU SAE with an L1 penalty on codes weighted by decoder norms."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        l1_coeff: float = 1e-3,
        normalize_input: bool = False,
        dead_tokens_threshold: int = 10_000_000,
        dead_count_global: bool = False,
    ):
        super().__init__(
            input_dim, hidden_dim, normalize_input, dead_tokens_threshold, dead_count_global
        )
        self.l1_coeff = float(l1_coeff)

    def config_dict(self) -> dict:
        return {
            "class": "ReLUSAE",
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dim,
            "l1_coeff": self.l1_coeff,
            "normalize_input": self.normalize_input,
            "dead_tokens_threshold": self.dead_tokens_threshold,
            "dead_count_global": self.dead_count_global,
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.encoder(self._normalize(x)[0] - self.pre_bias))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes @ self.W_dec + self.pre_bias

    def forward(self, x: torch.Tensor):
        x_n, stats = self._normalize(x)
        codes = F.relu(self.encoder(x_n - self.pre_bias))
        return self._denormalize(self.decode(codes), stats), codes

    def loss(self, x: torch.Tensor) -> dict:
        x_n, _ = self._normalize(x)
        codes = F.relu(self.encoder(x_n - self.pre_bias))
        recon_n = self.decode(codes)
        _, fvu, mse = self._loss_terms(x_n, recon_n, True)
        if self.training:
            self.update_dead_stats((codes > 0).any(0), x.shape[0])
        l1 = (codes * self.W_dec.norm(dim=1)).sum(-1).mean()
        recon_loss = (recon_n - x_n).pow(2).sum(-1).mean()
        return {
            "total": recon_loss + self.l1_coeff * l1,
            "fvu": fvu.detach(),
            "mse": mse.detach(),
            "variance_explained": (1 - fvu).detach(),
            "dead_pct": torch.tensor(100.0 * float(self.dead_mask.sum()) / self.hidden_dim),
            "aux": l1.detach(),
            "l0": (codes > 0).sum(-1).float().mean().detach(),
        }


_CLASSES = {"TopKSAE": TopKSAE, "ReLUSAE": ReLUSAE}


def build_from_config(model_config: dict) -> _SAEBase:
    """Rebuild an SAE from a checkpoint's ``model_config`` dict."""
    cfg = dict(model_config)
    name = cfg.pop("class", "TopKSAE")
    if name not in _CLASSES:
        raise ValueError(f"model_config.class must be one of {sorted(_CLASSES)}, got {name!r}")
    return _CLASSES[name](**cfg)


def load_sae(path, device: str | torch.device = "cpu") -> _SAEBase:
    """Load an SAE from a trainer checkpoint (``torch.load(weights_only=True)``)."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    for key in ("model_state_dict", "model_config"):
        if key not in ckpt:
            raise ValueError(f"{path} is not an sae checkpoint: missing '{key}'")
    model = build_from_config(ckpt["model_config"])
    model.load_state_dict(ckpt["model_state_dict"])
    return model.to(device)


__all__ = ["TopKSAE", "ReLUSAE", "geometric_median", "build_from_config", "load_sae"]
