"""`recipe.yaml`: what a recipe was rendered from, so it can be re-rendered and diffed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from recipegen import __version__

from .errors import GeneratorError, SpecError
from .spec import spec_sha256
from .yamlload import load_yaml

RECIPE_FILE = "recipe.yaml"
HEADER = (
    "# Provenance, written by recipegen: do not edit.\n"
    "# `recipegen check <this dir>` re-renders from it and diffs; `recipegen diff` shows your edits;\n"
    "# `recipegen update` merges them into a new render; `recipegen new` refuses to overwrite\n"
    "# files whose hash no longer matches (use --force).\n"
)


@dataclass
class Provenance:
    """The contents of recipe.yaml."""

    spec_name: str
    source: str  # "builtin" | "file" | "hf_config"
    spec_sha256: str
    spec: dict  # the normalized spec after overrides (re-render input for non-builtin sources)
    size: str
    layer: int
    overrides: list[str]
    template_sha256: str
    files: dict[str, str]
    recipegen_version: str = __version__

    def to_yaml(self) -> str:
        data = {
            "recipegen_version": self.recipegen_version,
            "spec": {"name": self.spec_name, "source": self.source, "sha256": self.spec_sha256},
            "size": self.size,
            "layer": self.layer,
            "overrides": list(self.overrides),
            "template_sha256": self.template_sha256,
            "files": dict(sorted(self.files.items())),
            "resolved_spec": self.spec,
        }
        return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=100)


def make(
    spec: dict, source: str, size: str, layer: int, overrides, template_sha, files
) -> Provenance:
    return Provenance(
        spec_name=spec["name"],
        source=source,
        spec_sha256=spec_sha256(spec),
        spec=spec,
        size=size,
        layer=layer,
        overrides=list(overrides),
        template_sha256=template_sha,
        files=files,
    )


def read(directory: Path) -> Provenance:
    """Parse `<directory>/recipe.yaml`; a clear error when it is missing or malformed."""
    path = Path(directory) / RECIPE_FILE
    if not path.is_file():
        raise GeneratorError(
            f"{path}: not found, so {directory} is not a recipegen recipe "
            "(fix: render it with `recipegen new MODEL --out DIR`)"
        )
    try:
        data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise GeneratorError(f"{path}: cannot read: {exc}") from None
    except SpecError as exc:
        raise GeneratorError(
            f"{path}: {exc} (fix: re-render with `recipegen new --force`)"
        ) from None

    def need(key, kind, parent=None, label=None):
        container = data if parent is None else parent
        value = container.get(key) if isinstance(container, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise GeneratorError(
                f"{path}: field {label or key!r} is missing or not a {getattr(kind, '__name__', kind)} "
                "(fix: re-render the recipe with `recipegen new ... --force`)"
            )
        return value

    if not isinstance(data, dict):
        raise GeneratorError(
            f"{path}: expected a mapping (fix: re-render with `recipegen new --force`)"
        )
    spec_block = need("spec", dict)
    files = need("files", dict)
    for name, digest in files.items():
        if not isinstance(digest, str) or "/" in name or name.startswith("."):
            raise GeneratorError(f"{path}: files.{name}: bad entry (fix: re-render with --force)")
    overrides = need("overrides", list)
    if not all(isinstance(o, str) for o in overrides):
        raise GeneratorError(f"{path}: overrides must be a list of key=value strings")
    return Provenance(
        spec_name=need("name", str, spec_block, "spec.name"),
        source=need("source", str, spec_block, "spec.source"),
        spec_sha256=need("sha256", str, spec_block, "spec.sha256"),
        spec=need("resolved_spec", dict),
        size=str(need("size", (str, int, float))),
        layer=need("layer", int),
        overrides=overrides,
        template_sha256=need("template_sha256", str),
        files=files,
        recipegen_version=str(need("recipegen_version", (str, int, float))),
    )
