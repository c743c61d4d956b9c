"""Facts of a Python script via `ast`: argparse flags, calls, data flow of `args.<dest>`, casts.

Data flow is intra-file and conservative: a local name carries the union of everything assigned
to it in its scope; a parameter carries what every call site in the file passes; a call to a
helper function defined in the file carries its return values and arguments.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field

from recipegen.validators.sae_api import API_NAMES, OPT_IN, PACKAGE, POSITIONAL

__all__ = ["OPT_IN", "POSITIONAL", "PythonFacts", "build"]
_TRANSPARENT = {"int", "float", "round", "max", "min", "ceil", "floor", "abs", "bool", "str"}
CHAIN = {
    "cpu",
    "numpy",
    "detach",
    "contiguous",
    "reshape",
    "view",
    "flatten",
    "squeeze",
    "unsqueeze",
    "clone",
    "cuda",
    "tolist",
    "permute",
    "transpose",
}
FROM_STORE = {"iter_shards", "load_activations", "get_streaming_dataloader", "get_dataloader"}
JOIN = {"cat", "concat", "concatenate", "stack", "vstack", "hstack"}


# Fact containers compare by identity and keep object's repr: generating __eq__/__repr__ for
# every dataclass was a measurable part of start-up.
@dataclass(eq=False, repr=False)
class Flag:
    options: tuple[str, ...]
    dest: str
    line: int
    type: str | None = None
    default: object = None
    has_default: bool = False
    required: bool = False
    action: str | None = None
    choices: tuple | None = None

    @property
    def boolean_optional(self) -> bool:
        return self.action == "BooleanOptionalAction"

    @property
    def takes_value(self) -> bool:
        return self.action not in (
            "store_true",
            "store_false",
            "count",
            "BooleanOptionalAction",
            "help",
            "version",
            "store_const",
        )


@dataclass(eq=False, repr=False)
class CallSite:
    name: str  # last component: TopKSAE, sample, append, load...
    dotted: str  # e.g. torch.load, store.append ("" parts for non-names)
    node: ast.Call
    scope: ast.AST
    line: int
    col: int

    def arg(self, kw: str) -> ast.expr | None:
        for k in self.node.keywords:
            if k.arg == kw:
                return k.value
        names = POSITIONAL.get(self.name)
        if names and kw in names:
            idx = names.index(kw)
            pos = [a for a in self.node.args if not isinstance(a, ast.Starred)]
            if idx < len(pos):
                return pos[idx]
        return None

    def star_kwargs(self) -> list[ast.expr]:
        return [k.value for k in self.node.keywords if k.arg is None]

    @property
    def receiver(self) -> ast.expr | None:
        f = self.node.func
        return f.value if isinstance(f, ast.Attribute) else None


@dataclass(eq=False, repr=False)
class PythonFacts:
    path: str
    lines: list[str]
    tree: ast.Module
    flags: list[Flag] = field(default_factory=list)
    parser_line: int = 1
    parse_known_args: bool = False
    calls: dict[str, list[CallSite]] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    assigns: dict[tuple[int, str], list[ast.expr]] = field(default_factory=dict)
    params: dict[int, list[str]] = field(default_factory=dict)
    finally_stmts: list[ast.stmt] = field(default_factory=list)  # statements of `finally:`
    strings: list[tuple[int, str]] = field(default_factory=list)
    asserts: list[ast.Assert] = field(default_factory=list)
    noqa_in_strings: set[int] = field(default_factory=set)  # lines with "noqa" inside a string
    pending_actions: list[tuple[Flag, str]] = field(default_factory=list)
    named_literals: list[tuple[str, ast.Constant]] = field(default_factory=list)
    # local name -> (module, imported attribute or None for `import m`, relative level)
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    store_targets: set[str] = field(default_factory=set)  # text of x / x.y / x["k"] = Store(...)
    tries: list[ast.AST] = field(default_factory=list)
    ifs: list[ast.If] = field(default_factory=list)
    # `d["k"] = v` anywhere: (text of d, "k") -> [v] (entries of module-level state dicts)
    item_assigns: dict[tuple[str, object], list[ast.expr]] = field(default_factory=dict)
    launches: object = None  # ShellFacts of torchrun argvs assembled in Python (see launches.py)
    _exit_line: int | None = field(default=None, repr=False)
    _uses_sae: bool | None = field(default=None, repr=False)

    # --- roles -----------------------------------------------------------------------------
    def called(self, name: str) -> list[CallSite]:
        return self.calls.get(name, [])

    @property
    def dests(self) -> set[str]:
        return {f.dest for f in self.flags}

    def flag(self, option: str) -> Flag | None:
        return next((f for f in self.flags if option in f.options), None)

    # --- the `sae` API ---------------------------------------------------------------------
    @property
    def uses_sae(self) -> bool:
        """Imports from the `sae` package, or calls one of its entry points that the file
        neither defines nor imports from elsewhere."""
        if self._uses_sae is None:
            self._uses_sae = any(
                _top(mod) == PACKAGE and level == 0 for mod, _, level in self.imports.values()
            ) or any(self.sae_calls(n) for n in API_NAMES)
        return self._uses_sae

    def sae_calls(self, name: str) -> list[CallSite]:
        """Calls of `name` that resolve to the `sae` library (not a same-named class of the file,
        of Lightning or of transformers)."""
        out = []
        for site in self.called(name):
            head = site.dotted.split(".")[0]
            if head == name:  # a bare call: where does the name come from?
                imp = self.imports.get(name)
                if imp is not None:
                    ok = _top(imp[0]) == PACKAGE and imp[2] == 0
                else:
                    ok = name not in self.classes and name not in self.functions
            else:
                imp = self.imports.get(head)
                ok = imp is not None and _top(imp[0]) == PACKAGE and imp[2] == 0
                ok = ok or (head == PACKAGE and head not in self.imports)
            if ok:
                out.append(site)
        return out

    @property
    def is_training_script(self) -> bool:
        trains = self.sae_calls("TrainingConfig") or self.sae_calls("Trainer")
        return bool(self.flags) and bool(
            trains or (self.sae_calls("TopKSAE") and self.called("get_streaming_dataloader"))
        )

    @property
    def store_appends(self) -> list[CallSite]:
        return [c for c in self.called("append") if _is_store(c.receiver, c.scope, self)]

    def own_import(self, name: str) -> tuple[str, str, int] | None:
        """(module, attribute, level) when `name` is a function imported from a module that is
        not a known third-party package (i.e. possibly a sibling module of the recipe)."""
        imp = self.imports.get(name)
        if imp is None or imp[1] is None:
            return None
        mod, attr, level = imp
        if level == 0 and _top(mod) in _THIRD_PARTY:
            return None
        return mod, attr, level

    # --- data flow ---------------------------------------------------------------------------
    def sources(self, expr: ast.AST | None, scope: ast.AST, _seen: set | None = None) -> set:
        """Atoms an expression derives from: ("arg", dest), ("const",), ("none",), ("data",)."""
        if expr is None:
            return set()
        seen = _seen if _seen is not None else set()
        key = (id(expr), id(scope))
        if key in seen or len(seen) > 2000:
            return set()
        seen.add(key)
        dests = self.dests
        if isinstance(expr, ast.Constant):
            return {("none",)} if expr.value is None else {("const",)}
        if isinstance(expr, ast.Attribute):
            if expr.attr in dests:
                return {("arg", expr.attr)}
            return {("data",)} | self.sources(expr.value, scope, seen)
        if isinstance(expr, ast.Name):
            vals = self.assigns.get((id(scope), expr.id))
            if vals:
                out: set = set()
                for v in vals:
                    out |= self.sources(v, scope, seen)
                return out
            if expr.id in self.params.get(id(scope), []):
                return self._param_sources(scope, expr.id, seen)
            mod_vals = self.assigns.get((id(self.tree), expr.id))
            if mod_vals and scope is not self.tree:
                out = set()
                for v in mod_vals:
                    out |= self.sources(v, self.tree, seen)
                return out
            return {("data",)}
        if isinstance(expr, ast.Call):
            fname = last_name(expr.func)
            out = set()
            for a in list(expr.args) + [k.value for k in expr.keywords]:
                out |= self.sources(a, scope, seen)
            if isinstance(expr.func, ast.Name) and fname in self.functions:
                fn = self.functions[fname]
                for node in ast.walk(fn):
                    if isinstance(node, ast.Return) and node.value is not None:
                        out |= self.sources(node.value, fn, seen)
                return out
            if fname in _TRANSPARENT:
                return out
            if isinstance(expr.func, ast.Attribute):
                out |= self.sources(expr.func.value, scope, seen)
            return out | {("data",)}
        if isinstance(expr, (ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.DictComp)):
            return {("data",)}
        out = set()
        for child in ast.iter_child_nodes(expr):
            out |= self.sources(child, scope, seen)
        return out

    def _param_sources(self, fn: ast.AST, name: str, seen: set) -> set:
        fname = getattr(fn, "name", None)
        params = self.params.get(id(fn), [])
        idx = params.index(name)
        out: set = set()
        sites = [s for s in self.calls.get(fname, []) if isinstance(s.node.func, ast.Name)]
        if not sites:
            return {("data",)}
        for s in sites:
            arg = next((k.value for k in s.node.keywords if k.arg == name), None)
            if arg is None and idx < len(s.node.args):
                arg = s.node.args[idx]
            out |= self.sources(arg, s.scope, seen) if arg is not None else {("none",)}
        return out

    def reaches(self, dest: str, call: str, kw: str) -> bool:
        """True when `args.<dest>` flows into keyword `kw` of some call to `call`."""
        for site in self.called(call):
            expr = site.arg(kw)
            if expr is not None and ("arg", dest) in self.sources(expr, site.scope):
                return True
            for star in site.star_kwargs():
                if _is_vars_call(star) or ("arg", dest) in self.sources(star, site.scope):
                    return True
        return False

    def values_of(self, expr: ast.AST, scope: ast.AST, depth: int = 0) -> list[ast.expr]:
        """The expression itself, or what a local name was assigned (one level per hop)."""
        if isinstance(expr, ast.Name) and depth < 8:
            vals = self.assigns.get((id(scope), expr.id)) or self.assigns.get(
                (id(self.tree), expr.id)
            )
            if vals:
                out = []
                for v in vals:
                    out.extend(self.values_of(v, scope, depth + 1))
                return out
        return [expr]

    def _param_args(self, fn: ast.AST, name: str) -> list[tuple[ast.expr, ast.AST]]:
        fname = getattr(fn, "name", None)
        params = self.params.get(id(fn), [])
        idx = params.index(name)
        out = []
        for s in self.calls.get(fname, []):
            arg = next((k.value for k in s.node.keywords if k.arg == name), None)
            if arg is None:
                offset = 1 if params and params[0] in ("self", "cls") else 0
                if 0 <= idx - offset < len(s.node.args):
                    arg = s.node.args[idx - offset]
            if arg is not None:
                out.append((arg, s.scope))
        return out

    def literal(self, expr: ast.AST | None, scope: ast.AST) -> object:
        """A constant value (following simple local names), else None."""
        if expr is None:
            return None
        vals = self.values_of(expr, scope)
        if len(vals) == 1:
            try:
                return ast.literal_eval(vals[0])
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                return None
        return None


def _top(module: str) -> str:
    return module.split(".")[0]


_THIRD_PARTY = {
    "torch", "numpy", "np", "transformers", "sae", "datasets", "pandas", "pyarrow", "einops",
    "lightning", "pytorch_lightning", "hydra", "omegaconf", "esm", "evo2", "bionemo", "scipy",
    "sklearn", "safetensors", "accelerate", "megatron", "nemo", "os", "sys", "json", "math",
    "pathlib", "functools", "itertools", "collections", "typing", "argparse", "glob", "shutil",
}  # fmt: skip


def _is_vars_call(expr: ast.AST) -> bool:
    return (
        isinstance(expr, ast.Call)
        and last_name(expr.func) == "vars"
        or (isinstance(expr, ast.Attribute) and expr.attr == "__dict__")
    )


def _is_store(recv: ast.AST | None, scope: ast.AST, facts: PythonFacts) -> bool:
    """An `ActivationStore`: assigned one anywhere (name, attribute or subscript), or, in a file
    that uses the `sae` API, named like one (`store`, `train_store`, a `store` parameter)."""
    if recv is None:
        return False
    if unparse(recv) in facts.store_targets:
        return True
    for v in facts.values_of(recv, scope):
        if isinstance(v, ast.Call) and last_name(v.func) == "ActivationStore":
            return True
    if not facts.uses_sae:
        return False
    name = last_name(recv).lower()
    return name == "store" or name.endswith("_store") or name.startswith("store_")


def last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return last_name(node.func)
    if isinstance(node, ast.Subscript):
        return last_name(node.value)
    return ""


def dotted(node: ast.AST) -> str:
    parts = []
    depth = 0
    while isinstance(node, ast.Attribute) and depth < 50:
        parts.append(node.attr)
        node = node.value
        depth += 1
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(last_name(node.func) + "()")
    return ".".join(reversed(parts))


def unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # unparse may fail on exotic trees; a best-effort label is enough
        return ""


def const_of(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return "<expr>"


NAMED_LITERALS = {"token_unit", "nt_per_token", "bases_per_token", "nucleotides_per_token"}
_ASSIGN_T = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)
_FUNC_T = (ast.FunctionDef, ast.AsyncFunctionDef)
_FOR_T = (ast.For, ast.AsyncFor, ast.comprehension)
_TRY_T = tuple(getattr(ast, n) for n in ("Try", "TryStar") if hasattr(ast, n))
_LEAF_T = (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop)


def build(path: str, text: str) -> PythonFacts:
    """Parse `text` and collect facts (raises SyntaxError/ValueError/RecursionError)."""
    with warnings.catch_warnings():  # SyntaxWarnings belong to the user's Python, not to lint
        warnings.simplefilter("ignore")
        tree = ast.parse(text, filename=path)
    facts = PythonFacts(path=path, lines=text.splitlines(), tree=tree)
    # scopes: walk with an explicit stack so deep trees do not recurse; dispatch on exact type
    stack: list[tuple[ast.AST, ast.AST]] = [(tree, tree)]
    in_finally: list[ast.AST] = []
    assigns = facts.assigns
    AST, Name, Call, Constant = ast.AST, ast.Name, ast.Call, ast.Constant
    while stack:
        node, scope = stack.pop()
        t = type(node)
        child_scope = scope
        if t is Call:
            name = last_name(node.func)
            site = CallSite(name, dotted(node.func), node, scope, node.lineno, node.col_offset + 1)
            facts.calls.setdefault(name, []).append(site)
            if name == "parse_known_args":
                facts.parse_known_args = True
            elif name == "ArgumentParser":
                facts.parser_line = node.lineno
            elif name == "add_argument":
                _add_flag(facts, node)
            for k in node.keywords:
                if k.arg and k.arg.lower() in NAMED_LITERALS and type(k.value) is Constant:
                    facts.named_literals.append((k.arg.lower(), k.value))
        elif t is Constant:
            v = node.value
            if v.__class__ is str:
                if len(v) < 300:
                    facts.strings.append((node.lineno, v))
                if "noqa" in v:
                    facts.noqa_in_strings.update(range(node.lineno, (node.end_lineno or 0) + 1))
            continue
        elif t is Name:
            continue
        elif t is ast.Import or t is ast.ImportFrom:
            for alias in node.names:
                if t is ast.Import:
                    local = alias.asname or alias.name.split(".")[0]
                    facts.imports[local] = (alias.name if alias.asname else local, None, 0)
                else:
                    mod = node.module or ""
                    facts.imports[alias.asname or alias.name] = (mod, alias.name, node.level)
            continue
        elif t is ast.ClassDef:
            facts.classes.add(node.name)
        elif t is ast.If:
            facts.ifs.append(node)
        elif t in _ASSIGN_T:
            targets = node.targets if t is ast.Assign else [node.target]
            if node.value is not None:
                _note_store(facts, targets, node.value)
            if type(node.value) is Constant:
                for tgt in targets:
                    label = getattr(tgt, "id", None) or getattr(tgt, "attr", "")
                    if label.lower() in NAMED_LITERALS:
                        facts.named_literals.append((label.lower(), node.value))
            if node.value is not None:
                for tgt in targets:
                    if type(tgt) in (ast.Tuple, ast.List):
                        _unpack(assigns, id(scope), tgt, node.value)
                        continue
                    if type(tgt) is ast.Subscript and type(tgt.slice) is Constant:
                        key = (unparse(tgt.value), tgt.slice.value)
                        facts.item_assigns.setdefault(key, []).append(node.value)
                    for n in ast.walk(tgt):
                        if type(n) is Name:
                            assigns.setdefault((id(scope), n.id), []).append(node.value)
        elif t in _FUNC_T:
            facts.functions[node.name] = node
            a = node.args
            facts.params[id(node)] = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
            child_scope = node
        elif t in _FOR_T:
            for n in ast.walk(node.target):
                if type(n) is Name:
                    assigns.setdefault((id(scope), n.id), []).append(node.iter)
        elif t is ast.withitem:
            if node.optional_vars is not None:
                for n in ast.walk(node.optional_vars):
                    if type(n) is Name:
                        assigns.setdefault((id(scope), n.id), []).append(node.context_expr)
        elif t is ast.Assert:
            facts.asserts.append(node)
        elif t in _TRY_T:
            in_finally.extend(node.finalbody)
        for field_name in node._fields:
            v = getattr(node, field_name, None)
            if v.__class__ is list:
                for x in v:
                    if isinstance(x, AST):
                        stack.append((x, child_scope))
            elif isinstance(v, AST) and not isinstance(v, _LEAF_T):
                stack.append((v, child_scope))
    for sites in facts.calls.values():
        sites.sort(key=lambda c: (c.line, c.col))
    facts.flags.sort(key=lambda fl: fl.line)
    for flag, alias in facts.pending_actions:
        for (_, name), values in facts.assigns.items():
            if name == alias and values and last_name(values[-1]) == "BooleanOptionalAction":
                flag.action = "BooleanOptionalAction"
    if any(v in _PY_LAUNCHERS or "torchrun" in v for _, v in facts.strings):
        from recipegen.validators import launches

        facts.launches = launches.build(facts)
    facts.finally_stmts = in_finally
    return facts


_PY_LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")


def _unpack(assigns: dict, scope_id: int, target: ast.AST, value: ast.expr) -> None:
    """`a, b = x`: a gets x's element 0 (the literal element when x is a literal tuple of the
    same length, else the expression `x[0]`), b element 1; a starred name gets x itself."""
    elts = target.elts
    literal = type(value) in (ast.Tuple, ast.List) and len(value.elts) == len(elts)
    for i, elt in enumerate(elts):
        if type(elt) is ast.Starred:
            elt, item = elt.value, value
        elif literal:
            item = value.elts[i]
        else:
            item = ast.Subscript(value=value, slice=ast.Constant(i), ctx=ast.Load())
            ast.copy_location(item, value)
        if type(elt) in (ast.Tuple, ast.List):
            _unpack(assigns, scope_id, elt, item)
        else:
            for n in ast.walk(elt):
                if type(n) is ast.Name:
                    assigns.setdefault((scope_id, n.id), []).append(item)


def _note_store(facts: PythonFacts, targets: list[ast.AST], value: ast.AST) -> None:
    """Remember `x = ActivationStore(...)`, `self.s = ...`, `d["s"] = ...`, `d = {"s": ...}`."""
    if isinstance(value, ast.Call) and last_name(value.func) == "ActivationStore":
        facts.store_targets.update(unparse(t) for t in targets)
    elif isinstance(value, ast.Dict):
        for k, v in zip(value.keys, value.values, strict=False):
            if (
                isinstance(k, ast.Constant)
                and isinstance(v, ast.Call)
                and last_name(v.func) == "ActivationStore"
            ):
                facts.store_targets.update(f"{unparse(t)}[{k.value!r}]" for t in targets)


def _add_flag(facts: PythonFacts, node: ast.Call) -> None:
    opts = tuple(
        a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    )
    if not opts or not opts[0].startswith("-"):
        return
    kw = {k.arg: k.value for k in node.keywords if k.arg}
    longs = [o for o in opts if o.startswith("--")]
    dest = (longs[0] if longs else opts[0]).lstrip("-").replace("-", "_")
    if "dest" in kw and isinstance(kw["dest"], ast.Constant):
        dest = str(kw["dest"].value)
    action = None
    if "action" in kw:
        a = kw["action"]
        action = a.value if isinstance(a, ast.Constant) else last_name(a)
    flag = Flag(options=opts, dest=dest, line=node.lineno, action=action)
    if isinstance(kw.get("action"), ast.Name):  # bool_flag = argparse.BooleanOptionalAction
        facts.pending_actions.append((flag, kw["action"].id))
    if "type" in kw:
        flag.type = last_name(kw["type"]) or unparse(kw["type"])
    if "default" in kw:
        flag.has_default = True
        flag.default = const_of(kw["default"])
    if "required" in kw:
        flag.required = const_of(kw["required"]) is True
    if "choices" in kw:
        c = const_of(kw["choices"])
        flag.choices = tuple(c) if isinstance(c, (list, tuple)) else None
    facts.flags.append(flag)
