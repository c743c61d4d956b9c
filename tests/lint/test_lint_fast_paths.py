"""The lint speed-ups keep results identical: the shell fast tokenizer agrees with bashlex, the
per-run file cache is bounded and keyed on content, and GC thresholds are restored."""

from __future__ import annotations

import gc
import re
import shlex
from pathlib import Path

import bashlex
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recipegen.validators import engine, facts_shell
from recipegen.validators.config import LintConfig
from recipegen.validators.engine import Engine, lint_paths, lint_sources
from recipegen.validators.registry import all_rules
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.shell_scan import scan

ROOT = Path(__file__).resolve().parents[2]


def _bashlex_words(body: str) -> list[str]:
    parts = bashlex.parse(body)
    assert len(parts) == 1 and parts[0].kind == "command", body
    return [w.word for w in parts[0].parts if w.kind in ("word", "assignment")]


def _reference_words_of(texts: list[str]) -> list[tuple[list[str], bool]]:
    """`words_of` without the fast path: every eligible statement goes through bashlex."""
    prefixes, bodies = [], []
    for t in texts:
        m = facts_shell._KW_PREFIX.match(t)
        prefixes.append(m.group(0).split() if m else [])
        bodies.append(t[m.end() :] if m else t)
    parsed: list = [None] * len(texts)
    eligible = [i for i, b in enumerate(bodies) if b and not facts_shell._NO_BASHLEX.search(b)]
    facts_shell._parse_group(bodies, eligible, parsed)
    return [
        (p + parsed[i], False) if parsed[i] is not None else (p + facts_shell._shlex_words(b), True)
        for i, (p, b) in enumerate(zip(prefixes, bodies, strict=True))
    ]


def _shell_sources() -> list[str]:
    texts = [p.read_text() for p in (ROOT / "tests" / "lint" / "fixtures").rglob("*.sh")]
    texts += [p.read_text() for p in (ROOT / "recipes").rglob("*.sh")]
    for rule in all_rules():
        for ex in (*rule.VALID, *rule.INVALID):
            if isinstance(ex, dict):
                texts += [v for k, v in ex.items() if k.endswith(".sh")]
            elif rule.kind == "shell":
                texts.append(ex)
    return texts


def test_fast_words_match_bashlex_on_real_scripts():
    fast = 0
    for text in _shell_sources():
        try:
            segs = [s.text for s in scan(text)[0]]
        except facts_shell.ShellSyntaxError:
            continue
        assert facts_shell.words_of(segs) == _reference_words_of(segs)
        fast += sum(facts_shell._fast_words(s) is not None for s in segs)
    assert fast > 100  # the fast path is really taken on recipe-style scripts


@pytest.mark.parametrize(
    "body,words",
    [
        ('X="${X:-$D_X}"', ["X=${X:-$D_X}"]),
        ('python "$HERE/a.py" --c "$HERE/c d"   --n', ["python", "$HERE/a.py", "--c", "$HERE/c d", "--n"]),
        ('D=""', ["D="]),
        ("echo a\"b c\"d 'e f'", ["echo", "ab cd", "e f"]),
        ('"$@"', ["$@"]),
    ],
)  # fmt: skip
def test_fast_words_examples(body, words):
    assert facts_shell._fast_words(body) == words == _bashlex_words(body)


@pytest.mark.parametrize(
    "body",
    ["echo a > f", "echo $(date)", "echo `x`", "echo a\\ b", "echo {a,b}", "if x", "in x",
     "echo ~/x", "echo 'a", 'echo "a\\"b"', "echo ${A[@]}", "echo #c", "echo a*b", "D=''",
     "echo 'a''b'", "echo \"a\"'b'", "echo '$x'"],
)  # fmt: skip
def test_fast_words_declines_what_needs_bashlex(body):
    assert facts_shell._fast_words(body) is None


