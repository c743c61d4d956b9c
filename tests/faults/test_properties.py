"""Property-based checks (hypothesis) of the input front ends: the spec loader, the `--set`
parser, the lint front ends (Python and shell), and a recipe's state folder (`.recipegen/`) in
any shape a clone or an accident can leave it.

Each example runs under a wall-clock guard and a tracemalloc peak bound, so an input that makes
a front end hang or balloon fails the example instead of stalling CI. Fixed seed
(`derandomize`), no example database, modest example counts: the module runs in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import tempfile
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from recipegen.generator.errors import GeneratorError, SpecError
from recipegen.generator.spec import (
    RawSpec,
    _from_yaml_text,
    apply_overrides,
    load_builtin,
    parse_override,
    spec_sha256,
    validate,
)
from recipegen.generator.yamlload import MAX_DEPTH
from recipegen.validators.engine import lint_sources

SECONDS = 5  # per example: generous on a loaded machine; a hang is orders of magnitude more
PEAK_BYTES = 64 * 2**20
SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Bounded(AssertionError):
    pass


@contextmanager
def bounded(seconds: float = SECONDS, peak_bytes: int = PEAK_BYTES):
    """Fail when the block runs longer than `seconds` or allocates more than `peak_bytes`."""

    def alarm(signum, frame):
        raise Bounded(f"example ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < peak_bytes, f"example allocated {peak} bytes at peak"
    finally:
        tracemalloc.stop()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def assert_printable_problems(exc: SpecError) -> None:
    """Every problem line is safe to print: no control or surrogate characters reach a terminal."""
    for p in exc.problems:
        line = str(p)
        assert line.isprintable(), line
        line.encode("utf-8")


# ---------------------------------------------------------------- spec loader

KEYS = st.sampled_from(
    ["name", "description", "extraction", "sizes", "sae", "kind", "top_k", "8M", "x\x1b[31m"]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "a\udfffb", "\x00", "*alias", "&anchor", "!!python/name:os"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def _yaml_text(value) -> str:
    """A YAML document for `value` (JSON is YAML; surrogates stay as \\u escapes)."""
    return json.dumps(value, ensure_ascii=True)


def _load_spec(text: str) -> dict | None:
    try:
        raw = _from_yaml_text(text, "spec.yaml", "spec.yaml")
        spec = validate(raw)
    except SpecError as exc:
        assert_printable_problems(exc)
        return None
    except GeneratorError:
        return None
    json.dumps(spec, ensure_ascii=False).encode("utf-8")  # every string is valid Unicode
    spec_sha256(spec)
    return spec


@SETTINGS
@given(data=st.dictionaries(KEYS, VALUES, max_size=6))
def test_spec_loader_structured_documents(data):
    with bounded():
        _load_spec(_yaml_text(data))


@SETTINGS
@given(text=st.text(max_size=400))
def test_spec_loader_arbitrary_text(text):
    with bounded():
        _load_spec(text)


@settings(SETTINGS, max_examples=40)  # each deep example scans ~1 KB of look-ahead: slowest
@given(
    depth=st.integers(min_value=1, max_value=1500),
    opener=st.sampled_from(["[", "{a: ", "- ", "? "]),
)
def test_spec_loader_deep_nesting_is_bounded(depth, opener):
    closer = {"[": "]", "{a: ": "}", "- ": "", "? ": ""}[opener]
    if opener == "- ":
        body = "".join("  " * i + "-\n" for i in range(min(depth, 200))) + "  " * depth + "x\n"
    else:
        body = opener * depth + "1" + closer * depth
    with bounded():
        try:
            _from_yaml_text("description: " + body, "deep.yaml", "deep.yaml")
        except SpecError as exc:
            assert_printable_problems(exc)
            if depth > MAX_DEPTH + 2 and opener == "[":
                assert "nested more than" in str(exc)


@SETTINGS
@given(levels=st.integers(min_value=1, max_value=12), width=st.integers(min_value=1, max_value=12))
def test_spec_loader_refuses_alias_bombs_of_any_shape(levels, width):
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    with bounded(), pytest.raises(SpecError, match="anchors and aliases are not allowed"):
        _from_yaml_text("\n".join(lines) + "\n", "bomb.yaml", "bomb.yaml")


# ---------------------------------------------------------------- --set parser

BASE = load_builtin("esm2")
SET_KEYS = st.sampled_from(
    [
        "sae.top_k",
        "sae.lr",
        "description",
        "extraction.checkpoint",
        "sizes.8M.n_layers",
        "sizes.new.hidden_dim",
        "launch.wandb",
        "smoke",
        "",
    ]
) | st.text(max_size=15)


@SETTINGS
@given(key=SET_KEYS, value=st.text(max_size=60) | SCALARS.map(_yaml_text))
def test_set_parser_never_crashes(key, value):
    item = f"{key}={value}"
    with bounded():
        try:
            raw = apply_overrides(BASE, [item])
            spec = validate(raw)
        except SpecError as exc:
            assert_printable_problems(exc)
            return
        json.dumps(spec, ensure_ascii=False).encode("utf-8")
        assert isinstance(raw, RawSpec)


@SETTINGS
@given(n=st.integers(min_value=1, max_value=10**6))
def test_set_parser_reads_integers_exactly(n):
    path, value = parse_override(f"sae.top_k={n}")
    assert path == ("sae", "top_k") and value == n and type(value) is int


# ---------------------------------------------------------------- lint front ends

BAD_LOAD = "import torch\nx = torch.load('a.pt')\n"
SHELL_BAD = "python train.py --cache-dir c --lr-schedule cosine --max-steps 20000\n"
DIRECTIVES = st.sampled_from(
    [
        "# recipegen: disable-file=SAE306,SAE201",
        "# recipegen: disable=SAE306",
        "# noqa",
        "# NOQA: SAE306",
        "#noqa:SAE201",
        "# RECIPEGEN: DISABLE-FILE=SAE201",
    ]
)
TEXT_AROUND = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=20)


def _lint(sources: dict) -> list:
    with bounded():
        return lint_sources(sources)


@SETTINGS
@given(directive=DIRECTIVES, before=TEXT_AROUND, after=TEXT_AROUND, docstring=st.booleans())
def test_python_directives_inside_strings_never_suppress(directive, before, after, docstring):
    content = before + directive + after
    literal = '"""' + content.replace("\\", "\\\\").replace('"', '\\"') + '"""'
    head = literal + "\n" if docstring else f"MSG = {content!r}\n"
    codes = [f.code for f in _lint({"train.py": head + BAD_LOAD})]
    assert "SAE306" in codes


@SETTINGS
@given(directive=DIRECTIVES, before=TEXT_AROUND, after=TEXT_AROUND, heredoc=st.booleans())
def test_shell_directives_inside_quotes_never_suppress(directive, before, after, heredoc):
    content = before + directive + after
    if heredoc:
        body = content.replace("\n", " ")
        head = f"cat <<'EOF_X'\n{body}\nEOF_X\n"
    else:
        head = f"echo {shlex.quote(content)}\n"
    codes = [f.code for f in _lint({"launch.sh": head + SHELL_BAD})]
    assert "SAE201" in codes or "SAE901" in codes  # a NUL or similar makes the file unparsable


@SETTINGS
@given(data=st.binary(max_size=600), kind=st.sampled_from(["train.py", "launch.sh"]))
def test_lint_front_ends_accept_any_bytes(data, kind):
    for f in _lint({kind: data}):
        assert f.line >= 1 and f.code.startswith("SAE")


# ---------------------------------------------------------------- the state folder

# A pristine esm2 recipe (rendered once), copied per example; a `victim` folder beside it that
# links in the state folder point to. Whatever the state folder holds, every command either
# works or raises GeneratorError; nothing outside the recipe changes; a staged write is applied
# only when it is the one shape recipegen itself leaves (this folder, hashes matching).
PWNED = b"#!/bin/bash\ntouch pwned\n"
NODE = st.sampled_from(["dir", "link-abs", "link-rel", "file", "absent"])
ENTRY_KIND = st.sampled_from(["good", "garbage", "link", "fifo", "dir", "huge"])
PENDING_MODE = st.sampled_from(
    ["none", "valid", "other-folder", "wrong-sha", "extra-entry", "garbage-journal", "link", "file"]
)
_PRISTINE: dict = {}


def _pristine() -> tuple[Path, dict, dict]:
    if not _PRISTINE:
        from recipegen.generator.generate import generate
        from recipegen.generator.write import write

        root = Path(tempfile.mkdtemp(prefix="recipegen-state-prop-"))
        write(root / "esm2_sae", generate("esm2").files)
        _PRISTINE.update(
            root=root,
            files=generate("esm2", overrides=["sae.top_k=16"]).files,
            record=yaml.safe_load((root / "esm2_sae" / "recipe.yaml").read_text()),
        )
    return _PRISTINE["root"] / "esm2_sae", _PRISTINE["files"], _PRISTINE["record"]


def _node(path: Path, kind: str, victim: Path) -> bool:
    """Make `path` a folder, a link to `victim` (absolute or relative), a file or nothing;
    True when it is a real folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    if kind == "dir":
        path.mkdir(exist_ok=True)
    elif kind == "link-abs":
        path.symlink_to(victim)
    elif kind == "link-rel":
        path.symlink_to(os.path.relpath(victim, path.parent))
    elif kind == "file":
        path.write_bytes(b"not a folder\n")
    return kind == "dir"


