"""ReLU SAE with an L1 penalty (Gao et al. 2024, section 2.2)::

    codes = relu(encoder(x - pre_bias [, unit-normalised]) + latent_bias)
    recon = decoder(codes) + pre_bias
    loss  = mse(recon, x) + l1_coeff · mean_b Σ_i |codes|

Decoder columns (one per latent) are kept at unit norm when ``normalize_decoder``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import (
    SparseAutoencoder,
    affine_pair,
    geometric_median,
    keep_hparams,
    variance_explained,
)


class ReLUSAE(SparseAutoencoder):
    """ReLU + L1 SAE; ``normalize_input`` unit-normalises the centred input before encoding."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        l1_coeff: float = 1e-2,
        normalize_decoder: bool = True,
        normalize_input: bool = True,
    ):
        super().__init__(input_dim, hidden_dim)
        keep_hparams(self, locals(), ("l1_coeff", "normalize_input"))
        self._normalize_decoder = normalize_decoder
        self.pre_bias, self.encoder, self.latent_bias, self.decoder = affine_pair(
            input_dim, hidden_dim
        )
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """Xavier decoder (unit columns when normalised); the encoder starts as its transpose."""
        nn.init.xavier_uniform_(self.decoder.weight)
        if self._normalize_decoder:
            self._normalize_decoder_weights()
        self.encoder.weight.copy_(self.decoder.weight.t())

    def _normalize_decoder_weights(self) -> None:
        with torch.no_grad():
            w = self.decoder.weight
            w.div_(w.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def _get_config(self) -> dict[str, Any]:
        """Extension: constructor arguments for checkpoints."""
        return {
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dim,
            "l1_coeff": self.l1_coeff,
            "normalize_decoder": self._normalize_decoder,
            "normalize_input": self.normalize_input,
        }

    def config_dict(self) -> dict[str, Any]:
        return {"class": type(self).__name__, **self._get_config()}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        xc = x - self.pre_bias
        if self.normalize_input:
            xc = F.normalize(xc, dim=-1)
        return F.relu(self.encoder(xc) + self.latent_bias)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes) + self.pre_bias

    def loss(self, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """Keys: total, fvu (= the MSE), mse, l1, sparsity, variance_explained (+ l0 alias)."""
        recon, codes = self(x)
        recon_loss = F.mse_loss(recon, x)
        l1 = codes.abs().sum(dim=-1).mean()
        l0 = (codes > 0).float().sum(dim=-1).mean()
        return {
            "total": recon_loss + self.l1_coeff * l1,
            "fvu": recon_loss,
            "mse": recon_loss.detach(),
            "l1": l1,
            "sparsity": l0,
            "variance_explained": variance_explained(x, recon),
            "l0": l0,
        }

    def post_step(self) -> None:
        if self._normalize_decoder:
            self._normalize_decoder_weights()

    def init_pre_bias_from_data(
        self, data: torch.Tensor, max_iter: int = 100, eps: float = 1e-6
    ) -> None:
        """``pre_bias`` = geometric median of ``data`` (raw input space)."""
        med = geometric_median(data, max_iter=max_iter, eps=eps)
        self.pre_bias.data = med.to(self.pre_bias.device)
