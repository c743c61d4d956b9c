"""Property-based checks (hypothesis) of the input front ends: the spec loader, the `--set`
parser and the lint front ends (Python and shell).

Each example runs under a wall-clock guard and a tracemalloc peak bound, so an input that makes
a front end hang or balloon fails the example instead of stalling CI. Fixed seed
(`derandomize`), no example database, modest example counts: the module runs in seconds.
"""

from __future__ import annotations

import json
import shlex
import signal
import tracemalloc
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
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
def bounded():
    """Fail when the block runs longer than SECONDS or allocates more than PEAK_BYTES."""

    def alarm(signum, frame):
        raise Bounded(f"example ran longer than {SECONDS} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS)
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < PEAK_BYTES, f"example allocated {peak} bytes at peak"
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
