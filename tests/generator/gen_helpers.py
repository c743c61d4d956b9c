"""Shared helpers for the generator tests (imported by name; tests/ has no packages)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from recipegen.generator.render import template_names

FIXTURE_TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
MODELS = ("esm2", "codonfm", "evo2")
KINDS = {"esm2": "hf", "codonfm": "custom", "evo2": "predict_cli"}


def missing_templates(*models: str) -> list[str]:
    """Package templates a full render of `models` (default: all) needs that do not exist (yet)."""
    root = resources.files("recipegen.templates")
    names = set()
    for model in models or MODELS:
        names.update(template_names(KINDS[model]).values())
    return sorted(n for n in names if not root.joinpath(n).is_file())


def write_spec(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def require_templates(*models: str) -> None:
    """Fail (naming them) when package templates for `models` are missing."""
    missing = missing_templates(*models)
    assert not missing, f"package templates missing: {', '.join(missing)}"


MINIMAL_SPEC = """\
name: mini
extraction:
  kind: hf
  checkpoint: "org/mini-{size}"
sizes:
  tiny: {n_layers: 4, hidden_dim: 32, context_length: 128}
sae:
  expansion_factor: 4
  top_k: 8
  auxk: 16
"""
