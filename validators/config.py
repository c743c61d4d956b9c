"""`[tool.recipegen.lint]` settings and rule selection (ruff-style prefixes)."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.registry import all_rules
from recipegen.validators.sae_api import ALL_FEATURES, features_for_version

from recipegen.safe_read import FileRefused, read_regular

_MAX_CONFIG_BYTES = 5_000_000
_KEYS = {"select", "ignore", "extend-select", "per-file-ignores", "exclude"}


class ConfigError(ValueError):
    """Bad configuration or CLI selection; the message names the field and the fix."""


@dataclass
class LintConfig:
    select: list[str] = field(default_factory=lambda: ["SAE"])
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    force_exclude: bool = False  # exclude named paths too (ruff's --force-exclude)
    root: Path = field(default_factory=Path.cwd)
    path: Path | None = None  # the file the settings came from (for messages)
    # what the target `sae` library offers ([tool.recipegen] sae-version / sae-features)
    sae_features: frozenset[str] = ALL_FEATURES

    def selected(self) -> set[str]:
        """Codes enabled by select + extend-select minus ignore."""
        codes = [r.code for r in all_rules()]
        chosen = {
            c for c in codes if any(c.startswith(p) for p in self.select + self.extend_select)
        }
        return {c for c in chosen if not any(c.startswith(p) for p in self.ignore)}

    def ignored_for(self, relpath: str) -> list[str]:
        out: list[str] = []
        name = relpath.rsplit("/", 1)[-1]
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(name, pattern):
                out.extend(codes)
        return out

    def excluding(self, relpath: str, named_depth: int = 0) -> str | None:
        """The `exclude` pattern that matches `relpath` (posix, relative to the config root), or
        None. A pattern matches a path component by name (`tests`, `*_old.py`) or a leading run
        of components as a whole (`recipes/*/work`, one `*` per component), which excludes
        everything below it. The first `named_depth` components are the path named on the
        command line: like ruff, a named path is linted even when an exclude matches it or a
        folder above it; only what lies below it can be excluded (see `force_exclude`)."""
        if relpath in ("", "."):
            return None
        parts = relpath.split("/")
        for pat in self.exclude:
            pparts = pat.strip("/").split("/")
            for depth in range(max(named_depth, 0) + 1, len(parts) + 1):
                if len(pparts) == 1:
                    hit = fnmatch.fnmatchcase(parts[depth - 1], pparts[0])
                else:
                    hit = len(pparts) == depth and all(
                        fnmatch.fnmatchcase(a, b)
                        for a, b in zip(parts[:depth], pparts, strict=True)
                    )
                if hit:
                    return pat
        return None

    def excluded(self, relpath: str, named_depth: int = 0) -> bool:
        return self.excluding(relpath, named_depth) is not None


def check_prefixes(prefixes: list[str], where: str) -> list[str]:
    """Upper-case the prefixes and reject any that match no rule."""
    codes = [r.code for r in all_rules()]
    out = []
    for p in prefixes:
        q = p.strip().upper()
        if not q:
            continue
        if not any(c.startswith(q) for c in codes):
            raise ConfigError(
                f"{where}: unknown rule code or prefix {p!r}; "
                "use a code such as SAE102 or a prefix such as SAE2 (see `recipegen rules`)"
            )
        out.append(q)
    return out


def _list(table: dict, key: str, where: str) -> list[str]:
    val = table.get(key, [])
    if (
        isinstance(val, str)
        or not isinstance(val, list)
        or not all(isinstance(v, str) for v in val)
    ):
        raise ConfigError(f'{where}: `{key}` must be a list of rule codes, e.g. ["SAE1"]')
    return check_prefixes(val, f"{where}: {key}")


def load_config(path: Path | None = None, start: Path | None = None) -> LintConfig:
    """Read `path` (a pyproject.toml or a recipegen TOML), or the nearest pyproject.toml above
    `start`; defaults when none has `[tool.recipegen.lint]`."""
    if path is None:
        here = (start or Path.cwd()).resolve()
        for d in [here, *here.parents]:
            if (d / "pyproject.toml").is_file():
                path = d / "pyproject.toml"
                break
        if path is None:
            return LintConfig()
        explicit = False
    else:
        explicit = True
    try:
        # a symlinked pyproject.toml is followed; a FIFO or device is refused, never read
        raw = read_regular(os.path.realpath(path), _MAX_CONFIG_BYTES)
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: file not found") from None
    except FileRefused as exc:
        raise ConfigError(f"{path}: {exc.reason}") from None
    except OSError as exc:  # a directory, no permission, ...
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); fix the file or pass --config"
        ) from None
    section = _tool_recipegen(data, str(path))
    table = section.get("lint")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(
            f"{path}: `tool.recipegen.lint` must be a table ([tool.recipegen.lint]), "
            f"not {_kind(table)}"
        )
    if table is None and explicit and ("select" in data or "ignore" in data):
        table = data  # a standalone recipegen-lint.toml
    cfg = LintConfig(root=Path(path).resolve().parent, path=Path(path))
    cfg.sae_features = _sae_target(section, f"{path} [tool.recipegen]")
    if not table:
        return cfg
    where = f"{path} [tool.recipegen.lint]"
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if "select" in table:
        cfg.select = _list(table, "select", where)
    cfg.ignore = _list(table, "ignore", where)
    cfg.extend_select = _list(table, "extend-select", where)
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict) or not all(isinstance(v, list) for v in pfi.values()):
        raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
    cfg.per_file_ignores = {g: _list(pfi, g, f"{where} per-file-ignores") for g in pfi}
    excl = table.get("exclude", [])
    if not isinstance(excl, list) or not all(isinstance(e, str) for e in excl):
        raise ConfigError(f"{where}: `exclude` must be a list of glob patterns")
    cfg.exclude = excl
    return cfg


def _kind(value: object) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "a list" if isinstance(value, list) else type(value).__name__
    )


def _tool_recipegen(data: dict, where: str) -> dict:
    """`[tool.recipegen]` of a parsed TOML document ({} when absent); ConfigError naming the key
    when `tool` or `tool.recipegen` is not a table."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{where}: `tool` must be a table ([tool.*] sections), not {_kind(tool)}")
    section = tool.get("recipegen", {})
    if not isinstance(section, dict):
        raise ConfigError(
            f"{where}: `tool.recipegen` must be a table ([tool.recipegen]), not {_kind(section)}"
        )
    return section


