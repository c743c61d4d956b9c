"""Facts of a shell script: commands, invocations (torchrun/python + script + flags), variables,
export/unset, sentinel guards, background jobs, loops, functions and comments.

Statements come from `shell_scan`; the words of each simple command from bashlex (a real bash
parser), falling back to POSIX `shlex` for constructs bashlex rejects (`[[ ]]`, arrays, `case`).
"""

from __future__ import annotations

import re
import shlex
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from recipegen.validators.bashlex_tables import import_bashlex
from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.sae_api import BOOL_FLAGS
from recipegen.validators.shell_scan import Comment, ShellSyntaxError, scan

__all__ = ["ShellFacts", "Invocation", "Command", "Word", "FlagUse", "build", "ShellSyntaxError"]

_VAR = compile_lazy(r"\$\{(\w+)(?:(:?[-=+])([^}]*))?\}|\$(\w+)")
_ASSIGN = compile_lazy(r"^([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)$", re.S)
_ARRAY = compile_lazy(r"^\s*([A-Za-z_][A-Za-z0-9_]*)(\+?)=\((.*)\)\s*$", re.S)
_ARRAY_USE = compile_lazy(r"^\$\{(\w+)\[[@*]\]\}$")
_PY = compile_lazy(r"^python(\d(\.\d+)?)?$")
_EXITS = {"exit", "return", "continue", "break"}
_KEYWORDS = {"then", "do", "else", "{", "!", "time"}
_TORCHRUN_NOVALUE = {"--standalone", "--no_python", "--no-python", "--module", "-m"}
_KNOWN_BOOL = frozenset(BOOL_FLAGS)


@dataclass
class Word:
    """A shell word: `raw` as written (quotes removed), `value` expanded (None when unknown)."""

    raw: str
    value: str | None
    conditional: bool = False  # added to an array inside an `if`

    @property
    def text(self) -> str:
        return self.value if self.value is not None else self.raw


# Fact containers compare by identity and keep object's repr: generating __eq__/__repr__ for
# every dataclass was a measurable part of start-up.
@dataclass(eq=False, repr=False)
class Guard:
    path: Word
    line: int


@dataclass(eq=False, repr=False)
class Command:
    words: list[Word]
    line: int
    end_line: int
    text: str
    background: bool = False
    guards: list[Guard] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)  # enclosing `if` conditions
    loop_vars: list[str] = field(default_factory=list)
    function: str | None = None


@dataclass(eq=False, repr=False)
class FlagUse:
    name: str
    value: Word | None
    conditional: bool = False


@dataclass(eq=False, repr=False)
class Invocation:
    """A command; for python/torchrun ones `script` is the target and `args` its arguments."""

    command: Command
    program: str  # basename of the executable, or "torchrun"/"python"
    script: Word | None
    args: list[Word]
    launcher_opts: dict[str, Word | None]
    opaque: bool = False  # arguments include an unknown expansion such as "$@"
    wrapper: str = ""  # "srun" when Slurm starts the launcher (one per task)
    target: str = ""  # what really runs: script or module name, `--no-python` program, program
    wrapper_opts: dict[str, Word | None] = field(default_factory=dict)  # srun's, by long name

    @property
    def line(self) -> int:
        return self.command.line

    def flags(self, bool_flags: set[str] | frozenset[str] = frozenset()) -> list[FlagUse]:
        """Parse `args` into flags; `bool_flags` (from the target's argparse) take no value."""
        out: list[FlagUse] = []
        i = 0
        while i < len(self.args):
            w = self.args[i]
            t = w.text
            if t.startswith("-") and not re.match(r"^-\d", t) and len(t) > 1:
                if "=" in t and t.startswith("--"):
                    name, val = t.split("=", 1)
                    raw = w.raw.split("=", 1)[1] if "=" in w.raw else val
                    out.append(FlagUse(name, Word(raw, val, w.conditional), w.conditional))
                    i += 1
                    continue
                takes_none = t in bool_flags or t in _KNOWN_BOOL or t.startswith("--no-")
                if not takes_none and i + 1 < len(self.args):
                    nxt = self.args[i + 1]
                    if not nxt.text.startswith("-") or re.match(r"^-\d", nxt.text):
                        out.append(FlagUse(t, nxt, w.conditional))
                        i += 2
                        continue
                out.append(FlagUse(t, None, w.conditional))
            i += 1
        return out

    def flag(self, *names: str) -> FlagUse | None:
        for f in self.flags():
            if f.name in names:
                return f
        return None


