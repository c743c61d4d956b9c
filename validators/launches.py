"""Launch commands a Python driver assembles (Hydra `run.py`, sweep scripts), as shell facts.

A `torchrun` argv built as a list (`["torchrun", f"--nproc_per_node={cfg.nproc}", ...]`, then
`cmd += [...]`, `cmd.append(...)`, `cmd.extend(...)`) or as one command string
(`f"torchrun --nnodes {n} ..."`) is rewritten as a shell command placed on the line where the
Python code starts it, so the shell launch rules check it unchanged. Python values become shell
expansions: a literal stays a literal, `a * b` becomes `$((a*b))`, anything else a variable named
after the expression (`cfg.trainer.nproc` -> `${cfg_trainer_nproc}`), so the same Python value is
the same shell variable; `labels` maps each such variable back to the Python text for messages.
"""

from __future__ import annotations

import ast
import copy
import re

from recipegen.validators import facts_shell
from recipegen.validators.lazy_re import compile_lazy

_SAFE = compile_lazy(r"^[\w./=:,@%+\-]*$")
_PY_LAUNCHER = ("torch.distributed.run", "torch.distributed.launch")


def _is_python(expr: ast.AST) -> bool:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return re.match(r"^python(\d(\.\d+)?)?$", expr.value.rsplit("/", 1)[-1]) is not None
    return ast.unparse(expr) == "sys.executable"


def _returned_list(facts, fn: ast.AST) -> ast.List | None:
    """The list literal a helper returns (its only `return`, directly or through one name)."""
    rets = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
    if len(rets) != 1:
        return None
    value = rets[0]
    if isinstance(value, ast.Name):
        vals = facts.values_of(value, fn)
        value = vals[0] if len(vals) == 1 else None
    return value if isinstance(value, ast.List) else None


class _Params(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.AST]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.mapping.get(node.id, node)


def _inline(facts, elems: list[ast.AST], inlined: set[int], depth: int = 0) -> list[ast.AST]:
    """`[*_torchrun_prefix(cfg.nproc), "train.py"]`: a same-module helper's returned list is
    spliced in, its parameters replaced by the call's arguments (so `n` becomes `cfg.nproc`)."""
    out: list[ast.AST] = []
    for e in elems:
        call = e.value if isinstance(e, ast.Starred) else None
        fn = None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and depth < 4:
            fn = facts.functions.get(call.func.id)
        lst = _returned_list(facts, fn) if fn is not None else None
        if lst is None:
            out.append(e)
            continue
        inlined.add(id(lst))
        params = facts.params.get(id(fn), [])
        mapping = dict(zip(params, call.args, strict=False))
        mapping.update({k.arg: k.value for k in call.keywords if k.arg in params})
        for a, d in zip(reversed(fn.args.args), reversed(fn.args.defaults), strict=False):
            mapping.setdefault(a.arg, d)
        spliced = [_Params(mapping).visit(copy.deepcopy(x)) for x in lst.elts]
        out.extend(_inline(facts, spliced, inlined, depth + 1))
    return out


_WRAPPERS = frozenset({"srun", "env", "nohup", "timeout", "nice", "stdbuf", "exec", "time"})


def _launcher_at(el: list[ast.AST], i: int) -> bool:
    first = el[i]
    if isinstance(first, ast.Constant) and first.value == "torchrun":
        return True
    if _is_python(first) and len(el) > i + 2:
        second, third = el[i + 1], el[i + 2]
        return (
            isinstance(second, ast.Constant)
            and second.value == "-m"
            and isinstance(third, ast.Constant)
            and third.value in _PY_LAUNCHER
        )
    return False


def _seed_list(node: ast.List) -> bool:
    """A torchrun argv, also behind launcher words (`["srun", "-n", "4", "torchrun", ...]`:
    the shell side unwraps them like any shell line)."""
    el = node.elts
    if not el:
        return False
    if _launcher_at(el, 0):
        return True
    first = el[0]
    if isinstance(first, ast.Constant) and first.value in _WRAPPERS:
        return any(_launcher_at(el, i) for i in range(1, len(el)))
    return False


def _starts_launch(text: str) -> bool:
    """`torchrun ...`, or launcher words then torchrun (`srun -l torchrun ...`)."""
    if text.lstrip().startswith("torchrun "):
        return True
    words = text.split()
    return bool(words) and words[0] in _WRAPPERS and "torchrun" in words[1:]


def _seed_string(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _starts_launch(node.value)
    if isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]
        if not isinstance(head, ast.Constant):
            return False
        return _starts_launch(str(head.value))
    return False


