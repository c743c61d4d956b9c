"""Lint engine: discover files, build facts once, run the selected rules, apply noqa."""

from __future__ import annotations

import dataclasses
import errno
import gc
import io
import os
import re
import stat
import tokenize
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from recipegen.validators import bash_check, facts_python
from recipegen.validators.config import (
    LintConfig,
    dependency_floors,
    floors_of,
    pin_of,
    sae_features_of,
)
from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Ctx, Finding
from recipegen.validators.registry import all_rules, get_rule
from recipegen.validators.shell_scan import ShellSyntaxError

from recipegen.safe_read import FileRefused, read_regular

if TYPE_CHECKING:  # shell facts are imported when a shell file (or a launch) needs them
    from recipegen.validators.facts_shell import Word

_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}
# Directives are matched only against real comments (Python: tokenize COMMENT tokens; shell: the
# comments the shell scanner found), never against string contents; both case-insensitively, so
# the cheap prefilter (`_MARKERS` in the lower-cased text) agrees with the regexes.
_NOQA = compile_lazy(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
_RECIPEGEN_OWN = compile_lazy(r"^(\.recipegen|\..+\.backup-\d{8}T\d{6}Z(-\d+)?)$")
_DISABLE = compile_lazy(r"#\s*recipegen:\s*disable(?P<file>-file)?=(?P<codes>[A-Za-z0-9, ]+)", re.I)
_MARKERS = ("noqa", "recipegen:")
_MAX_BYTES = 5_000_000
_CACHE_UNITS = 32  # parsed files kept for the launch scripts that call them (bounded memory)
_GC_GEN0 = 50_000  # collect young objects every 50k allocations instead of 700 while linting


# Fact containers compare by identity and keep object's repr: generating __eq__/__repr__ for
# every dataclass was a measurable part of start-up.
@dataclass(eq=False, repr=False)
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    errors: list[str] = field(default_factory=list)  # internal rule errors (exit status 2)


def file_kind(path: str, head: bytes) -> str | None:
    """'python', 'shell' or None from the suffix or a shebang."""
    suffix = PurePosixPath(path).suffix
    if suffix in (".py", ".pyi"):
        return "python"
    if suffix in (".sh", ".bash", ".sbatch"):
        return "shell"
    if head.startswith(b"#!"):
        first = head.split(b"\n", 1)[0]
        if re.search(rb"\b(ba)?sh\b", first):
            return "shell"
        if b"python" in first:
            return "python"
    return None


class FileReader:
    """Reads the files lint finds: regular files only (opened with O_NOFOLLOW|O_NONBLOCK, size
    checked on the opened descriptor before reading), and symlinks only when they resolve to a
    file inside the linted tree (`roots`). Paths the user named are followed wherever they
    point, but must still be regular files."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = sorted({os.path.realpath(r) for r in roots})

    def _inside(self, real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots)

    def target(self, p: Path, explicit: bool = False) -> str:
        """The path to open for `p`; FileRefused for a symlink that must not be followed."""
        if not os.path.islink(p):
            return str(p)
        try:
            os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileRefused(p, "is a symbolic link loop") from None
            raise FileRefused(p, "is a dangling symbolic link") from None
        real = os.path.realpath(p)
        if not explicit and not self._inside(real):
            raise FileRefused(p, "is a symbolic link out of the linted tree (not followed)")
        return real

    def read(self, p: Path, explicit: bool = False) -> bytes:
        """The file's bytes; FileRefused (symlink, special file, over the size cap) or OSError."""
        return read_regular(self.target(p, explicit), _MAX_BYTES)

    def head(self, p: Path, explicit: bool = False) -> bytes:
        """The first bytes (for a shebang); b"" when the file cannot or must not be read."""
        try:
            return read_regular(self.target(p, explicit), _MAX_BYTES, head=128)
        except (FileRefused, OSError):
            return b""


_SPECIAL_TREES = ("/proc", "/sys", "/dev")


class NothingToLint(ValueError):
    """A path named on the command line gave no file because `exclude` matched it."""


def _special(real: str) -> bool:
    return any(real == t or real.startswith(t + "/") for t in _SPECIAL_TREES)


def _depth(rel: str) -> int:
    return 0 if rel in ("", ".") else len(rel.split("/"))


def discover(
    paths: Iterable[Path], config: LintConfig, reader: FileReader | None = None
) -> list[tuple[Path, str]]:
    """Files to lint under `paths`, sorted, deduplicated. A named path is linted even when an
    `exclude` pattern matches it (ruff's convention) unless `config.force_exclude`; below it,
    excluded folders are pruned. Walks stay on the named folder's filesystem (never into
    /proc, /sys, /dev or another mount), skip FIFOs, sockets and devices, and never descend into
    symlinked directories; symlinked files are kept (by name) and refused or followed when read.
    NothingToLint when a named path gives no file because an exclude matched."""
    paths = list(paths)
    reader = reader or FileReader([config.root, *paths])
    out: dict[Path, str] = {}
    root = os.path.realpath(config.root)
    for p in paths:
        rel = _rel(p, config.root, root)
        named = 0 if config.force_exclude else _depth(rel)
        if config.force_exclude and config.excluding(rel, 0) is not None:
            continue  # asked for: excluded even when named (pre-commit passes every file)
        if os.path.lexists(p) and not p.is_dir():
            kind = file_kind(p.name, reader.head(p, explicit=True))
            if kind:
                out[p] = kind
            continue
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        if _special(os.path.realpath(p)):
            raise NothingToLint(
                f"{p}: a special filesystem ({os.path.realpath(p)}), not source files; "
                "name the recipe folder to lint"
            )
        before, excluded_by = len(out), None
        top_dev = os.stat(p).st_dev
        for dirpath, dirnames, filenames in os.walk(p):
            keep = []
            for d in sorted(dirnames):
                if d in _SKIP_DIRS or d.endswith(".egg-info") or _RECIPEGEN_OWN.match(d):
                    continue  # + recipegen's state folder and `new --force` backups
                dp = os.path.join(dirpath, d)
                try:
                    st = os.lstat(dp)
                except OSError:
                    continue
                if st.st_dev != top_dev or _special(os.path.realpath(dp)):
                    continue  # another filesystem (/proc, /sys, a mount): never walked
                pat = config.excluding(_rel(Path(dp), config.root, root), named)
                if pat is not None:
                    excluded_by = excluded_by or pat
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                fp = Path(dirpath) / name
                try:
                    mode = os.lstat(fp).st_mode
                except OSError:
                    continue
                if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                    continue  # FIFO, socket, device: never opened
                kind = file_kind(name, reader.head(fp) if "." not in name else b"")
                if not kind:
                    continue
                pat = config.excluding(_rel(fp, config.root, root), named)
                if pat is not None:
                    excluded_by = excluded_by or pat
                    continue
                out[fp] = kind
        if len(out) == before and excluded_by is not None and not config.force_exclude:
            raise NothingToLint(_excluded_msg(p, excluded_by, config))
    return sorted(out.items())


def _excluded_msg(p: Path, pattern: str, config: LintConfig) -> str:
    where = f"{config.path} " if getattr(config, "path", None) else ""
    return (
        f"{p}: nothing to lint: every file under it matches the exclude pattern {pattern!r} "
        f"({where}[tool.recipegen.lint] exclude); name the files directly or change the pattern"
    )


def _rel(p: Path, root: Path, root_resolved: str | None = None) -> str:
    """`p` relative to `root`, directories resolved (a symlinked file keeps its own name)."""
    p = Path(p)
    real = os.path.join(os.path.realpath(p.parent), p.name) if p.name else os.path.realpath(p)
    base = root_resolved or os.path.realpath(root)
    if real == base:
        return "."
    if real.startswith(base.rstrip(os.sep) + os.sep):
        return PurePosixPath(Path(os.path.relpath(real, base))).as_posix()
    return Path(p).as_posix()


@contextmanager
def _gc_batched() -> Iterator[None]:
    """Collect garbage in larger batches while linting, then restore the thresholds.

    Each file allocates tens of thousands of AST/bashlex objects that live until the file is
    done; at CPython's default threshold (700) they are traversed by many young collections and
    promoted into the old generation, which full collections rescan. Reference counting frees
    almost all of them; the few cycles (bashlex's parser objects) still go in larger batches.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], _GC_GEN0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class _Unit:
    """One file: its text (or decode error), kind and facts (or the parse error)."""

    def __init__(self, display: str, key: str, kind: str, data: bytes, bash_verdict=None) -> None:
        self.display, self.key, self.kind, self.data = display, key, kind, data
        self.facts = None
        self.error: tuple[int, str] | None = None
        self.text = ""
        if len(data) > _MAX_BYTES:
            self.error = (1, f"file is larger than {_MAX_BYTES} bytes; not linted")
            return
        if b"\x00" in data:
            self.error = (data[: data.index(b"\x00")].count(b"\n") + 1, "file contains NUL bytes")
            return
        try:
            self.text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.error = (line, f"file is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8")
            return
        try:
            if kind == "python":
                self.facts = facts_python.build(display, self.text)
            else:
                from recipegen.validators import facts_shell

                self.facts = facts_shell.build(display, self.text)
                bad = (bash_verdict or bash_check.syntax_error)(self.text)
                if bad is not None:
                    self.facts, self.error = (
                        None,
                        (bad[0], f"shell syntax error (bash -n): {bad[1]}"),
                    )
        except SyntaxError as exc:
            self.error = (exc.lineno or 1, f"syntax error: {exc.msg}")
        except ShellSyntaxError as exc:
            self.error = (exc.line, f"shell syntax error: {exc}")
        except RecursionError:
            self.error = (1, "nesting too deep to parse")
        except MemoryError:
            self.error = (
                1,
                f"out of memory parsing this file ({len(data):,} bytes); "
                "split it, or lint it where more memory is available",
            )
        except ValueError as exc:
            self.error = (1, f"cannot parse: {exc}")


class Engine:
    """Lints a set of files; `loader(key)` returns (display, bytes) for scripts a launch calls."""

    def __init__(self, config: LintConfig, loader, strict: bool = True) -> None:
        self.config = config
        self.strict = strict
        self.errors: list[str] = []
        self.loader = loader
        self.selected = config.selected()
        self.rules = [r for r in all_rules() if r.code in self.selected and r.kind != "meta"]
        self._cache: OrderedDict[str, _Unit | None] = OrderedDict()
        self.on_disk = False  # look up each file's own pyproject.toml for its `sae` target
        self._targets_by_dir: dict[Path, frozenset[str] | None] = {}
        self._floors_by_dir: dict[Path, dict[str, tuple[int, ...]]] = {}
        self.floors: dict[str, tuple[int, ...]] = {}  # in-memory sources: their pyproject's
        self.bash_verdicts: dict[bytes, object] = {}  # shell bytes -> `bash -n` started early

    def unit(self, key: str, display: str, kind: str, data: bytes) -> _Unit:
        """The parsed file; reused when a launch script already loaded the same bytes."""
        u = self._cache.get(key)
        if u is None or (u.display, u.kind, u.data) != (display, kind, data):
            u = _Unit(display, key, kind, data, self.bash_verdicts.get(data))
        self._remember(key, u)
        return u

    def _remember(self, key: str, u: _Unit | None) -> None:
        self._cache[key] = u
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_UNITS:
            self._cache.popitem(last=False)

    def _target(self, launch_key: str, word: Word) -> object:
        raw = word.value if word.value is not None else word.raw
        if not raw.endswith(".py"):
            return None
        base = PurePosixPath(launch_key).parent
        tail = PurePosixPath(raw)
        candidates = []
        if "$" not in raw and not tail.is_absolute():
            candidates.append(str(base / tail))
        stripped = re.sub(r"^\$\{?\w+\}?/", "", raw)  # "$HERE/x.py" -> "x.py"
        if stripped != raw and "$" not in stripped:
            candidates.append(str(base / stripped))
        candidates.append(str(base / tail.name))
        for cand in candidates:
            cand = os.path.normpath(cand)
            if cand in self._cache:
                u = self._cache[cand]
            else:
                loaded = self.loader(cand)
                u = None if loaded is None else _Unit(loaded[0], cand, "python", loaded[1])
            self._remember(cand, u)
            if u is not None:
                return u.facts
        return None

    def _sae_target(self, key: str) -> frozenset[str]:
        """The `sae` features a file targets: its nearest pyproject.toml that sets
        `[tool.recipegen] sae-version`/`sae-features` (a recipe pinned on its own), else the
        configuration's."""
        if not self.on_disk:
            return self.config.sae_features
        d = Path(key).resolve().parent
        chain = []
        found = None
        for cand in [d, *d.parents]:
            if cand in self._targets_by_dir:
                found = self._targets_by_dir[cand]
                break
            chain.append(cand)
            found = pin_of(cand / "pyproject.toml")
            if found is not None:
                break
        for c in chain:
            self._targets_by_dir[c] = found
        return found if found is not None else self.config.sae_features

    def _floors(self, key: str) -> dict[str, tuple[int, ...]]:
        """The dependency floors of the project a file belongs to: the nearest pyproject.toml
        with a `[project]` table."""
        if not self.on_disk:
            return self.floors
        d = Path(key).resolve().parent
        chain, found = [], None
        for cand in [d, *d.parents]:
            if cand in self._floors_by_dir:
                found = self._floors_by_dir[cand]
                break
            chain.append(cand)
            found = floors_of(cand / "pyproject.toml")
            if found is not None:
                break
        found = found or {}
        for c in chain:
            self._floors_by_dir[c] = found
        return found

    def _module(self, from_key: str, name: str, level: int) -> object:
        """Facts of a module of the same recipe imported by `from_key` (sibling files only)."""
        base = PurePosixPath(from_key).parent
        for _ in range(max(level - 1, 0)):
            base = base.parent
        rel = name.replace(".", "/")
        for cand in (f"{base / rel}.py", str(base / rel / "__init__.py")):
            cand = os.path.normpath(cand)
            if cand == os.path.normpath(from_key):
                continue
            if cand in self._cache:
                u = self._cache[cand]
            else:
                loaded = self.loader(cand)
                u = None if loaded is None else _Unit(loaded[0], cand, "python", loaded[1])
            self._remember(cand, u)
            if u is not None and u.facts is not None:
                return u.facts
        return None

    def lint_unit(self, u: _Unit) -> list[Finding]:
        raw: list[Finding] = []
        if u.error is not None:
            if "SAE901" in self.selected:
                line, msg = u.error
                raw.append(Finding("SAE901", msg, u.display, line, 1, "error"))
            return raw
        targets = {}
        # launches a Python driver assembles (a torchrun argv) are checked as shell commands
        launches = getattr(u.facts, "launches", None) if u.kind == "python" else None
        for shell in (u.facts if u.kind == "shell" else None, launches):
            for inv in shell.invocations if shell is not None else ():
                if inv.script is not None:
                    targets[id(inv)] = self._target(u.key, inv.script)

        def modules(name: str, level: int) -> object:
            return self._module(u.key, name, level)

        features = self._sae_target(u.key)
        floors = self._floors(u.key)

        for rule in self.rules:
            if rule.kind == u.kind:
                facts = u.facts
            elif rule.launch and launches is not None:
                facts = launches
            else:
                continue
            try:
                ctx = Ctx(rule, u.display, facts, targets, features, modules, floors)
                raw.extend(rule.check(ctx))
            except Exception as exc:  # a rule bug must not hide the other files' findings
                if self.strict:
                    raise
                self.errors.append(
                    f"{u.display}: internal error in {rule.code}: "
                    f"{type(exc).__name__}: {exc} (please report this)"
                )
        return self._suppress(u, raw)

    def _suppress(self, u: _Unit, findings: list[Finding]) -> list[Finding]:
        ignored = self.config.ignored_for(u.display)
        file_disabled: set[str] = set()
        directives: dict[int, tuple[set[str] | None, int]] = {}  # line -> (codes|None=all, col)
        for i, col, comment in _comments(u):
            if u.kind == "python":
                m = _NOQA.search(comment)  # also when it follows another tool's comment
                if m:
                    codes = m.group("codes")
                    directives[i] = (
                        {c.upper() for c in re.split(r"[\s,]+", codes) if c} if codes else None,
                        col + m.start(),
                    )
            m = _DISABLE.search(comment)
            if m:
                codes = {c.strip().upper() for c in m.group("codes").split(",") if c.strip()}
                if m.group("file"):
                    file_disabled |= codes
                else:
                    directives[i] = (codes, col + m.start())
        used: dict[int, set[str]] = {}
        out = []
        for f in findings:
            if any(f.code.startswith(p) for p in ignored) or f.code in file_disabled:
                continue
            d = directives.get(f.line)
            if d is not None and (d[0] is None or f.code in d[0]):
                used.setdefault(f.line, set()).add(f.code)
                continue
            out.append(f)
        if "SAE902" in self.selected and "SAE902" not in file_disabled:
            for line, (codes, col) in sorted(directives.items()):
                if codes is None:
                    continue
                unused = sorted(
                    c for c in codes if c.startswith("SAE") and c not in used.get(line, ())
                )
                unused = [c for c in unused if c in self.selected or not _known(c)]
                if unused and not any("SAE902".startswith(p) for p in ignored):
                    d = directives[line]
                    if d[0] is not None and "SAE902" in d[0]:
                        continue
                    out.append(
                        Finding(
                            "SAE902",
                            f"unused suppression for {', '.join(unused)}; remove it",
                            u.display,
                            line,
                            col,
                            "warning",
                            _line(u, line),
                        )
                    )
        return out


def _comments(u: _Unit) -> list[tuple[int, int, str]]:
    """(line, 1-based column, text from `#`) of each real comment that may hold a directive:
    Python COMMENT tokens, the shell scanner's comments; never text inside strings, docstrings
    or heredocs. Empty unless the file mentions a directive marker at all (cheap prefilter)."""
    low = u.text.lower()
    if not any(marker in low for marker in _MARKERS):
        return []
    out = []
    if u.kind == "python":
        try:
            for tok in tokenize.generate_tokens(io.StringIO(u.text).readline):
                if tok.type == tokenize.COMMENT:
                    if any(marker in tok.string.lower() for marker in _MARKERS):
                        out.append((tok.start[0], tok.start[1] + 1, tok.string))
        except (tokenize.TokenError, SyntaxError):
            pass  # the AST parsed, so this does not happen; no directives if it does
        return out
    lines = u.text.split("\n")  # the scanner counts lines at "\n" only
    for c in u.facts.comments:
        if not any(marker in c.text.lower() for marker in _MARKERS):
            continue
        text = lines[c.line - 1] if 0 < c.line <= len(lines) else ""
        end = text.rfind(c.text)  # the comment runs to the end of its line
        hash_col = text.rfind("#", 0, end if end >= 0 else len(text))
        if hash_col < 0:
            out.append((c.line, 1, "# " + c.text))
        else:
            out.append((c.line, hash_col + 1, text[hash_col:]))
    return out


def _line(u: _Unit, line: int) -> str:
    lines = u.text.split("\n")
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _known(code: str) -> bool:
    try:
        get_rule(code)
        return True
    except KeyError:
        return False


def lint_paths(paths: list[Path], config: LintConfig) -> LintResult:
    """Lint files and directories on disk."""
    with _gc_batched():
        return _lint_paths(paths, config)


def _lint_paths(paths: list[Path], config: LintConfig) -> LintResult:
    reader = FileReader([config.root, *(p for p in paths if p.is_dir())])
    explicit = {p for p in paths if not p.is_dir()}
    files = discover(paths, config, reader)
    cwd = Path.cwd()
    cwd_resolved = os.path.realpath(cwd)

    def display(p: Path) -> str:
        return _rel(p, cwd, cwd_resolved)

    def loader(key: str):
        p = Path(key)
        try:
            return display(p), reader.read(p)
        except (FileRefused, OSError):
            return None

    engine = Engine(config, loader, strict=False)
    engine.on_disk = True
    result = LintResult(files=len(files), errors=engine.errors)
    with bash_check.Prefetch() as prefetch:
        _lint_files(files, explicit, reader, engine, result, display, prefetch)
    result.findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return result


def _lint_files(files, explicit, reader, engine, result, display, prefetch) -> None:
    """Read and lint each file; `bash -n` of the next shell scripts runs while Python works."""
    shells = [i for i, (_, kind) in enumerate(files) if kind == "shell"]
    ahead = 0  # shell files whose `bash -n` was started

    def start_until(index: int) -> None:
        nonlocal ahead
        while ahead < len(shells) and shells[ahead] <= index + prefetch.window:
            p = files[shells[ahead]][0]
            try:
                data = reader.read(p, explicit=p in explicit)
            except (FileRefused, OSError):
                data = None
            if data is not None and len(data) <= _MAX_BYTES and b"\x00" not in data:
                try:
                    engine.bash_verdicts[data] = prefetch.start(data.decode("utf-8-sig"))
                except UnicodeDecodeError:
                    pass
            ahead += 1

    for index, (p, kind) in enumerate(files):
        start_until(index)
        try:
            data = reader.read(p, explicit=p in explicit)
        except FileRefused as exc:
            if exc.reason.startswith("is larger than"):
                msg = f"file is larger than {_MAX_BYTES} bytes; not linted"
            else:
                msg = f"not linted: {exc.reason}"
            result.findings.append(Finding("SAE901", msg, display(p), 1))
            continue
        except OSError as exc:
            result.findings.append(
                Finding("SAE901", f"cannot read file: {exc.strerror}", display(p), 1)
            )
            continue
        key = os.path.normpath(str(p))
        u = engine.unit(key, display(p), kind, data)
        engine.bash_verdicts.pop(data, None)
        result.findings.extend(engine.lint_unit(u))


def lint_sources(
    sources: Mapping[str, str | bytes],
    config: LintConfig | None = None,
    select: Iterable[str] | None = None,
) -> list[Finding]:
    """Lint in-memory files {relative path: content} (used by the rule examples and tests)."""
    config = config or LintConfig()
    if select is not None:
        config = LintConfig(
            select=list(select),
            per_file_ignores=config.per_file_ignores,
            sae_features=config.sae_features,
        )
    blobs = {
        os.path.normpath(k): (v.encode() if isinstance(v, str) else v) for k, v in sources.items()
    }
    if "pyproject.toml" in blobs:  # an example recipe that pins its `sae` release
        features = sae_features_of(blobs["pyproject.toml"].decode("utf-8"))
        config = dataclasses.replace(config, sae_features=features)

    def loader(key: str):
        return (key, blobs[key]) if key in blobs else None

    engine = Engine(config, loader)
    if "pyproject.toml" in blobs:
        import tomllib

        try:
            engine.floors = dependency_floors(tomllib.loads(blobs["pyproject.toml"].decode()))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            pass
    out: list[Finding] = []
    for key, data in blobs.items():
        kind = file_kind(key, data[:128])
        if kind is None:
            continue
        out.extend(engine.lint_unit(engine.unit(key, key, kind, data)))
    return sorted(out, key=lambda f: (f.path, f.line, f.col, f.code))