def _entry(path: Path, kind: str, data: bytes, victim: Path) -> None:
    if kind == "good":
        path.write_bytes(data)
    elif kind == "garbage":
        path.write_bytes(data[::-1] + b"x")
    elif kind == "link":
        path.symlink_to(victim / "precious.txt")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    else:
        with open(path, "wb") as fh:
            fh.truncate(3 * 2**30)


def _build_state(recipe: Path, victim: Path, layout) -> tuple[bool, bool]:
    """Shape recipe/.recipegen per `layout`; (it holds a trusted pending write, `check` must
    report something)."""
    state_kind, renders_kind, entries, pending_mode, extras = layout
    state = recipe / ".recipegen"
    if not _node(state, state_kind, victim):
        return False, state_kind != "absent"
    odd = renders_kind in ("link-abs", "link-rel", "file") or "notes" in extras
    odd = odd or pending_mode != "none"
    renders = state / "renders"
    if _node(renders, renders_kind, victim):
        digests = sorted(set(_PRISTINE["record"]["files"].values()))
        for i, (kind, pick) in enumerate(entries):
            digest = (
                digests[pick % len(digests)] if i % 2 else hashlib.sha256(b"%d" % i).hexdigest()
            )
            target = renders / f"{digest}.txt"
            if target.exists() or target.is_symlink():
                continue
            data = (recipe / "README.md").read_bytes()
            _entry(target, kind, data, victim)
            odd = odd or not (kind == "good" and hashlib.sha256(data).hexdigest() == digest)
    for name in extras:
        (state / name).write_bytes(b"x")
    if pending_mode == "none":
        return False, odd
    pending = state / "pending"
    if pending_mode in ("link", "file"):
        _node(pending, "link-abs" if pending_mode == "link" else "file", victim)
        return False, odd
    pending.mkdir()
    (pending / "launch.sh").write_bytes(PWNED)
    st_ = os.stat(recipe)
    journal = {
        "write": ["launch.sh"],
        "delete": [],
        "sha256": {"launch.sh": hashlib.sha256(PWNED).hexdigest()},
        "recipe_dir": [st_.st_dev, st_.st_ino],
    }
    if pending_mode == "other-folder":
        journal["recipe_dir"] = [st_.st_dev, st_.st_ino + 1]
    elif pending_mode == "wrong-sha":
        journal["sha256"]["launch.sh"] = "0" * 64
    elif pending_mode == "extra-entry":
        (pending / "torch.py").write_bytes(b"x = 1\n")
    text = json.dumps(journal) if pending_mode != "garbage-journal" else '{"write": ["../x"]'
    (pending / "journal.json").write_text(text)
    return pending_mode == "valid", odd


