"""The HF `config.json` shortcut: an `hf` spec from a Hugging Face config.json.

What it reads, and the rules (docs/contracts.md, "HF config shortcut"):
- the hidden size and the number of layers -> the one size `base`, under the first name found:
  HF standard `hidden_size` / `num_hidden_layers`, T5 `d_model` / `num_layers` (the encoder's),
  GPT-2 `n_embd` / `n_layer` (HIDDEN_KEYS, LAYER_KEYS); when none is there, the error names the
  fields looked for and the `--set sizes.base.hidden_dim=N` / `n_layers=N` that fixes it;
- an encoder-decoder checkpoint (`is_encoder_decoder`, e.g. T5) is run encoder only: extract.py
  loads the encoder class (T5EncoderModel) and records the class in metadata.json;
- the checkpoint is the folder holding config.json (its absolute path), never `_name_or_path`;
- the context length is the length the model was trained at, which config.json does not state:
  `max_position_embeddings` is only an upper bound (40000 for ProtBert, trained at 512-1024).
  Per-architecture rules: `esm` -> max_position_embeddings - 2 (CLS and EOS take two positions;
  1026 -> 1024); `gpt2` -> n_positions (trained at its full window). Any other model_type
  needs `--set sizes.base.context_length=N`;
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


# Where each family keeps the hidden size and the layer count (HF standard, T5, GPT-2, others).
HIDDEN_KEYS = ("hidden_size", "d_model", "n_embd", "dim", "embed_dim")
LAYER_KEYS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers")
SIZE_KEYS = ("hidden_dim", "n_layers", "context_length")


def context_rule(model_type: str, max_positions, n_positions=None) -> int | None:
    """The trained context length by a documented per-architecture rule, or None (unknown)."""
    if model_type == "esm" and isinstance(max_positions, int) and max_positions > 2:
        return max_positions - 2  # ESM2: CLS + EOS take two of the positions
    if model_type == "gpt2" and isinstance(n_positions, int) and n_positions > 0:
        return n_positions  # GPT-2: trained at its full window, no special tokens added
    return None


def _config_of(raw: RawSpec) -> dict:
    try:
        cfg = json.loads(Path(raw.file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    return cfg if isinstance(cfg, dict) else {}


def missing_sizes(raw: RawSpec) -> list[Problem]:
    """After --set overrides: a Problem for each of hidden size, layers and context length that
    is still unknown (naming the fields looked for and the --set that fixes it)."""
    base = raw.data.get("sizes", {}).get("base")
    if not isinstance(base, dict):
        return []
    cfg = _config_of(raw) if any(k not in base for k in SIZE_KEYS) else {}
    family = cfg.get("model_type", "this model")
    problems = []
    for key, names in (("hidden_dim", HIDDEN_KEYS), ("n_layers", LAYER_KEYS)):
        if key not in base:
            problems.append(
                Problem(
                    raw.file,
                    None,
                    f"sizes.base.{key}",
                    f"config.json of {family!r} has none of {', '.join(names)} "
                    "(the fields looked for, in this order)",
                    f"pass --set sizes.base.{key}=N (the model's "
                    f"{'hidden size' if key == 'hidden_dim' else 'number of layers'}), "
                    "or write a spec YAML",
                )
            )
    if "context_length" not in base:
        bound = cfg.get("max_position_embeddings", cfg.get("n_positions"))
        problems.append(
            Problem(
                raw.file,
                None,
                "sizes.base.context_length",
                f"config.json does not say the length {family!r} was trained at "
                + (
                    f"(max_position_embeddings {bound} is only an upper bound; it is not guessed)"
                    if bound is not None
                    else "(it has no max_position_embeddings; e.g. T5 uses relative positions)"
                ),
                "pass --set sizes.base.context_length=N with the trained length (e.g. 512 or "
                "1024), or write a spec YAML",
            )
        )
    return problems


def missing_context(raw: RawSpec) -> Problem | None:
    """The first of `missing_sizes` (None when every size field is known)."""
    problems = missing_sizes(raw)
    return problems[0] if problems else None


def _first_int(cfg: dict, names: tuple[str, ...]) -> int | None:
    """The value of the first of `names` that config.json holds as a positive integer."""
    for name in names:
        value = cfg.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


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
    if problems:
        raise SpecError(problems)
    model_type = str(cfg.get("model_type") or "hf_model")
    if name is None:
        name = re.sub(r"[^a-z0-9_]", "_", model_type.lower())[:40]
        if not re.match(r"^[a-z]", name):
            name = ("hf_" + name)[:40]
    checkpoint = str(Path(file).resolve().parent)  # the folder holding config.json
    size = {}
    hidden = _first_int(cfg, HIDDEN_KEYS)
    if hidden is not None:
        size["hidden_dim"] = hidden
    n_layers = _first_int(cfg, LAYER_KEYS)  # T5: num_layers is the encoder's
    if n_layers is not None:
        size["n_layers"] = n_layers
        size["default_layer"] = max(1, (3 * n_layers) // 4) if n_layers > 1 else 1
    context = context_rule(model_type, cfg.get("max_position_embeddings"), cfg.get("n_positions"))
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