class _Builder:
    def __init__(self, facts) -> None:
        self.facts = facts
        self.labels: dict[str, str] = {}

    def var(self, expr: ast.AST) -> str:
        text = ast.unparse(expr)
        name = re.sub(r"\W+", "_", text).strip("_") or "value"
        if name[0].isdigit():
            name = "_" + name
        self.labels[name] = text
        return name

    def atom(self, expr: ast.AST, scope: ast.AST, depth: int = 0) -> str:
        """An arithmetic atom: an integer, or a variable name."""
        value = self._follow(expr, scope, depth)
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            return str(value.value)
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult) and depth < 6:
            return f"{self.atom(value.left, scope, depth + 1)}*{self.atom(value.right, scope, depth + 1)}"
        return self.var(value)

    def _follow(self, expr: ast.AST, scope: ast.AST, depth: int) -> ast.AST:
        """Through `str(x)`/`int(x)` and names assigned exactly once."""
        for _ in range(8):
            if (
                isinstance(expr, ast.Call)
                and isinstance(expr.func, ast.Name)
                and expr.func.id in ("str", "int")
                and len(expr.args) == 1
            ):
                expr = expr.args[0]
                continue
            if isinstance(expr, ast.Name):
                vals = self.facts.assigns.get((id(scope), expr.id)) or self.facts.assigns.get(
                    (id(self.facts.tree), expr.id)
                )
                if vals and len(vals) == 1 and not isinstance(vals[0], (ast.List, ast.Tuple)):
                    expr = vals[0]
                    continue
            break
        return expr

    def expansion(self, expr: ast.AST, scope: ast.AST) -> str:
        value = self._follow(expr, scope, 0)
        if _is_python(value):
            return "python"
        tail = _path_tail(value)
        if tail is not None:  # HERE / "train.py", os.path.join(root, "train.py")
            return "${" + self.var(tail[0]) + "}/" + tail[1]
        if isinstance(value, ast.Constant) and isinstance(value.value, (int, str)):
            text = str(value.value)
            return text if _SAFE.match(text) else _quote(text)
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
            return f"$(({self.atom(value, scope)}))"
        return "${" + self.var(value) + "}"

    def word(self, expr: ast.AST, scope: ast.AST) -> str:
        if isinstance(expr, ast.Starred):
            return '"$@"'
        if isinstance(expr, ast.JoinedStr):
            out = []
            for part in expr.values:
                if isinstance(part, ast.Constant):
                    text = str(part.value)
                    if not _SAFE.match(text):
                        return '"$@"'
                    out.append(text)
                elif isinstance(part, ast.FormattedValue):
                    out.append(self.expansion(part.value, scope))
            return '"' + "".join(out) + '"'
        return self.expansion(expr, scope)

    def command_string(self, expr: ast.AST, scope: ast.AST) -> str:
        if isinstance(expr, ast.Constant):
            return str(expr.value)
        out = []
        for part in expr.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                out.append(self.expansion(part.value, scope))
        return "".join(out)


def _path_tail(value: ast.AST) -> tuple[ast.AST, str] | None:
    last = None
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
        base, last = value.left, value.right
    elif isinstance(value, ast.Call) and ast.unparse(value.func) == "os.path.join" and value.args:
        base, last = value.args[0], value.args[-1]
    if (
        isinstance(last, ast.Constant)
        and isinstance(last.value, str)
        and last.value.endswith(".py")
        and _SAFE.match(last.value)
    ):
        return base, last.value
    return None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _extensions(facts, scope: ast.AST, name: str, after: int) -> list[tuple[int, list[ast.AST]]]:
    """(line, elements) added to list `name` after line `after`: +=, extend, append, + [...]."""
    out = []
    for node in ast.walk(scope):
        if getattr(node, "lineno", 0) <= after:
            continue
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            elems = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else None
            out.append((node.end_lineno or node.lineno, elems or [ast.Starred(node.value)]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
            and node.func.attr in ("append", "extend")
            and node.args
        ):
            arg = node.args[0]
            if node.func.attr == "append":
                elems = [arg]
            elif isinstance(arg, (ast.List, ast.Tuple)):
                elems = list(arg.elts)
            else:
                elems = [ast.Starred(arg)]
            out.append((node.end_lineno or node.lineno, elems))
    return sorted(out, key=lambda t: t[0])


def build(facts) -> facts_shell.ShellFacts | None:
    """Shell facts of the launches `facts` (a PythonFacts) assembles; None when there are none."""
    b = _Builder(facts)
    commands: list[tuple[int, int, str]] = []  # (line, end line, shell text)
    parents: dict[int, ast.AST] = {}
    scopes: dict[int, ast.AST] = {}
    stack = [(facts.tree, facts.tree)]
    while stack:
        node, scope = stack.pop()
        inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else scope
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
            scopes[id(child)] = inner
            stack.append((child, inner))
    inlined: set[int] = set()
    expanded: dict[int, list[ast.AST]] = {}
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.List) and any(isinstance(e, ast.Starred) for e in node.elts):
            expanded[id(node)] = _inline(facts, list(node.elts), inlined)
    for node in ast.walk(facts.tree):
        scope = scopes.get(id(node), facts.tree)
        if id(node) in inlined:
            continue  # a helper's prefix: checked where it is spliced in
        elems = expanded.get(id(node))
        if isinstance(node, ast.List) and _seed_list(
            ast.List(elts=elems, ctx=ast.Load()) if elems is not None else node
        ):
            elems = list(elems if elems is not None else node.elts)
            end = node.end_lineno or node.lineno
            parent = parents.get(id(node))
            if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add):
                right = parent.right
                elems += right.elts if isinstance(right, ast.List) else [ast.Starred(right)]
            if (
                isinstance(parent, ast.Assign)
                and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name)
            ):
                for line, more in _extensions(facts, scope, parent.targets[0].id, end):
                    elems += more
                    end = max(end, line)
            words = [b.word(e, scope) for e in elems]
            commands.append((node.lineno, end, " ".join(words)))
        elif _seed_string(node) and not isinstance(parents.get(id(node)), ast.JoinedStr):
            text = b.command_string(node, scope).replace("\n", " ")
            commands.append((node.lineno, node.end_lineno or node.lineno, text))
    if not commands:
        return None
    n = len(facts.lines)
    slots = [""] * max(n, 1)
    ends: dict[int, int] = {}
    for line, end, text in sorted(commands):
        i = line - 1
        while i < len(slots) and slots[i]:
            i += 1
        if i >= len(slots):
            slots.append("")
        slots[i] = text
        ends[i + 1] = max(end, i + 1)
    try:
        shell = facts_shell.build(facts.path, "\n".join(slots) + "\n")
    except facts_shell.ShellSyntaxError:
        return None
    shell.lines = facts.lines
    shell.labels = b.labels
    for cmd in shell.commands:
        cmd.end_line = ends.get(cmd.line, cmd.end_line)
    return shell if shell.invocations else None