LAYOUTS = st.tuples(
    NODE,
    NODE,
    st.lists(st.tuples(ENTRY_KIND, st.integers(min_value=0, max_value=20)), max_size=5),
    PENDING_MODE,
    st.lists(st.sampled_from(["lock", "notes", "pending.tmp-1"]), max_size=2, unique=True),
)


# Each example renders the recipe ~6 times (about a second): few examples, and no shrinking (it
# would replay hundreds of them); a failure reports the layout as generated.
@settings(SETTINGS, max_examples=20, phases=[Phase.explicit, Phase.generate])
@given(layout=LAYOUTS)
def test_any_state_folder_is_never_followed_and_never_trusted_unverified(layout):
    from recipegen.generator.check import diff_recipe
    from recipegen.generator.diff import edits_diff
    from recipegen.generator.update import update
    from recipegen.generator.write import write

    pristine, files, _ = _pristine()
    with tempfile.TemporaryDirectory(prefix="recipegen-state-") as tmp:
        root = Path(tmp)
        recipe = root / "out" / "esm2_sae"
        shutil.copytree(pristine, recipe, symlinks=True)
        victim = root / "victim"
        victim.mkdir()
        (victim / "precious.txt").write_bytes(b"keep me\n")
        (victim / ("0" * 64 + ".txt")).write_bytes(b"looks like a render\n")
        before = {p.name: p.read_bytes() for p in victim.iterdir()}
        trusted, odd = _build_state(recipe, victim, layout)
        findings = None
        with bounded(seconds=60, peak_bytes=256 * 2**20):
            for step in ("check", "diff", "new", "update"):
                try:
                    if step == "check":
                        findings = diff_recipe(recipe)
                    elif step == "diff":
                        edits_diff(recipe)
                    elif step == "new":
                        write(recipe, files)
                    else:
                        update(recipe, overrides=["sae.top_k=24"])
                except GeneratorError as exc:
                    str(exc).encode("utf-8")
        assert {p.name: p.read_bytes() for p in victim.iterdir()} == before
        assert sorted(os.listdir(root)) == ["out", "victim"]
        assert sorted(os.listdir(root / "out")) == ["esm2_sae"]
        if odd:
            assert findings, layout  # check reported the state folder
        launch = recipe / "launch.sh"
        if not trusted and launch.is_file() and not launch.is_symlink():
            assert b"touch pwned" not in launch.read_bytes()