@dataclass(eq=False, repr=False)
class Assignment:
    name: str
    raw: str
    line: int
    conditional: bool


@dataclass(eq=False, repr=False)
class ShellFacts:
    path: str
    lines: list[str]
    commands: list[Command] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    assignments: dict[str, list[Assignment]] = field(default_factory=dict)
    arrays: dict[str, list[Word]] = field(default_factory=dict)
    exports: dict[str, int] = field(default_factory=dict)
    unsets: dict[str, int] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    if_conditions: list[tuple[int, str, list[Command]]] = field(default_factory=list)
    if_effects: list[tuple[int, tuple[str, ...], str]] = field(default_factory=list)
    used_fallback: int = 0  # segments bashlex rejected
    labels: dict[str, str] = field(default_factory=dict)  # variable -> Python text (launches.py)
    functions: set[str] = field(default_factory=set)  # shell functions the script defines

    def resolve_var(
        self, name: str, _seen: frozenset[str] = frozenset()
    ) -> tuple[str | None, bool]:
        """Value of variable `name` and whether the environment can override it."""
        assigns = self.assignments.get(name)
        if not assigns or name in _seen:
            return None, True
        raw = assigns[-1].raw
        value, overridable = self.expand(raw, _seen | {name})
        return value, overridable or any(a.conditional for a in assigns) or len(assigns) > 1

    def expand(self, raw: str, _seen: frozenset[str] = frozenset()) -> tuple[str | None, bool]:
        """Expand `$X`, `${X}`, `${X:-d}`; None when a value is unknown."""
        if "$(" in raw or "`" in raw or "$((" in raw:
            return None, True
        overridable = False
        unknown = False

        def expand_default(default: str | None) -> str:
            """`${X:-$D_X}`: the default is expanded too (the project's launch.sh style)."""
            nonlocal unknown
            if not default or "$" not in default:
                return default or ""
            val, _ = self.expand(default, _seen)
            if val is None:
                unknown = True
                return ""
            return val

        def sub(m: re.Match[str]) -> str:
            nonlocal overridable, unknown
            name = m.group(1) or m.group(4)
            op, default = m.group(2), m.group(3)
            if name in _seen and op in (":-", "-", ":=", "="):
                overridable = True
                return expand_default(default)
            val, over = self.resolve_var(name, _seen)
            if val is None:
                if op in (":-", "-", ":=", "="):
                    overridable = True
                    return expand_default(default)
                unknown = True
                return ""
            overridable = overridable or over
            return val

        out = _VAR.sub(sub, raw)
        return (None if unknown else out), overridable

    def variable_of(self, word: Word) -> str | None:
        """Canonical variable behind a word like "$NPROC" (following plain aliases)."""
        m = re.fullmatch(r"\$\{?(\w+)(?::?[-=][^}]*)?\}?", word.raw)
        if not m:
            return None
        name = m.group(1)
        seen = set()
        while name not in seen:
            seen.add(name)
            assigns = self.assignments.get(name)
            if not assigns or len(assigns) != 1:
                break
            m2 = re.fullmatch(r"\$\{?(\w+)(?::?[-=][^}]*)?\}?", assigns[0].raw)
            if not m2 or m2.group(1) == name:
                break
            name = m2.group(1)
        return name


