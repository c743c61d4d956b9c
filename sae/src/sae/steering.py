"""Causal feature steering: clamp SAE features inside a model's forward pass.

A forward hook on the module whose output the SAE was trained on. At every position the hook
encodes the module output with the SAE (pre-activations -> ReLU -> top-k, the SAE's own codes),
sets the chosen features to fixed values, decodes both the original and the clamped codes and adds
only the difference, ``decode(clamped) - decode(original)``, to the output. The SAE's
reconstruction error therefore cancels: with no clamp (or a clamp to the value a feature already
has) the model runs unchanged, and the change it sees is exactly the clamped features' decoder
directions times the change in their codes. ``value=0`` ablates a feature; a negative value pushes
against its direction.

The SAE must provide ``encode_pre_act(x) -> (pre_act, info)``, ``decode(codes, info)`` and
``top_k`` (our :class:`sae.TopKSAE` does). Measure an effect by running the model with and without
:func:`steer` and comparing its outputs.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def _split(output):
    """(hidden state, rest of the tuple or None)."""
    if isinstance(output, tuple):
        return output[0], output[1:]
    return output, None


def clamp_hook(sae, clamps: dict[int, float], decode_only: bool = False):
    """A ``register_forward_hook`` hook that clamps ``{feature index: code value}`` at every
    position by adding ``decode(clamped) - decode(original)`` to the module output.

    The output may be a tensor ``[..., hidden]`` or a tuple whose first element is. With
    ``decode_only=True`` the hook assumes a ``(sequence, batch, hidden)`` layout and acts only on
    single-token steps (sequence length 1, autoregressive decoding), leaving the prompt prefill as
    it was.
    """
    pairs = [(int(f), float(v)) for f, v in clamps.items()]
    feats = torch.tensor([f for f, _ in pairs], dtype=torch.long)
    values = torch.tensor([v for _, v in pairs], dtype=torch.float32)

    def hook(module, inputs, output):
        hidden, rest = _split(output)
        if decode_only and hidden.shape[0] != 1:
            return output
        flat = hidden.reshape(-1, hidden.shape[-1]).float()
        with torch.no_grad():
            pre_act, info = sae.encode_pre_act(flat)
            top_vals, top_idx = torch.topk(torch.relu(pre_act), sae.top_k, dim=-1)
            original = torch.zeros_like(pre_act).scatter(-1, top_idx, top_vals)
            clamped = original.clone()
            if pairs:
                clamped[:, feats.to(clamped.device)] = values.to(clamped)
            delta = sae.decode(clamped, info) - sae.decode(original, info)
        steered = (flat + delta).to(hidden.dtype).reshape(hidden.shape)
        return (steered, *rest) if rest is not None else steered

    return hook


@contextmanager
def steer(module, sae, clamps: dict[int, float], decode_only: bool = False):
    """Within the ``with`` block, ``module`` runs with :func:`clamp_hook` attached; the hook is
    removed on exit, also when the block raises."""
    handle = module.register_forward_hook(clamp_hook(sae, clamps, decode_only=decode_only))
    try:
        yield
    finally:
        handle.remove()