def _sae_target(section: dict, where: str) -> frozenset[str]:
    """Features of the `sae` library the scripts target: `sae-features` (a list), else those of
    `sae-version`, else every feature (the newest library)."""
    feats, version = section.get("sae-features"), section.get("sae-version")
    if feats is not None and version is not None:
        raise ConfigError(f"{where}: set `sae-version` or `sae-features`, not both")
    if feats is not None:
        if isinstance(feats, str) or not isinstance(feats, list):
            raise ConfigError(
                f'{where}: `sae-features` must be a list such as ["normalize-input", "mix-shards"]'
            )
        if not all(isinstance(f, str) for f in feats):
            raise ConfigError(
                f"{where}: `sae-features` must be a list of strings such as "
                f'["normalize-input", "mix-shards"]'
            )
        unknown = sorted(str(f) for f in feats if f not in ALL_FEATURES)
        if unknown:
            raise ConfigError(
                f"{where}: unknown sae feature(s) {unknown}; known: {sorted(ALL_FEATURES)}"
            )
        return frozenset(feats)
    if version is not None:
        try:
            if not isinstance(version, str):
                raise ValueError(f"`sae-version` must be a string, not {_kind(version)}")
            return features_for_version(version)
        except ValueError as exc:
            raise ConfigError(f'{where}: {exc}; write e.g. sae-version = "0.1.0"') from None
    return ALL_FEATURES


def sae_features_of(pyproject_text: str, where: str = "pyproject.toml") -> frozenset[str]:
    """The `sae` target of a pyproject's `[tool.recipegen]` (every feature when unset)."""
    try:
        data = tomllib.loads(pyproject_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    return _sae_target(_tool_recipegen(data, where), f"{where} [tool.recipegen]")


_FOUND: dict[tuple[str, int, int], dict] = {}


def _found_toml(pyproject: Path) -> dict | None:
    """A pyproject.toml lint found next to a file (its `sae` pin, its dependency floors), parsed
    once per run; None when it is absent, a symlink (never followed: nobody asked us to read
    it), or not TOML. Read-only for callers."""
    try:
        if pyproject.is_symlink() or not pyproject.is_file():
            return None
        st = pyproject.stat()
        key = (str(pyproject), st.st_mtime_ns, st.st_size)
        if key not in _FOUND:
            _FOUND[key] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        return _FOUND[key]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def pin_of(pyproject: Path) -> frozenset[str] | None:
    """The `sae` target a pyproject.toml pins (`sae-version`/`sae-features`), else None. A file
    that is not TOML pins nothing; a bad pin raises ConfigError naming the file and key."""
    data = _found_toml(pyproject)
    if data is None:
        return None
    section = _tool_recipegen(data, str(pyproject))
    if not ({"sae-version", "sae-features"} & set(section)):
        return None
    return _sae_target(section, f"{pyproject} [tool.recipegen]")


_REQ = compile_lazy(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")
_FLOOR_OPS = compile_lazy(r"^\s*(>=|==|~=)\s*v?(\d+(?:\.\d+)*)")


def dependency_floors(data: dict) -> dict[str, tuple[int, ...]]:
    """{package: lowest version its `[project] dependencies` allow} for pins with a lower bound
    (`torch>=2.6`, `torch==2.13.0`, `torch~=2.6`); packages without one are left out."""
    project = data.get("project")
    deps = project.get("dependencies") if isinstance(project, dict) else None
    out: dict[str, tuple[int, ...]] = {}
    for dep in deps if isinstance(deps, list) else ():
        m = _REQ.match(dep) if isinstance(dep, str) else None
        if not m:
            continue
        floors = [
            tuple(int(x) for x in f.group(2).split("."))
            for spec in m.group(2).split(",")
            if (f := _FLOOR_OPS.match(spec))
        ]
        if floors:
            out[m.group(1).lower().replace("_", "-")] = max(floors)
    return out


def floors_of(pyproject: Path) -> dict[str, tuple[int, ...]] | None:
    """`dependency_floors` of a pyproject.toml that has a `[project]` table, else None."""
    data = _found_toml(pyproject)
    if data is None:
        return None
    return dependency_floors(data) if isinstance(data.get("project"), dict) else None