_KW_PREFIX = compile_lazy(r"^(?:(?:then|do|else|!|\{|time)(?:\s+|$))+")
_NO_BASHLEX = compile_lazy(
    r"^(?:if|elif|while|until|for|case|function|select|fi|done|esac|\}|\[\[|\(\()(?:\s|$)|"
    r"=\(|\$\(\(|\[\[|\(\(|<<(?!<)|\(\)|^[^\s(]*\)|\$\{\w+\[|\bcase\b"
)


# Fast path: a statement made only of plain words, `$VAR`/`${VAR:-x}` expansions and simple
# quoted strings tokenizes exactly as bashlex does (split on blanks, remove the quotes), so it
# skips bashlex (~0.3 ms a statement). Anything else (redirections, globs, braces, escapes,
# substitutions, reserved words) still goes to bashlex. tests/lint check the equivalence.
# Each alternative below is decided by its first character, so a failed match backtracks in
# linear time (no nested ambiguous repeats).
_FP_VAR = r"\$(?:[A-Za-z_@*#?$0-9]|\{[A-Za-z_]\w*(?::?[-=+?](?:[\w./:,@%+\-]|\$(?=[A-Za-z_]))*)?\})"
_FP_QUOTED = rf"\"(?:[\w./=:,@%+\- ]|{_FP_VAR})*\"|'[\w./=:,@%+\- ]*'"
_FP_WORD = rf"(?:[\w./=:,@%+\-]|{_FP_VAR}|{_FP_QUOTED})+"
_FP_LINE = compile_lazy(rf"{_FP_WORD}(?:[ \t]+{_FP_WORD})*[ \t]*", re.A)
_FP_WORDS = compile_lazy(_FP_WORD, re.A)
_FP_UNQUOTE = compile_lazy(_FP_QUOTED, re.A)
# bashlex mishandles some quoting (it keeps the quotes of 'a''b', drops a backslash or a `"`
# inside single quotes): quotes in quotes, adjacent or mixed quotes and backslashes go to bashlex
_FP_QUIRKS = compile_lazy(r"''|'\"|\"'|\\")
_RESERVED = {
    "!", "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if",
    "in", "select", "then", "time", "until", "while", "{", "}", "[[", "]]",
}  # fmt: skip


def _fast_words(body: str) -> list[str] | None:
    """bashlex's words for a plain statement (see `_FP_LINE`); None when bashlex is needed."""
    if not _FP_LINE.fullmatch(body) or _FP_QUIRKS.search(body):
        return None
    words = _FP_WORDS.findall(body)
    if words[0] in _RESERVED:
        return None
    out = []
    for w in words:
        quotes = w.count('"') + w.count("'")
        if quotes > 2:
            return None  # bashlex keeps some quotes of "a"'b' and 'a'b'c'
        out.append(_FP_UNQUOTE.sub(_strip_quotes, w) if quotes else w)
    return out


def _strip_quotes(m: re.Match[str]) -> str:
    return m.group(0)[1:-1]


