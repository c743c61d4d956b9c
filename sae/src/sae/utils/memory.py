"""Back-of-envelope memory estimates for training an SAE with ``d`` inputs and ``n = e*d`` latents.

Sizes are in bytes and formatted with decimal units (1 GB = 10**9 bytes). Parameters are the
encoder and decoder matrices (``2*n*d``) plus the biases (``n + d``).
"""

from __future__ import annotations

_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB"))


def _fmt_bytes(n_bytes: int) -> str:
    for scale, unit in _UNITS:
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f}{unit}"
    return f"{int(n_bytes)}B"


def _n_latents(d: int, expansion: float) -> int:
    return int(expansion * d)


def _param_bytes(d: int, n: int, precision_bytes: int, bias: bool = True) -> int:
    return (2 * n * d + ((n + d) if bias else 0)) * precision_bytes


def sae_weight_memory(d: int, expansion: float, precision_bytes: int, bias: bool = True) -> str:
    """Weights: encoder (n, d) and decoder (d, n), plus biases (n + d) when ``bias``."""
    return _fmt_bytes(_param_bytes(d, _n_latents(d, expansion), precision_bytes, bias))


def _report(parts: dict, n: int, **extra) -> dict:
    total = sum(parts.values())
    return {
        "total_bytes": total,
        "total": _fmt_bytes(total),
        "components": {name: _fmt_bytes(size) for name, size in parts.items()},
        "n": n,
        **extra,
    }


def sae_forward_memory(
    d: int, expansion: float, precision_bytes: int, batch_size: int, k: int
) -> dict:
    """Activations kept for backward: input, pre-activations, top-k values and int32 indices,
    reconstruction. -> ``{total_bytes, total, components, n}``."""
    n = _n_latents(d, expansion)
    b, p = batch_size, precision_bytes
    parts = {
        "x (B,d)": b * d * p,
        "pre_activations (B,n)": b * n * p,
        "z_values (B,k)": b * k * p,
        "z_indices (B,k, int32)": b * k * 4,
        "reconstruction (B,d)": b * d * p,
    }
    return _report(parts, n)


def sae_backward_memory(
    d: int, expansion: float, precision_bytes: int, batch_size: int, optimizer: str = "adam"
) -> dict:
    """Gradients of input and pre-activations, parameter gradients, optimizer state
    (Adam: two moments; ``"sgd"``/``"none"``: nothing). -> ``{..., param_bytes}``."""
    n = _n_latents(d, expansion)
    b, p = batch_size, precision_bytes
    params = _param_bytes(d, n, p)
    parts = {
        "grad_x (B,d)": b * d * p,
        "grad_pre_activations (B,n)": b * n * p,
        "param_grads": params,
    }
    kind = optimizer.lower()
    if kind == "adam":
        parts["optimizer_states (adam m+v)"] = 2 * params
    elif kind in ("sgd", "none"):
        parts["optimizer_states"] = 0
    else:
        raise ValueError(f'optimizer must be "adam", "sgd" or "none", got {optimizer!r}')
    return _report(parts, n, param_bytes=params)


def sae_total_memory(
    d: int,
    expansion: float,
    precision_bytes: int,
    batch_size: int,
    k: int,
    optimizer: str = "adam",
) -> str:
    """Weights + forward + backward/optimizer, as a multi-line breakdown."""
    n = _n_latents(d, expansion)
    weights = _param_bytes(d, n, precision_bytes)
    fwd = sae_forward_memory(d, expansion, precision_bytes, batch_size, k)
    bwd = sae_backward_memory(d, expansion, precision_bytes, batch_size, optimizer)
    lines = [
        f"SAE memory estimate (n={n:,}, d={d:,}, B={batch_size:,}, k={k}, "
        f"P={precision_bytes} bytes, opt={optimizer}):",
        f"Weights: {_fmt_bytes(weights)}",
        f"Forward: {fwd['total']}",
        *(f"  - {name}: {size}" for name, size in fwd["components"].items()),
        f"Backward+opt: {bwd['total']}",
        *(f"  - {name}: {size}" for name, size in bwd["components"].items()),
        f"TOTAL: {_fmt_bytes(weights + fwd['total_bytes'] + bwd['total_bytes'])}",
    ]
    return "\n".join(lines)
