"""The HF `config.json` shortcut: an `hf` spec from a Hugging Face config.json.

What it reads, and the rules (docs/contracts.md, "HF config shortcut"):
- `hidden_size`, `num_hidden_layers` (required integers) -> the one size `base`;
- the checkpoint is the folder holding config.json (its absolute path), never `_name_or_path`;
- the context length is the length the model was trained at, which config.json does not state:
  `max_position_embeddings` is only an upper bound (40000 for ProtBert, trained at 512-1024).
  Per-architecture rule: `esm` -> max_position_embeddings - 2 (CLS and EOS take two positions;
  1026 -> 1024). Any other model_type needs `--set sizes.base.context_length=N`;
- the name is MODEL when given (`recipegen new NAME --spec config.json`), else the model_type
  made into a valid name; `show` and `new` name it the same way;
- token_unit is `aa` and input_format is unset: set them with --set when the model differs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import Problem, SpecError, printable
from .rawspec import RawSpec
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


def context_rule(model_type: str, max_positions) -> int | None:
    """The trained context length by a documented per-architecture rule, or None (unknown)."""
    if model_type == "esm" and isinstance(max_positions, int) and max_positions > 2:
        return max_positions - 2  # ESM2: CLS + EOS take two of the positions
    return None


def missing_context(raw: RawSpec) -> Problem | None:
    """After --set overrides: a Problem when the context length is still unknown."""
    base = raw.data.get("sizes", {}).get("base")
    if not isinstance(base, dict) or "context_length" in base:
        return None
    try:
        cfg = json.loads(Path(raw.file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    bound = cfg.get("max_position_embeddings")
    return Problem(
        raw.file,
        None,
        "sizes.base.context_length",
        f"config.json does not say the length {cfg.get('model_type', 'this model')!r} was trained "
        f"at (max_position_embeddings {bound} is only an upper bound; it is not guessed)",
        "pass --set sizes.base.context_length=N with the trained length (e.g. 512 or 1024), "
        "or write a spec YAML",
    )


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
    for key in ("model_type",):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            problems.append(Problem(file, None, key, "not a string", "use an HF config.json"))
    for key in ("hidden_size", "num_hidden_layers"):
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
    checkpoint = str(Path(file).resolve().parent)  # the folder holding config.json
    n_layers = cfg["num_hidden_layers"]
    size = {
        "n_layers": n_layers,
        "hidden_dim": cfg["hidden_size"],
        "default_layer": max(1, (3 * n_layers) // 4) if n_layers > 1 else 1,
    }
    context = context_rule(model_type, cfg.get("max_position_embeddings"))
    if context is not None:
        size["context_length"] = context
    data = {
        "name": name,
        "description": f"{model_type} from {Path(file).name} (HF config shortcut)",
        "extraction": {
            "kind": "hf",
            "checkpoint": str(checkpoint),
            "token_unit": "aa",
            "dtype": "float16",
        },
        "sizes": {"base": size},
        "default_size": "base",
    }
    return RawSpec(data, file, file)