def _shlex_words(text: str) -> list[str]:
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=([\"'])(.*)\2", text, re.S)
    if m:  # NAME="..." that bashlex rejected: keep it one assignment word
        return [f"{m.group(1)}={m.group(3)}"]
    if _FP_LINE.fullmatch(text):  # shlex gives the same: blank-separated, quotes removed
        return [_FP_UNQUOTE.sub(_strip_quotes, w) for w in _FP_WORDS.findall(text)]
    arith = _ARITH.findall(text)  # keep each $(( ... )) one word: shlex would split its blanks
    if arith:
        text = _ARITH.sub(lambda m: f"\x00{arith.index(m.group(0))}\x00", text)
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    if arith:
        words = [_ARITH_MARK.sub(lambda m: arith[int(m.group(1))], w) for w in words]
    return words


_ARITH = compile_lazy(r"\$\(\([^()]*(?:\([^()]*\)[^()]*)*\)\)")
_ARITH_MARK = compile_lazy("\x00(\\d+)\x00")


BASHLEX_BUDGET_S = 2.0  # bashlex can loop (and grow memory) on some junk input


class BudgetExceeded(Exception):
    """A call ran past its wall-clock budget."""


def call_with_budget(fn, arg, budget_s: float = BASHLEX_BUDGET_S):
    """`fn(arg)`, interrupted by SIGALRM after `budget_s` (main thread on Unix; else unbounded).

    An interval timer already armed (e.g. pytest-timeout's) is re-armed with its remaining time.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        return fn(arg)

    def _expire(_signum, _frame):
        raise BudgetExceeded(f"over {budget_s}s")

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _expire)
    prev_delay, prev_interval = signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return fn(arg)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if prev_delay:
            left = max(prev_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, prev_interval)


def _parse_group(texts: list[str], idx: list[int], out: list) -> None:
    """Parse the statements `idx` in one bashlex call; bisect to isolate the ones it rejects."""
    if not idx:
        return
    try:
        parts = call_with_budget(import_bashlex().parse, "\n".join(texts[i] for i in idx))
        if len(parts) == len(idx) and all(p.kind == "command" for p in parts):
            for i, p in zip(idx, parts, strict=True):
                out[i] = [w.word for w in p.parts if w.kind in ("word", "assignment")]
            return
    except Exception:  # bashlex raises many exception types on unsupported syntax (or loops)
        pass
    if len(idx) > 1:
        mid = len(idx) // 2
        _parse_group(texts, idx[:mid], out)
        _parse_group(texts, idx[mid:], out)


def words_of(texts: list[str]) -> list[tuple[list[str], bool]]:
    """Words of each simple command: bashlex (batched), shlex where bashlex rejects the construct.

    Returns (words, used_fallback) per statement; leading `then`/`do`/`else` keywords are kept.
    """
    prefixes, bodies = [], []
    for t in texts:
        m = _KW_PREFIX.match(t)
        prefixes.append(m.group(0).split() if m else [])
        bodies.append(t[m.end() :] if m else t)
    parsed: list = [None] * len(texts)
    slow = []
    for i, b in enumerate(bodies):
        if b and not _NO_BASHLEX.search(b):
            parsed[i] = _fast_words(b)
            if parsed[i] is None:
                slow.append(i)
    _parse_group(bodies, slow, parsed)
    out = []
    for i, body in enumerate(bodies):
        if parsed[i] is not None:
            out.append((prefixes[i] + parsed[i], False))
        else:
            out.append((prefixes[i] + _shlex_words(body), True))
    return out


def _words(text: str) -> tuple[list[str], bool]:
    """Words of one simple command (see `words_of`)."""
    return words_of([text])[0]


def _guard_of(words: list[str], fact: ShellFacts, expand) -> tuple[Word, bool] | None:
    """(path, negated) for `[[ -f P ]]`, `[ ! -e P ]`, `test -s P`; None otherwise."""
    neg = False
    if words and words[0] == "!":
        neg, words = True, words[1:]
    if words and words[0] in ("ls", "compgen"):  # `ls "$OUT"/*.pt`, `compgen -G "$OUT/*.pt"`
        args = [w for w in words[1:] if not w.startswith(("-", ">", "2>", "&>", "/dev/"))]
        return (expand(args[0]), neg) if args else None
    if not words or words[0] not in ("[[", "[", "test"):
        return None
    rest = [w for w in words[1:] if w not in ("]]", "]")]
    if rest and rest[0] == "!":
        neg, rest = not neg, rest[1:]
    if len(rest) == 2 and rest[0] in ("-f", "-e", "-s", "-d"):
        return expand(rest[1]), neg
    return None


def build(path: str, text: str) -> ShellFacts:
    """Build the facts of shell source `text` (raises ShellSyntaxError when unbalanced)."""
    segments, comments = scan(text)
    facts = ShellFacts(path=path, lines=text.splitlines(), comments=comments)
    stack: list[dict] = []  # open if/loop/function/case blocks
    prev_guard: tuple[Word, bool, str] | None = None  # last test and the operator after it
    pending_func: str | None = None
    pipeline: list[Command] = []

    def expand(raw: str, conditional: bool = False) -> Word:
        val, _ = facts.expand(raw)
        return Word(raw, val, conditional)

    def in_if() -> bool:
        return any(b["kind"] == "if" for b in stack)

    top_sticky: list[Guard] = []  # `[[ -f X ]] && exit` guards the rest of the file

    def sticky_frame() -> list[Guard]:
        """Guards that hold for the rest of the innermost function or loop (or the file)."""
        for b in reversed(stack):
            if b["kind"] in ("func", "loop"):
                return b.setdefault("sticky", [])
        return top_sticky

    all_words = words_of([seg.text for seg in segments])
    for seg, (words, fell_back) in zip(segments, all_words, strict=True):
        facts.used_fallback += fell_back
        guard_from_chain = None
        chain_exit = None
        if prev_guard is not None:
            gpath, gneg, gop = prev_guard
            if (gop == "||" and not gneg) or (gop == "&&" and gneg):
                guard_from_chain = gpath
            elif gop == "&&" and not gneg:
                chain_exit = gpath  # `[[ -f X ]] && exit 0`: the rest is guarded, if it exits
        prev_guard = None
        # structural keywords
        while words:
            w0 = words[0]
            if w0 in ("if", "elif", "while", "until"):
                cond_words = words[1:]
                g = _guard_of(cond_words, facts, expand)
                if w0 == "elif" and stack and stack[-1]["kind"] == "if":
                    stack[-1].update(guard=g, branch="then", cond=" ".join(cond_words))
                elif w0 == "if":
                    stack.append(
                        {
                            "kind": "if",
                            "guard": g,
                            "branch": "cond",
                            "line": seg.line,
                            "cond": " ".join(cond_words),
                            "cmds": [],
                        }
                    )
                    facts.if_conditions.append((seg.line, " ".join(cond_words), stack[-1]["cmds"]))
                else:
                    stack.append({"kind": "loop", "var": None})
                words = []
                break
            if w0 == "for":
                stack.append({"kind": "loop", "var": words[1] if len(words) > 1 else None})
                words = []
                break
            if w0 == "case":
                stack.append({"kind": "case"})
                words = []
                break
            if w0 in ("fi", "done", "esac", "}"):
                if stack:
                    closed = stack.pop()
                    if closed["kind"] == "if" and closed.get("exits") and closed.get("guard"):
                        gpath, gneg = closed["guard"]
                        if not gneg:  # if [[ -f X ]]; then ...; exit; fi
                            sticky_frame().append(Guard(gpath, closed["line"]))
                words = words[1:]
                continue
            if w0 == "then" and stack and stack[-1]["kind"] == "if":
                stack[-1]["branch"] = "then"
            elif w0 == "else" and stack and stack[-1]["kind"] == "if":
                stack[-1]["branch"] = "else"
            elif w0 == "{" and pending_func:
                stack.append({"kind": "func", "name": pending_func})
                facts.functions.add(pending_func)
                pending_func = None
            elif w0 == "function" and len(words) > 1:
                pending_func = words[1].removesuffix("()")
                words = words[2:]
                continue
            elif w0 not in _KEYWORDS:
                break
            words = words[1:]
        if stack and stack[-1]["kind"] == "case" and words and words[0].endswith(")"):
            words = words[1:]
        if len(words) == 1 and words[0].endswith("()") or (len(words) == 2 and words[1] == "()"):
            pending_func = words[0].removesuffix("()")
            continue
        if len(words) >= 2 and words[-1] == "{" and words[0].endswith("()"):
            stack.append({"kind": "func", "name": words[0].removesuffix("()")})
            facts.functions.add(words[0].removesuffix("()"))
            continue
        if not words:
            continue
        if words[0] in _EXITS:
            if chain_exit is not None:
                sticky_frame().append(Guard(chain_exit, seg.line))
            if stack and stack[-1]["kind"] == "if" and stack[-1]["branch"] == "then":
                stack[-1]["exits"] = True
        if in_if():
            conds = tuple(b["cond"] for b in stack if b["kind"] == "if")
            facts.if_effects.append((seg.line, conds, seg.text))
        g = _guard_of(words, facts, expand)
        if g is not None and seg.op in ("||", "&&"):
            prev_guard = (g[0], g[1], seg.op)
        conditional = in_if()
        # assignments (array and scalar)
        m = _ARRAY.match(seg.text if words[0] not in ("local", "declare") else "")
        if m:
            name, plus, inner = m.groups()
            try:
                elems = shlex.split(inner, posix=True)
            except ValueError:
                elems = inner.split()
            lst = facts.arrays.setdefault(name, [])
            if not plus:
                lst.clear()
            lst.extend(expand(e, conditional) for e in elems)
            continue
        rest = words
        if words[0] in ("export", "local", "declare", "readonly", "typeset"):
            for w in words[1:]:
                if w.startswith("-"):
                    continue
                am = _ASSIGN.match(w)
                name = am.group(1) if am else w
                if words[0] == "export":
                    facts.exports.setdefault(name, seg.line)
                if am:
                    facts.assignments.setdefault(name, []).append(
                        Assignment(name, am.group(3), seg.line, conditional)
                    )
            continue
        if words[0] == "unset":
            for w in words[1:]:
                if not w.startswith("-"):
                    facts.unsets.setdefault(w, seg.line)
            continue
        assigns = []
        while rest and _ASSIGN.match(rest[0]):
            assigns.append(_ASSIGN.match(rest[0]))
            rest = rest[1:]
        if not rest:
            for am in assigns:
                facts.assignments.setdefault(am.group(1), []).append(
                    Assignment(am.group(1), am.group(3), seg.line, conditional)
                )
            continue
        cmd_words: list[Word] = []
        opaque = False
        for w in rest:
            am = _ARRAY_USE.match(w)
            if am and am.group(1) in facts.arrays:
                cmd_words.extend(facts.arrays[am.group(1)])
                continue
            word = expand(w)
            if w in ("$@", "$*", "${@}", "${*}") or _ARRAY_USE.match(w):
                opaque = True
                continue
            cmd_words.append(word)
        guards = list(top_sticky)
        for b in stack:
            guards.extend(b.get("sticky", ()))
        if guard_from_chain is not None:
            guards.append(Guard(guard_from_chain, seg.line))
        for b in stack:
            if b["kind"] == "if" and b.get("guard"):
                gpath, gneg = b["guard"]
                if (gneg and b["branch"] == "then") or (not gneg and b["branch"] == "else"):
                    guards.append(Guard(gpath, b["line"]))
        cmd = Command(
            words=cmd_words,
            line=seg.line,
            end_line=seg.end_line,
            text=seg.text,
            background=seg.op == "&",
            guards=guards,
            conditions=[b["cond"] for b in stack if b["kind"] == "if"],
            loop_vars=[b["var"] for b in stack if b["kind"] == "loop" and b["var"]],
            function=next((b["name"] for b in reversed(stack) if b["kind"] == "func"), None),
        )
        if pipeline and cmd.background:  # `a | b &` puts the whole pipeline in the background
            for earlier in pipeline:
                earlier.background = True
        pipeline = pipeline + [cmd] if seg.op == "|" else []
        facts.commands.append(cmd)
        for b in stack:
            if b["kind"] == "if":
                b["cmds"].append(cmd)
        inv = _invocation(cmd, opaque)
        if inv is not None:
            facts.invocations.append(inv)
    return facts


# Launcher words seen through before the command that really runs (shared by every shell rule
# and by the launches Python drivers assemble): prefixes, then how many operands each takes.
_PREFIX = {"exec", "nohup", "time", "command", "builtin"}


class _Options:
    """A launcher's option table, read the way getopt_long reads it: short options may be
    clustered (`-lu`) and take their value attached (`-n4`) or as the next word (`-n 4`); long
    options take it as `--opt=value` or the next word; options with an optional value take it
    only attached. Options stop at the first operand or after `--`. An unknown option is taken
    to have no value."""

    def __init__(self, short: str = "", long: str = "", short_opt: str = "", long_opt: str = ""):
        self.short, self.short_opt = set(short), set(short_opt)
        self.long = {f"--{n}" for n in long.split()}
        self.long_opt = {f"--{n}" for n in long_opt.split()}

    def skip(self, words: list[Word]) -> int:
        """Index of the first operand of `words` (the launcher's arguments)."""
        return self.parse(words)[0]

    def parse(self, words: list[Word]) -> tuple[int, dict[str, Word | None]]:
        """(index of the first operand, {option as written: its value or None})."""
        i, found = 0, {}
        while i < len(words):
            w = words[i]
            t = w.text
            if t == "--":
                return i + 1, found
            if not t.startswith("-") or t == "-":
                return i, found
            i += 1
            if t.startswith("--"):
                name, eq, value = t.partition("=")
                name = name.replace("_", "-")
                if eq:
                    raw = w.raw.partition("=")[2] if "=" in w.raw else value
                    found[name] = Word(raw, value)
                elif name in self.long and name not in self.long_opt and i < len(words):
                    found[name], i = words[i], i + 1
                else:
                    found[name] = None
                continue
            for k, ch in enumerate(t[1:], start=1):
                if ch in self.short_opt or ch in self.short:
                    attached = t[k + 1 :]
                    if attached:  # `-n4`, `-K1`
                        found["-" + ch] = Word(attached, attached if w.value is not None else None)
                    elif ch in self.short and i < len(words):  # `-n 4`
                        found["-" + ch], i = words[i], i + 1
                    else:
                        found["-" + ch] = None
                    break
                found["-" + ch] = None
        return min(i, len(words)), found


# srun(1): the options that take a value (short, long), those whose value is optional.
_SRUN = _Options(
    short="AbBcCdDeGiJLmMnNopqrStTwWx",
    long="""account acctg-freq bb bbf begin bcast-exclude chdir cluster-constraint clusters
    comment constraint container container-id core-spec cores-per-socket cpu-bind cpu-freq
    cpus-per-gpu cpus-per-task deadline delay-boot dependency distribution epilog error exclude
    export extra extra-node-info gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket
    gpus-per-task gres gres-flags het-group hint input jobid job-name licenses mail-type
    mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu mincpus mpi network nodefile
    nodelist nodes ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket
    ntasks-per-tres open-mode output partition power prefer prolog qos relative reservation
    segment signal slurmd-debug sockets-per-node switches task-epilog task-prolog threads
    threads-per-core time time-min tmp tres-bind tres-per-task uid wait wckey""",
    short_opt="IKk",
    long_opt="""bcast compress exclusive immediate kill-on-bad-exit nice no-kill propagate
    resv-ports send-libs x11""",
)
_SRUN_LONG = {"-n": "--ntasks", "-N": "--nodes", "-c": "--cpus-per-task", "-G": "--gpus"}
_ENV = _Options(short="uCS", long="unset chdir split-string")
_TIMEOUT = _Options(short="sk", long="signal kill-after")
_NICE = _Options(short="n", long="adjustment")
_STDBUF = _Options(short="ioe", long="input output error")


def unwrap(
    words: list[Word], srun: dict[str, Word | None] | None = None
) -> tuple[list[Word], list[str]]:
    """The words of the command a line really runs, and the launchers seen through: variable
    assignments, `exec`/`nohup`/`time`/`command`, `env [opts] [NAME=V...]`, `timeout [opts] D`,
    `nice [-n N]`, `stdbuf -oL`, `srun [opts]`. Interpreters (`python`, `torchrun`) are kept:
    `_invocation` reads their scripts, modules and `--no-python` programs. `srun`, when given,
    receives srun's options by their long names (`-n4` -> `--ntasks`)."""
    seen: list[str] = []
    for _ in range(16):
        if not words:
            break
        head = PurePosixPath(words[0].text).name
        if _ASSIGN.match(words[0].text) or words[0].text in _PREFIX:
            if not _ASSIGN.match(words[0].text):
                seen.append(head)
            words = words[1:]
        elif head == "env":
            rest = words[1:]
            i = _ENV.skip(rest)
            while i < len(rest) and _ASSIGN.match(rest[i].text):
                i += 1
            seen.append("env")
            words = rest[i:]
        elif head == "timeout":
            rest = words[1:]
            i = _TIMEOUT.skip(rest)
            seen.append("timeout")
            words = rest[i + 1 :]  # the duration
        elif head == "nice":
            seen.append("nice")
            words = words[1:][_NICE.skip(words[1:]) :]
        elif head == "stdbuf":
            seen.append("stdbuf")
            words = words[1:][_STDBUF.skip(words[1:]) :]
        elif head == "srun":
            seen.append("srun")
            i, found = _SRUN.parse(words[1:])
            words = words[1:][i:]
            if srun is not None:
                srun.update({_SRUN_LONG.get(k, k): v for k, v in found.items()})
        else:
            break
    return words, seen


def _invocation(cmd: Command, opaque: bool) -> Invocation | None:
    srun: dict[str, Word | None] = {}
    words, seen = unwrap(list(cmd.words), srun)
    if not words:
        return None
    wrapper = "srun" if "srun" in seen else ""
    prog = PurePosixPath(words[0].text).name
    rest = words[1:]
    if (
        _PY.match(prog)
        and len(rest) >= 2
        and rest[0].text == "-m"
        and rest[1].text
        in (
            "torch.distributed.run",
            "torch.distributed.launch",
        )
    ):
        prog, rest = "torchrun", rest[2:]
    opts: dict[str, Word | None] = {}
    script = None
    if prog == "torchrun":
        i = 0
        while i < len(rest) and rest[i].text.startswith("-"):
            t = rest[i].text
            if "=" in t:
                k, v = t.split("=", 1)
                raw = rest[i].raw.split("=", 1)[1] if "=" in rest[i].raw else v
                opts[k.replace("_", "-")] = Word(raw, v)
                i += 1
            elif t in _TORCHRUN_NOVALUE or i + 1 >= len(rest):
                opts[t.replace("_", "-")] = None
                i += 1
            else:
                opts[t.replace("_", "-")] = rest[i + 1]
                i += 2
        if i < len(rest):
            script, rest = rest[i], rest[i + 1 :]
        else:
            rest = []
    elif _PY.match(prog):
        prog = "python"
        i = 0
        while i < len(rest) and rest[i].text.startswith("-"):
            t = rest[i].text
            if t in ("-m", "-c"):
                opts[t] = rest[i + 1] if i + 1 < len(rest) else None
                i += 2
                break
            i += 2 if t in ("-X", "-W") else 1
        if "-m" in opts or "-c" in opts:
            script = None
            rest = rest[i:]
        elif i < len(rest):
            script, rest = rest[i], rest[i + 1 :]
        else:
            rest = []
    if prog == "torchrun" and ("--no-python" in opts or "--no_python" in opts) and script:
        target = PurePosixPath(script.text).name  # torchrun ... --no-python predict_evo2 ...
        script = None
    elif script is not None:
        target = PurePosixPath(script.text).name
    elif prog == "python" and opts.get("-m") is not None:
        target = opts["-m"].text  # python -m mypkg.predict
    else:
        target = prog
    return Invocation(cmd, prog, script, rest, opts, opaque, wrapper, target, srun)
