"""Render a resolved spec into recipe files (in memory) with Jinja2."""

from __future__ import annotations

import hashlib
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from recipegen import __version__

from . import knobs
from .errors import GeneratorError

# Rendered file -> template name, shared by every extraction kind. Mode 0o755 for launch.sh.
FILE_MAP: dict[str, str] = {
    "train.py": "train.py.j2",
    "eval.py": "eval.py.j2",
    "analyze.py": "analyze.py.j2",
    "steer.py": "steer.py.j2",
    "launch.sh": "launch.sh.j2",
    "slurm.sbatch": "slurm.sbatch.j2",
    "README.md": "README.md.j2",
    ".gitignore": "gitignore.j2",
}
EXECUTABLE = {"launch.sh"}
# An extraction kind is one folder, `kinds/<kind>/`, found by listing `kinds/`: every `<name>.j2`
# in it renders to the recipe file `<name>` (extract.py, its stand-in, ...); `_*.j2` are its hooks
# (macros imported by launch.sh.j2, eval.py.j2, README.md.j2) and `schema.yaml` its spec keys.
KINDS_DIR = "kinds"
KIND_REQUIRED = (  # every kind folder has these (tests/generator/test_kinds.py)
    "extract.py.j2",
    "standin.py.j2",
    "_launch.sh.j2",
    "_eval.py.j2",
    "_steer.py.j2",
    "_input.py.j2",
    "_readme.md.j2",
    "schema.yaml",
)


def shquote(value: Any) -> str:
    """POSIX shell quoting (shlex.quote); None renders as an empty argument."""
    return shlex.quote("" if value is None else str(value))


def pyrepr(value: Any) -> str:
    """A Python literal for `value`, double-quoted strings (so `ruff format` leaves it alone)."""
    if isinstance(value, str):
        if '"' in value or "'" in value:
            return repr(value)  # repr picks the quote that needs no escape
        return '"' + repr(value)[1:-1] + '"'
    if isinstance(value, (list, tuple)):
        items = ", ".join(pyrepr(v) for v in value)
        return (
            f"[{items}]"
            if isinstance(value, list)
            else f"({items}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{pyrepr(k)}: {pyrepr(v)}" for k, v in value.items()) + "}"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise GeneratorError(f"pyrepr: cannot render a {type(value).__name__} as a Python literal")


class TemplateSource:
    """Where templates come from: the `recipegen.templates` package, or a folder (tests)."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else None

    def read(self, name: str) -> str:
        try:
            if self.folder is not None:
                return (self.folder / name).read_text(encoding="utf-8")
            return resources.files("recipegen.templates").joinpath(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GeneratorError(
                f"template {name!r} not found in {self.folder or 'recipegen.templates'} "
                "(fix: reinstall recipegen, or add the template)"
            ) from None

    def _root(self):
        return self.folder if self.folder is not None else resources.files("recipegen.templates")

    def listdir(self, name: str = "") -> list[str]:
        """Entry names in the template folder `name` ("" = the top); [] when it does not exist."""
        node = self._root().joinpath(name) if name else self._root()
        if not node.is_dir():
            return []
        return sorted(entry.name for entry in node.iterdir())

    def is_file(self, name: str) -> bool:
        return self._root().joinpath(name).is_file()

    def environment(self) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FunctionLoader(lambda name: (self.read(name), name, lambda: True)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        env.filters["shquote"] = shquote
        env.filters["pyrepr"] = pyrepr
        env.globals["knobs"] = knobs  # the knob declarations (generator/knobs.py)
        return env


def kinds(source: TemplateSource | None = None) -> tuple[str, ...]:
    """The extraction kinds: every `kinds/<kind>/` folder holding an `extract.py.j2`."""
    source = source or TemplateSource()
    names = source.listdir(KINDS_DIR)
    return tuple(k for k in names if source.is_file(f"{KINDS_DIR}/{k}/extract.py.j2"))


def kind_files(kind: str, source: TemplateSource | None = None) -> dict[str, str]:
    """Rendered file name -> template name for the files an extraction kind adds to a recipe."""
    source = source or TemplateSource()
    folder = f"{KINDS_DIR}/{kind}"
    return {
        name[: -len(".j2")]: f"{folder}/{name}"
        for name in source.listdir(folder)
        if name.endswith(".j2") and not name.startswith("_")
    }


def template_names(kind: str, source: TemplateSource | None = None) -> dict[str, str]:
    """Rendered file name -> template name for a recipe of an extraction kind."""
    source = source or TemplateSource()
    if kind not in kinds(source):
        raise GeneratorError(
            f"extraction kind {kind!r} has no template folder {KINDS_DIR}/{kind}/ with an "
            f"extract.py.j2 (known kinds: {', '.join(kinds(source)) or 'none'})"
        )
    names = dict(FILE_MAP)
    names.update(kind_files(kind, source))
    return dict(sorted(names.items()))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_hash(source: TemplateSource, kind: str) -> str:
    """One hash over the (name, content) of every template the recipe uses: the shared ones,
    the shared partials (`_*.j2`) and every file of the kind's folder."""
    h = hashlib.sha256()
    names = set(template_names(kind, source).values())
    names |= {n for n in source.listdir() if n.startswith("_") and n.endswith(".j2")}
    folder = f"{KINDS_DIR}/{kind}"
    names |= {f"{folder}/{n}" for n in source.listdir(folder) if source.is_file(f"{folder}/{n}")}
    for name in sorted(names):
        h.update(name.encode() + b"\0" + source.read(name).encode("utf-8") + b"\0")
    h.update(knobs.fingerprint().encode("utf-8"))  # the templates render the knob declarations
    return h.hexdigest()


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line a render-time error came from (jinja maps it into the traceback)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render(context_spec: dict, source: TemplateSource | None = None) -> dict[str, str]:
    """{file name: content} for every recipe file; raises GeneratorError naming the template."""
    source = source or TemplateSource()
    env = source.environment()
    files = {}
    for out, name in template_names(context_spec["extraction"]["kind"], source).items():
        try:
            template = env.get_template(name)
            files[out] = template.render(spec=context_spec, recipegen_version=__version__)
        except GeneratorError:
            raise
        except Exception as exc:  # any failure names the template; nothing is written yet
            line = getattr(exc, "lineno", None) or _template_line(exc, name)
            where = f"{name}:{line}" if line else name
            raise GeneratorError(f"rendering {out} failed in template {where}: {exc}") from exc
    return files