_VAR = st.sampled_from(
    ["$X", "$HERE", "${X}", "${NPROC:-1}", "${A:=b/c}", "${D:-$E_F}", "$@", "$1", "$#", "$$",
     "$?", "$*", "${X:?m}", "${X:+y}", "${X-}", "${#X}", "$", "${X", "${X:-a b}", "${X[@]}"]
)  # fmt: skip
_PLAIN = st.text("abcXYZ_019./=:,@%+-é", min_size=1, max_size=6)
_DQ = st.lists(st.one_of(st.text("ab c'#{}~*;&|<>()=", max_size=4), _VAR), max_size=3).map(
    lambda xs: '"' + "".join(xs) + '"'
)
_SQ = st.text('ab $"c#;&|<>(){}\\', max_size=5).map(lambda s: f"'{s}'")
_NOISE = st.sampled_from(["<", "(", "\\", "`", "{", "~", "*", "!", "#", "$", "&"])
_WORD = st.lists(st.one_of(_PLAIN, _VAR, _DQ, _SQ), min_size=1, max_size=3).map("".join)
_STATEMENT = st.tuples(
    st.lists(_WORD, min_size=1, max_size=5),
    st.sampled_from([" ", "  ", "\t", " \t "]),
    st.one_of(st.just(""), _NOISE),
).map(lambda t: t[1].join(t[0]) + t[2])


@settings(max_examples=300, deadline=None)
@given(_STATEMENT)
def test_fast_words_agree_with_bashlex(body):
    words = facts_shell._fast_words(body)
    if words is not None:  # (bashlex itself can loop forever on some junk: only ask it here)
        assert words == _bashlex_words(body)
        assert facts_shell.words_of([body]) == [(words, False)]


def _reference_shlex(text: str) -> list[str]:
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=([\"'])(.*)\2", text, re.S)
    if m:
        return [f"{m.group(1)}={m.group(3)}"]
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


@settings(max_examples=300, deadline=None)
@given(_STATEMENT)
def test_shlex_fallback_fast_path_agrees_with_shlex(body):
    for text in (body, f"[[ {body} ]]", f"if {body}", f"X=({body})"):
        assert facts_shell._shlex_words(text) == _reference_shlex(text)


def test_target_parsed_once_and_reused_only_for_same_bytes(monkeypatch):
    calls = []
    real = engine.facts_python.build
    monkeypatch.setattr(engine.facts_python, "build", lambda p, t: calls.append(p) or real(p, t))
    launch = "python train.py --cache-dir c --mix-shards 2\n"
    found = lint_sources({"launch.sh": launch, "train.py": WIRED_TRAIN})
    assert calls == ["train.py"]
    assert not [f for f in found if f.code == "SAE207"]
    eng = Engine(LintConfig(), lambda key: ("train.py", WIRED_TRAIN.encode()))
    first = eng.unit("train.py", "train.py", "python", WIRED_TRAIN.encode())
    assert eng.unit("train.py", "train.py", "python", WIRED_TRAIN.encode()) is first
    assert eng.unit("train.py", "train.py", "python", b"x = 1\n") is not first


def test_evicted_target_is_parsed_again():
    sources = {"train.py": WIRED_TRAIN}
    sources.update({f"m{i:03d}.py": f"X = {i}\n" for i in range(engine._CACHE_UNITS + 8)})
    sources["launch.sh"] = "python train.py --cache-dir c --mix-shardz 2\n"
    found = lint_sources(sources, select=["SAE207"])
    assert [(f.path, f.code) for f in found] == [("launch.sh", "SAE207")]


def test_gc_thresholds_restored(tmp_path):
    before = gc.get_threshold()
    (tmp_path / "a.py").write_text("x = 1\n")
    lint_paths([tmp_path], LintConfig(root=tmp_path))
    assert gc.get_threshold() == before
    with pytest.raises(FileNotFoundError):
        lint_paths([tmp_path / "missing"], LintConfig(root=tmp_path))
    assert gc.get_threshold() == before


def test_a_parser_call_that_loops_is_cut_off_and_an_outer_timer_survives():
    import signal
    import time

    from recipegen.validators.facts_shell import BudgetExceeded, call_with_budget

    def spin(_):
        while True:
            pass

    signal.setitimer(signal.ITIMER_REAL, 0)
    outer = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 30.0)  # an outer timer, like pytest-timeout's
    try:
        start = time.monotonic()
        with pytest.raises(BudgetExceeded):
            call_with_budget(spin, None, budget_s=0.2)
        assert time.monotonic() - start < 5
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20 < remaining <= 30  # re-armed with what was left
        assert call_with_budget(len, "abc", budget_s=0.2) == 3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer)
