"""The HF `config.json` shortcut: an `hf` spec from hidden size, layers and context length."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import Problem, SpecError, printable
from .spec import RawSpec
from .yamlload import MAX_DEPTH


def _plain(cfg: dict, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and lone surrogates anywhere (iteratively: no
    recursion on hostile input), naming the key path."""
    stack: list[tuple[object, tuple[str, ...]]] = [(cfg, ())]
    while stack:
        value, path = stack.pop()
        shown = path if len(path) <= 8 else path[:8] + ("...",)
        field = ".".join(printable(p) for p in shown) or "(top level)"
        if isinstance(value, str):
            if any("\ud800" <= c <= "\udfff" for c in value):
                raise SpecError(
                    [Problem(file, None, field, "contains a lone surrogate", "use valid Unicode")]
                )
            continue
        if not isinstance(value, (dict, list)):
            continue
        if len(path) >= MAX_DEPTH:
            raise SpecError(
                [
                    Problem(
                        file,
                        None,
                        field,
                        f"nested more than {MAX_DEPTH} levels deep",
                        "pass the model's plain HF config.json",
                    )
                ]
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            stack.append((k, path + (str(k),)))  # keys are strings: checked like values
            stack.append((v, path + (str(k),)))


def from_hf_config(text: str, file: str, name: str | None = None) -> RawSpec:
    """Build an `hf` spec from a Hugging Face config.json (hidden size, layers, context)."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [
                Problem(
                    file, exc.lineno, "(json)", f"malformed JSON: {exc.msg}", "fix the JSON syntax"
                )
            ]
        ) from None
    except RecursionError:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "(json)",
                    f"nested more than {MAX_DEPTH} levels deep",
                    "pass the model's plain HF config.json",
                )
            ]
        ) from None
    if not isinstance(cfg, dict):
        raise SpecError(
            [Problem(file, 1, "(json)", "expected a JSON object", "pass an HF config.json")]
        )
    _plain(cfg, file)
    problems = []
    for key in ("model_type", "_name_or_path"):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            problems.append(Problem(file, None, key, "not a string", "use an HF config.json"))
    for key in ("hidden_size", "num_hidden_layers", "max_position_embeddings"):
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool):
            problems.append(
                Problem(
                    file,
                    None,
                    key,
                    "missing or not an integer",
                    "use an HF config.json that has it",
                )
            )
    if problems:
        raise SpecError(problems)
    model_type = str(cfg.get("model_type") or "hf_model")
    if name is None:
        name = re.sub(r"[^a-z0-9_]", "_", model_type.lower())[:40]
        if not re.match(r"^[a-z]", name):
            name = ("hf_" + name)[:40]
    checkpoint = cfg.get("_name_or_path") or str(Path(file).resolve().parent)
    context = cfg["max_position_embeddings"]
    if model_type == "esm":  # ESM2 positions include CLS and EOS
        context = max(1, context - 2)
    n_layers = cfg["num_hidden_layers"]
    data = {
        "name": name,
        "description": f"{model_type} from {Path(file).name} (HF config shortcut)",
        "extraction": {
            "kind": "hf",
            "checkpoint": str(checkpoint),
            "token_unit": "aa",
            "dtype": "float16",
        },
        "sizes": {
            "base": {
                "n_layers": n_layers,
                "hidden_dim": cfg["hidden_size"],
                "context_length": context,
                "default_layer": max(1, (3 * n_layers) // 4) if n_layers > 1 else 1,
            }
        },
        "default_size": "base",
    }
    return RawSpec(data, file, file)
