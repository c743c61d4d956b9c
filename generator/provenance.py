"""`recipe.yaml`: what a recipe was rendered from, so it can be re-rendered and diffed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from recipegen import __version__
from recipegen.safe_read import FileRefused, read_regular

from .errors import GeneratorError, SpecError
from .spec import spec_sha256
from .yamlload import load_yaml

RECIPE_FILE = "recipe.yaml"
DOTFILES = (".gitignore",)  # the only hidden file a recipe holds
HEADER = (
    "# Provenance, written by recipegen: do not edit, except `user_files`.\n"
    "# `recipegen check <this dir>` re-renders from it and diffs; `recipegen diff` shows your edits;\n"
    "# `recipegen update` merges them into a new render; `recipegen new` refuses to overwrite\n"
    "# files whose hash no longer matches (use --force).\n"
    "# `user_files`: names (or fnmatch patterns) of your own files in this folder; `check`\n"
    "# reports any other file it did not generate (a stray torch.py would shadow the import).\n"
)
USER_FILES = "user_files"
KEYS = (
    "recipegen_version",
    "spec",
    "size",
    "layer",
    "overrides",
    "template_sha256",
    "files",
    "resolved_spec",
    USER_FILES,  # last: the one key meant for hand edits (check compares what precedes it)
)
MAX_RECORD_BYTES = 2_000_000


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
    user_files: list[str] = field(default_factory=list)

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
            USER_FILES: list(self.user_files),
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
    try:
        raw = read_regular(path, MAX_RECORD_BYTES)
    except FileNotFoundError:
        raise GeneratorError(
            f"{path}: not found, so {directory} is not a recipegen recipe "
            "(fix: render it with `recipegen new MODEL --out DIR`)"
        ) from None
    except FileRefused as exc:
        raise GeneratorError(
            f"{path}: {exc.reason} (fix: re-render with `recipegen new --force`)"
        ) from None
    try:
        data, _ = load_yaml(raw.decode("utf-8"), str(path))
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
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise GeneratorError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))} "
            "(fix: re-render with `recipegen new --force`)"
        )
    spec_block = need("spec", dict)
    files = need("files", dict)
    for name, digest in files.items():
        if not isinstance(digest, str) or not valid_file_name(name):
            raise GeneratorError(f"{path}: files.{name}: bad entry (fix: re-render with --force)")
    overrides = need("overrides", list)
    if not all(isinstance(o, str) for o in overrides):
        raise GeneratorError(f"{path}: overrides must be a list of key=value strings")
    user_files = data.get(USER_FILES) or []
    if not isinstance(user_files, list) or not all(_user_entry_ok(u) for u in user_files):
        raise GeneratorError(
            f"{path}: {USER_FILES} must be a list of file names or patterns in the recipe folder "
            "(no '/', no '..'), e.g. `user_files: [notes.md, \"*.fasta\"]`"
        )
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
        user_files=list(user_files),
    )


def valid_file_name(name: object) -> bool:
    """A name recipegen writes in a recipe folder: one plain component, hidden only when it is
    one of DOTFILES (the one rule recipe.yaml and the write journal both apply)."""
    return (
        isinstance(name, str)
        and bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and (not name.startswith(".") or name in DOTFILES)
    )


def _user_entry_ok(entry: object) -> bool:
    return (
        isinstance(entry, str)
        and bool(entry.strip())
        and "/" not in entry
        and "\\" not in entry
        and entry not in (".", "..")
        and entry.isprintable()
    )
