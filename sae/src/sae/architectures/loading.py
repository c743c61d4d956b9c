"""Checkpoint loading, in one place, for ``sae.load_sae``, ``train.py --resume-from``,
``eval.py`` and ``analyze.py``.

Both libraries write ``model_state_dict`` (reference key names) and ``model_config``; ours adds a
``class`` key, the reference's TopK config has none (MoE: ``architecture``). DDP-prefixed
(``module.``) state dicts are accepted.

What a script calls:

* ``load_sae(path, device)`` -> the SAE (eval.py / analyze.py ``--sae-checkpoint``).
* ``read_checkpoint(path, model=model)`` -> the checked checkpoint dict, whose
  ``model_state_dict`` fits ``model`` (``Trainer.load_checkpoint`` / ``--resume-from``).

Every problem - missing, empty, special or truncated file, a pickle, a bare tensor, an unknown
class, a config whose sizes are absurd or do not match the weights - raises ``CheckpointError``
(a ``ValueError``) whose message names the file, the problem and the fix; a CLI prints it as
``error: <message>`` and exits 2. Nothing is allocated for the model before its config and every
tensor shape were checked (the model is first built on the ``meta`` device, which allocates
nothing), and the weights are read with ``torch.load(weights_only=True, mmap=True)``.
"""

from __future__ import annotations

import inspect
import os
import stat
import zipfile
from pathlib import Path

import torch

from .base import SparseAutoencoder
from .moe import MoESAE
from .relu_l1 import ReLUSAE
from .topk import TopKSAE

ARCHITECTURES = {"TopKSAE": TopKSAE, "ReLUSAE": ReLUSAE, "MoESAE": MoESAE}
"""The allow-list: the only classes a checkpoint's ``class``/``architecture`` may name."""

MAX_DIM = 2**31 - 1
"""Largest size any one config dimension may have."""

MAX_PARAMS = 2**33
"""Largest total number of model elements a checkpoint may ask for (32 GiB of float32)."""

MAX_EXPERTS = 256
"""Most experts an MoE checkpoint may have (each is a module: building is per expert)."""

