"""The HF `config.json` shortcut: an `hf` spec from hidden size, layers and context length."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import Problem, SpecError
from .spec import RawSpec


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
    if not isinstance(cfg, dict):
        raise SpecError(
            [Problem(file, 1, "(json)", "expected a JSON object", "pass an HF config.json")]
        )
    problems = []
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
