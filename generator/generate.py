"""Spec -> rendered recipe (in memory): the one pipeline `new` and `check` share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import provenance as prov
from . import spec as specs
from .errors import GeneratorError
from .render import TemplateSource, render, sha256_text, template_hash


@dataclass
class Rendered:
    """A recipe ready to write: directory name and {file: content} incl. recipe.yaml."""

    name: str
    files: dict[str, str]
    provenance: prov.Provenance

    @property
    def dirname(self) -> str:
        return f"{self.name}_sae"


def _source_kind(spec_path: str | None) -> str:
    if not spec_path:
        return "builtin"
    return "hf_config" if Path(spec_path).suffix == ".json" else "file"


def generate(
    model: str | None = None,
    *,
    size: str | None = None,
    layer: int | None = None,
    spec_path: str | None = None,
    overrides: list[str] | tuple = (),
    templates: TemplateSource | None = None,
) -> Rendered:
    """Load and validate the spec, resolve size/layer, render every file, build recipe.yaml."""
    raw, spec = specs.load(model, spec_path, overrides)
    return _render(raw, spec, _source_kind(spec_path), size, layer, list(overrides), templates)


def _render(raw, spec, source_kind, size, layer, overrides, templates) -> Rendered:
    templates = templates or TemplateSource()
    context = specs.resolve(spec, raw, size, layer)
    files = render(context, templates)
    digests = {name: sha256_text(text) for name, text in files.items()}
    record = prov.make(
        spec,
        source_kind,
        context["size"],
        context["layer"],
        overrides,
        template_hash(templates, spec["extraction"]["kind"]),
        digests,
    )
    files[prov.RECIPE_FILE] = record.to_yaml()
    return Rendered(spec["name"], files, record)


def regenerate(
    record: prov.Provenance,
    templates: TemplateSource | None = None,
    *,
    extra_overrides: list[str] | tuple = (),
    size: str | None = None,
    layer: int | None = None,
) -> Rendered:
    """Re-render from a recipe.yaml: builtin specs from the shipped file (+ overrides), others
    from the spec recorded in recipe.yaml (its overrides are already folded in). `update` passes
    `extra_overrides` (applied after the recorded ones) and may change size and layer."""
    overrides = list(record.overrides) + list(extra_overrides)
    if record.source == "builtin":
        raw, spec = specs.load(record.spec_name, None, overrides)
    elif record.source in ("file", "hf_config"):
        raw = specs.RawSpec(record.spec, "recipe.yaml (resolved_spec)", record.source)
        raw = specs.apply_overrides(raw, list(extra_overrides))
        spec = specs.validate(raw)
    else:
        raise GeneratorError(
            f"recipe.yaml: spec.source {record.source!r} is not builtin|file|hf_config"
        )
    size = record.size if size is None else size
    layer = record.layer if layer is None and size == record.size else layer
    rendered = _render(raw, spec, record.source, size, layer, overrides, templates)
    return with_user_files(rendered, record.user_files)


def with_user_files(rendered: Rendered, user_files: list[str]) -> Rendered:
    """`rendered` with recipe.yaml listing `user_files` (the user's allow-list, kept across
    re-renders)."""
    if user_files:
        rendered.provenance.user_files = list(user_files)
        rendered.files[prov.RECIPE_FILE] = rendered.provenance.to_yaml()
    return rendered


def existing_user_files(directory: Path) -> list[str]:
    """The `user_files` of the recipe already in `directory` ([] when there is none)."""
    try:
        return prov.read(directory).user_files
    except (GeneratorError, OSError):
        return []