_DIM_KEYS = ("input_dim", "hidden_dim", "d_in", "d_sae", "n_experts", "d_shared", "top_k")
_COUNTERS = ("global_step", "epoch", "batch_in_epoch", "world_size")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded; the message names the file and the problem."""


def _fail(path, problem: str, fix: str = "") -> CheckpointError:
    return CheckpointError(f"checkpoint {path}: {problem}" + (f"; {fix}" if fix else ""))


def _class_of(path, model_config: dict) -> tuple[type, dict]:
    cfg = dict(model_config)
    name = cfg.pop("class", None) or cfg.pop("architecture", None) or "TopKSAE"
    cfg.pop("architecture", None)
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise _fail(
            path,
            f"model_config.class must be one of {sorted(ARCHITECTURES)}, got {name!r}",
            "this checkpoint was not written by an SAE trainer",
        )
    return ARCHITECTURES[name], cfg


def _check_dims(path, cfg: dict) -> None:
    for key in _DIM_KEYS:
        value = cfg.get(key)
        if key not in cfg or (value is None and key == "d_shared"):
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"model_config.{key} = {value!r} is not an integer")
        top = MAX_EXPERTS if key == "n_experts" else MAX_DIM
        if not 1 <= value <= top:
            raise _fail(path, f"model_config.{key} = {value} is outside [1, {top}]")


def build_from_config(model_config: dict, *, device=None, path="<config>", **fallback):
    """Construct the allow-listed architecture named by ``class``/``architecture`` (default
    TopKSAE) from a checkpoint's ``model_config``.

    Keys the constructor does not take are ignored; ``fallback`` fills missing ones (e.g.
    ``input_dim``/``hidden_dim`` stored beside the config). Sizes are checked (each dimension
    at most ``MAX_DIM``, ``n_experts`` at most ``MAX_EXPERTS``, the model at most
    ``MAX_PARAMS`` elements) before anything is allocated.
    ``device="meta"`` builds a shape-only model.
    """
    if model_config is not None and not isinstance(model_config, dict):
        raise _fail(path, f"model_config is a {type(model_config).__name__}, not a mapping")
    cls, cfg = _class_of(path, model_config or {})
    params = inspect.signature(cls).parameters
    for key, value in fallback.items():
        if value is not None:
            cfg.setdefault(key, value)
    cfg = {k: v for k, v in cfg.items() if k in params}
    _check_dims(path, cfg)
    missing = [
        k
        for k, p in params.items()
        if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
        if k not in cfg
    ]
    if missing:
        raise _fail(path, f"model_config lacks {missing} for {cls.__name__}")
    try:
        with torch.device("meta"):
            shape_only = cls(**cfg)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"model_config does not build a {cls.__name__}: {exc}") from None
    n = sum(t.numel() for t in shape_only.state_dict().values())
    if n > MAX_PARAMS:
        raise _fail(
            path,
            f"model_config asks for {n:,} elements (more than {MAX_PARAMS:,})",
            "this is not a checkpoint this library wrote",
        )
    if device is not None and torch.device(device).type == "meta":
        return shape_only
    return cls(**cfg)


def strip_ddp_prefix(state_dict: dict) -> dict:
    """Drop a leading ``module.`` (DDP wrapper) from every key, when all keys have it."""
    if state_dict and all(isinstance(k, str) and k.startswith("module.") for k in state_dict):
        return {k[len("module.") :]: v for k, v in state_dict.items()}
    return state_dict


def _open_checked(path: Path) -> dict:
    """torch.load a regular, non-empty, zip-format file with weights_only=True; -> the dict."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _fail(path, "no such file", "check the path (did training finish?)") from None
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, "is a directory", "pass a checkpoint file such as checkpoint_final.pt")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "is not a regular file (a device, FIFO or socket); refusing to read it")
    if st.st_size == 0:
        raise _fail(
            path, "is empty (0 bytes)", "the run that wrote it was interrupted; use another"
        )
    if not zipfile.is_zipfile(path):
        raise _fail(
            path,
            "is not a torch checkpoint (not the zip format torch.save writes; truncated, or "
            "another kind of file)",
            "use a checkpoint_*.pt written by training",
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for one bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            problem = "holds pickled Python objects, which are never loaded (weights_only=True)"
        else:
            problem = f"is damaged or truncated ({type(exc).__name__}: {first})"
        raise _fail(path, problem, "use a checkpoint_*.pt written by training") from None
    if not isinstance(ckpt, dict):
        raise _fail(
            path,
            f"holds a {type(ckpt).__name__}, not a checkpoint dict with model_state_dict",
            "save {'model_state_dict': ..., 'model_config': ...} (what training writes)",
        )
    return ckpt


def _state_dict_of(path, ckpt: dict) -> dict:
    state = ckpt.get("model_state_dict")
    if state is None:
        raise _fail(path, "is not an SAE checkpoint: no model_state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise _fail(path, "model_state_dict is not a mapping of names to tensors")
    return strip_ddp_prefix(state)


def _check_fits(path, state: dict, model: torch.nn.Module) -> None:
    """Keys and shapes of ``state`` against ``model`` (meta or real); finite weights."""
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    if missing or extra:
        raise _fail(
            path,
            f"model_state_dict does not fit {type(model).__name__} "
            f"(missing {missing[:5]}, unexpected {extra[:5]})",
        )
    for key, tensor in want.items():
        got = state[key]
        if tuple(got.shape) != tuple(tensor.shape):
            raise _fail(
                path,
                f"{key} has shape {tuple(got.shape)} but the config needs {tuple(tensor.shape)}",
                "the checkpoint and its model_config disagree (or it belongs to another model)",
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise _fail(path, f"{key} holds NaN or infinite values", "resume from an earlier one")


def read_checkpoint(path, model: torch.nn.Module | None = None) -> dict:
    """Read and check a trainer checkpoint; -> its dict (tensors on CPU).

    With ``model``, ``model_state_dict`` must have exactly its keys and shapes (the ``module.``
    prefix already stripped) - what ``train.py --resume-from`` needs before
    ``model.load_state_dict``; ``global_step``/``epoch``/``batch_in_epoch`` must be
    non-negative integers and ``optimizer_state_dict`` a mapping when present. Without
    ``model`` the model is built from ``model_config`` on the meta device and checked against.
    Raises ``CheckpointError`` naming the file and the problem.
    """
    path = Path(path)
    ckpt = _open_checked(path)
    state = _state_dict_of(path, ckpt)
    if model is None:
        config = ckpt.get("model_config")
        model = build_from_config(
            config if config is not None else {},
            device="meta",
            path=path,
            input_dim=ckpt.get("input_dim"),
            hidden_dim=ckpt.get("hidden_dim"),
        )
    _check_fits(path, state, model)
    for key in _COUNTERS:
        value = ckpt.get(key)
        if value is None:
            continue
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(path, f"{key} = {value!r} is not a non-negative integer")
    opt = ckpt.get("optimizer_state_dict")
    if opt is not None and not isinstance(opt, dict):
        raise _fail(path, "optimizer_state_dict is not a mapping")
    ckpt["model_state_dict"] = state
    return ckpt


def load_sae(path, device: str | torch.device = "cpu") -> SparseAutoencoder:
    """Load an SAE from a checkpoint file (ours or the reference library's).

    The class comes from the allow-list ``ARCHITECTURES``; the file is read with
    ``weights_only=True``; config and shapes are checked before the model is allocated.
    Raises ``CheckpointError`` (a ``ValueError``) naming the file and the problem.
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    model = build_from_config(
        ckpt.get("model_config") or {},
        path=path,
        input_dim=ckpt.get("input_dim"),
        hidden_dim=ckpt.get("hidden_dim"),
    )
    model.load_state_dict(ckpt["model_state_dict"])
    return model.to(device)
