"""Mixture-of-experts SAE: ``n_experts`` sub-SAEs of ``d_sae / n_experts`` latents each.

A linear router (softmax over experts) sends every token to its ``k_experts`` most probable
experts; the reconstruction is the gate-weighted (renormalised probabilities) sum of their
reconstructions. Experts are TopK (``expert_mode="topk"``) or ReLU+L1 (``"relu"``). An optional
shared backbone SAE (``d_shared`` latents) encodes first and the experts model what it leaves.

Loss: ``mse(recon, x) + load_balance_coeff · n_experts · Σ_e f_e p_e`` (``f_e`` share of routed
slots, ``p_e`` mean router probability) ``- router_entropy_coeff · H(router)`` plus the L1 terms
in relu mode. Codes are ``[B, d_sae (+ d_shared)]``, expert ``e`` at ``[e·expert_dim, ...)``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .base import (
    SparseAutoencoder,
    affine_pair,
    geometric_median,
    keep_hparams,
    standardize,
    unstandardize,
)

# constructor arguments kept as attributes of the same name and saved in the config, in order
_HPARAMS = (
    "d_in",
    "d_sae",
    "n_experts",
    "k_experts",
    "expert_mode",
    "top_k",
    "l1_coeff",
    "normalize_input",
    "load_balance_coeff",
    "router_entropy_coeff",
    "d_shared",
    "shared_mode",
    "shared_top_k",
)


class _VirtualDecoder(nn.Module):
    """``.weight`` = the expert decoders (and shared decoder) side by side: ``[d_in, hidden]``."""

    def __init__(self, expert_decoders: nn.ModuleList, shared_decoder: nn.Linear | None = None):
        super().__init__()
        self._expert_decoders = expert_decoders
        self._shared_decoder = shared_decoder

    @property
    def weight(self) -> torch.Tensor:
        mats = [dec.weight for dec in self._expert_decoders]
        if self._shared_decoder is not None:
            mats.append(self._shared_decoder.weight)
        return torch.cat(mats, dim=1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return codes @ self.weight.t()


def _init_expert_pair(encoder: nn.Linear, decoder: nn.Linear, tie: bool) -> None:
    """Xavier decoder with unit-norm columns; encoder = decoder transpose when ``tie``."""
    nn.init.xavier_uniform_(decoder.weight)
    with torch.no_grad():
        decoder.weight.data = F.normalize(decoder.weight.data, dim=0)
        if tie:
            encoder.weight.data = decoder.weight.data.t().clone()


def _topk_codes(pre_act: torch.Tensor, k: int) -> torch.Tensor:
    acts = torch.relu(pre_act)
    vals, idx = torch.topk(acts, k, dim=-1)
    return torch.zeros_like(acts).scatter(-1, idx, vals)


class MoESAE(SparseAutoencoder):
    """Mixture-of-experts SAE (see module docstring)."""

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        n_experts: int = 8,
        k_experts: int = 2,
        expert_mode: Literal["topk", "relu"] = "topk",
        top_k: int = 32,
        l1_coeff: float = 1e-2,
        normalize_input: bool = True,
        load_balance_coeff: float = 0.01,
        router_entropy_coeff: float = 0.0,
        d_shared: int | None = None,
        shared_mode: Literal["topk", "relu"] = "topk",
        shared_top_k: int = 32,
        init_encoder_from_decoder: bool = True,
    ):
        if d_sae % n_experts != 0:
            raise ValueError(f"d_sae ({d_sae}) must be divisible by n_experts ({n_experts})")
        super().__init__(d_in, d_sae + (d_shared or 0))
        keep_hparams(self, locals(), _HPARAMS)
        self.expert_dim = d_sae // n_experts

        self.router = nn.Linear(d_in, n_experts, bias=False)
        e_dim = self.expert_dim
        self.expert_pre_biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(d_in)) for _ in range(n_experts)]
        )
        self.expert_encoders = nn.ModuleList(
            [nn.Linear(d_in, e_dim, bias=False) for _ in range(n_experts)]
        )
        self.expert_latent_biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(e_dim)) for _ in range(n_experts)]
        )
        self.expert_decoders = nn.ModuleList(
            [nn.Linear(e_dim, d_in, bias=False) for _ in range(n_experts)]
        )
        for enc, dec in zip(self.expert_encoders, self.expert_decoders, strict=True):
            _init_expert_pair(enc, dec, init_encoder_from_decoder)

        self.shared_encoder: nn.Linear | None = None
        self.shared_decoder: nn.Linear | None = None
        self.shared_latent_bias: nn.Parameter | None = None
        self.shared_pre_bias: nn.Parameter | None = None
        if d_shared is not None:
            (
                self.shared_pre_bias,
                self.shared_encoder,
                self.shared_latent_bias,
                self.shared_decoder,
            ) = affine_pair(d_in, d_shared)
            _init_expert_pair(self.shared_encoder, self.shared_decoder, init_encoder_from_decoder)

        self._virtual_decoder = _VirtualDecoder(self.expert_decoders, self.shared_decoder)
        self.register_buffer("expert_utilization", torch.zeros(n_experts))
        self.register_buffer("expert_recon_error", torch.zeros(n_experts))
        self.register_buffer("expert_update_count", torch.zeros(1, dtype=torch.long))
        self._diag_ema = 0.01

    @property
    def decoder(self) -> _VirtualDecoder:  # type: ignore[override]
        """All decoders as one ``.weight`` (for analysis tools)."""
        return self._virtual_decoder

    def _normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return standardize(x)

    def _denormalize(self, x: torch.Tensor, info: dict[str, torch.Tensor]) -> torch.Tensor:
        return unstandardize(x, info)

    # ------------------------------------------------------------------ sub-models
    def _shared_encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.shared_encoder(x - self.shared_pre_bias) + self.shared_latent_bias
        if self.shared_mode == "topk":
            return _topk_codes(pre, self.shared_top_k)
        return torch.relu(pre)

    def _shared_decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.shared_decoder(codes) + self.shared_pre_bias

    def _expert_encode(self, x: torch.Tensor, expert_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (codes of expert ``expert_idx``, per-token L1 of those codes)."""
        pre = self.expert_encoders[expert_idx](x - self.expert_pre_biases[expert_idx])
        pre = pre + self.expert_latent_biases[expert_idx]
        if self.expert_mode == "topk":
            codes = _topk_codes(pre, self.top_k)
        else:
            codes = torch.relu(pre)
        return codes, codes.abs().sum(dim=-1)

    def _expert_decode(self, codes: torch.Tensor, expert_idx: int) -> torch.Tensor:
        return self.expert_decoders[expert_idx](codes) + self.expert_pre_biases[expert_idx]

    def _route(self, x: torch.Tensor):
        """-> (logits, probabilities [B, E], chosen experts [B, k], gate weights [B, k])."""
        logits = self.router(x)
        probs = F.softmax(logits, dim=-1)
        top_p, top_i = torch.topk(probs, self.k_experts, dim=-1)
        return logits, probs, top_i, top_p / (top_p.sum(dim=-1, keepdim=True) + 1e-8)

    # ------------------------------------------------------------------ forward
    def forward_with_aux(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> dict(recon, codes, router_logits, router_probs, top_indices, gate_weights,
        norm_info, sparsity_loss, per_expert_mse, shared_codes)."""
        info: dict[str, torch.Tensor] = {}
        x_n = x
        if self.normalize_input:
            x_n, info = standardize(x)
        shared_codes = shared_recon = None
        inp = x_n
        if self.d_shared is not None:
            shared_codes = self._shared_encode(x_n)
            shared_recon = self._shared_decode(shared_codes)
            inp = x_n - shared_recon.detach()
        logits, probs, top_i, gates = self._route(inp)

        codes = x.new_zeros(x.shape[0], self.d_sae)
        recon = x.new_zeros(x.shape[0], self.d_in)
        l1_total = x.new_zeros(1)
        per_expert_mse = x.new_zeros(self.n_experts)
        for e in range(self.n_experts):
            hit = top_i == e
            rows = hit.any(dim=-1)
            if int(rows.sum()) == 0:
                continue
            gate = (hit.float() * gates).sum(dim=-1)[rows]
            x_e = inp[rows]
            c_e, l1_e = self._expert_encode(x_e, e)
            r_e = self._expert_decode(c_e, e)
            lo = e * self.expert_dim
            codes[rows, lo : lo + self.expert_dim] = c_e
            recon[rows] += gate.unsqueeze(-1) * r_e
            l1_total = l1_total + l1_e.mean()
            with torch.no_grad():
                per_expert_mse[e] = (r_e - x_e).pow(2).mean()
        if shared_recon is not None:
            recon = shared_recon + recon
        if self.normalize_input:
            recon = unstandardize(recon, info)
        all_codes = codes if shared_codes is None else torch.cat([codes, shared_codes], dim=-1)
        return dict(
            recon=recon,
            codes=all_codes,
            router_logits=logits,
            router_probs=probs,
            top_indices=top_i,
            gate_weights=gates,
            norm_info=info,
            sparsity_loss=l1_total,
            per_expert_mse=per_expert_mse,
            shared_codes=shared_codes,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.forward_with_aux(x)
        return out["recon"], out["codes"]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[1]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Linear read-out through the concatenated decoders (analysis convenience)."""
        return self._virtual_decoder(codes)

    # ------------------------------------------------------------------ loss
    def loss(self, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """Keys: total, fvu (the MSE), sparsity, mse, variance_explained, load_balance,
        router_entropy, expert_util_std (+ l1 / shared_l1 in relu modes)."""
        out = self.forward_with_aux(x)
        recon, codes, probs = out["recon"], out["codes"], out["router_probs"]
        recon_loss = F.mse_loss(recon, x)
        l1 = out["sparsity_loss"]
        routed = F.one_hot(out["top_indices"], self.n_experts).float().sum(dim=1).mean(dim=0)
        load_balance = self.n_experts * (routed * probs.mean(dim=0)).sum()
        entropy = -(probs * torch.log(probs + 1e-8)).sum(dim=-1).mean()
        total = recon_loss + self.load_balance_coeff * load_balance
        if self.router_entropy_coeff != 0.0:
            total = total - self.router_entropy_coeff * entropy
        else:
            total = total + x.new_zeros(1)
        shared_l1 = x.new_zeros(1)
        shared_relu = self.d_shared is not None and self.shared_mode == "relu"
        if shared_relu:
            shared_l1 = out["shared_codes"].abs().sum(dim=-1).mean()
        if self.expert_mode == "relu":
            total = total + self.l1_coeff * l1
        if shared_relu:
            total = total + self.l1_coeff * shared_l1
        with torch.no_grad():
            total_var = torch.var(x, dim=0).sum()
            var_exp = 1.0 - torch.var(recon - x, dim=0).sum() / (total_var + 1e-8)
            util = routed.detach()
            result = {
                "total": total,
                "fvu": recon_loss,
                "sparsity": (codes != 0).float().sum(dim=-1).mean(),
                "mse": (recon - x).pow(2).mean(),
                "variance_explained": var_exp,
                "load_balance": load_balance,
                "router_entropy": entropy.detach(),
                "expert_util_std": util.std(),
            }
        self._update_diagnostics(util, out["per_expert_mse"])
        if self.expert_mode == "relu":
            result["l1"] = l1
        if shared_relu:
            result["shared_l1"] = shared_l1
        return result

    def post_step(self) -> None:
        """Unit-norm every decoder column (experts and shared backbone)."""
        with torch.no_grad():
            decs = list(self.expert_decoders)
            if self.shared_decoder is not None:
                decs.append(self.shared_decoder)
            for dec in decs:
                dec.weight.data = F.normalize(dec.weight.data, dim=0)

    # ------------------------------------------------------------------ diagnostics
    def _update_diagnostics(self, batch_util: torch.Tensor, per_expert_mse: torch.Tensor) -> None:
        a = self._diag_ema
        with torch.no_grad():
            self.expert_utilization.mul_(1 - a).add_(batch_util, alpha=a)
            self.expert_recon_error.mul_(1 - a).add_(per_expert_mse.detach(), alpha=a)
            self.expert_update_count += 1

    def get_expert_diagnostics(self) -> dict[str, Any]:
        """Running utilisation, dead experts (utilisation < 1/(10·E)) and recon error."""
        util = self.expert_utilization.detach().cpu()
        cut = 1.0 / (10.0 * self.n_experts)
        return {
            "per_expert_utilization": util,
            "dead_experts": (util < cut).nonzero(as_tuple=False).flatten().tolist(),
            "per_expert_recon_error": self.expert_recon_error.detach().cpu(),
        }

    def get_router_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Router softmax ``[B, n_experts]`` for ``x``."""
        if self.normalize_input:
            x = standardize(x)[0]
        if self.d_shared is not None:
            x = x - self._shared_decode(self._shared_encode(x))
        return F.softmax(self.router(x), dim=-1)

    def init_pre_bias_from_data(
        self, data: torch.Tensor, max_iter: int = 100, eps: float = 1e-6
    ) -> None:
        """Every expert's (and the shared) pre-bias = geometric median of ``data``."""
        with torch.no_grad():
            pts = torch.as_tensor(data).float().cpu()
            if self.normalize_input:
                pts = standardize(pts)[0]
            med = geometric_median(pts, max_iter=max_iter, eps=eps)
            biases = list(self.expert_pre_biases)
            if self.shared_pre_bias is not None:
                biases.append(self.shared_pre_bias)
            for b in biases:
                b.data = med.to(b.device)

    def _get_config(self) -> dict[str, Any]:
        hparams = {name: getattr(self, name) for name in _HPARAMS}
        return {"architecture": "MoESAE", **hparams, "expert_dim": self.expert_dim}

    def config_dict(self) -> dict[str, Any]:
        """Checkpoint ``model_config`` (= ``_get_config()``; ``architecture`` names the class)."""
        return self._get_config()
