"""Facts of a Python script via `ast`: argparse flags, calls, data flow of `args.<dest>`, casts.

Data flow is intra-file and conservative: a local name carries the union of everything assigned
to it in its scope; a parameter carries what every call site in the file passes; a call to a
helper function defined in the file carries its return values and arguments.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field

from recipegen.validators.sae_api import API_NAMES, OPT_IN, PACKAGE, POSITIONAL

__all__ = ["OPT_IN", "POSITIONAL", "PythonFacts", "build"]
_TRANSPARENT = {"int", "float", "round", "max", "min", "ceil", "floor", "abs", "bool", "str"}
_CHAIN = {
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
_FROM_STORE = {"iter_shards", "load_activations", "get_streaming_dataloader", "get_dataloader"}
_FROM_NUMPY = {"from_numpy", "frombuffer"}
_JOIN = {"cat", "concat", "concatenate", "stack", "vstack", "hstack"}
_CASTS = {"float", "half", "double", "to", "type", "astype", "bfloat16"}
_SELECT = {"masked_select", "index_select", "compress", "boolean_mask", "nonzero", "where"}


@dataclass
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


@dataclass
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


@dataclass
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
    finally_writes: list[tuple[int, str]] = field(default_factory=list)
    strings: list[tuple[int, str]] = field(default_factory=list)
    asserts: list[ast.Assert] = field(default_factory=list)
    noqa_in_strings: set[int] = field(default_factory=set)  # lines with "noqa" inside a string
    pending_actions: list[tuple[Flag, str]] = field(default_factory=list)
    named_literals: list[tuple[str, ast.Constant]] = field(default_factory=list)
    # local name -> (module, imported attribute or None for `import m`, relative level)
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    store_targets: set[str] = field(default_factory=set)  # text of x / x.y / x["k"] = Store(...)
    finally_calls: list[tuple[int, str]] = field(default_factory=list)  # helper() in finally:
    tries: list[ast.AST] = field(default_factory=list)
    ifs: list[ast.If] = field(default_factory=list)
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

    @property
    def predict_calls(self) -> list[CallSite]:
        """Calls of a predict entry point: `predict(...)`, `predict.main()`, or `m.main()` where
        `m` was imported from a module named like *predict* (through names and parameters)."""
        out = []
        for name, sites in self.calls.items():
            for s in sites:
                if name == "append":
                    continue
                if s.receiver is not None and name.lower().startswith("predict"):
                    head = s.dotted.split(".")[0]
                    if head not in self.imports:  # trainer.predict(), model.predict_step()
                        continue
                if "predict" in s.dotted.lower() or (
                    name == "main"
                    and s.receiver is not None
                    and self._mentions_predict(s.receiver, s.scope, 0)
                ):
                    out.append(s)
        return out

    @property
    def dist_barriers(self) -> list[CallSite]:
        """`torch.distributed.barrier()` calls (not Lightning's `trainer.strategy.barrier()`)."""
        out = []
        for s in self.called("barrier"):
            head = s.dotted.split(".")[0]
            imp = self.imports.get(head)
            if s.dotted in ("torch.distributed.barrier",) or (
                imp is not None and imp[0].startswith("torch.distributed")
            ):
                out.append(s)
            elif imp is not None and imp[0] == "torch" and imp[1] == "distributed":
                out.append(s)
        return out

    @property
    def exits_when_complete(self) -> int | None:
        """Line of an early exit taken when the output's metadata.json exists, else None."""
        if self._exit_line is None:
            self._exit_line = self._find_exit() or 0
        return self._exit_line or None

    def _find_exit(self) -> int | None:
        if not any(s.endswith("metadata.json") for _, s in self.strings):
            return None
        names = self._sentinel_names()
        for node in self.ifs:
            if not _exits(node.body) or not _mentions(node.test, names):
                continue
            return node.lineno
        return None

    def _sentinel_names(self) -> set[str]:
        """Names assigned (directly or through other names) a path ending in metadata.json."""
        names: set[str] = set()
        for _ in range(5):
            before = len(names)
            for (_, name), vals in self.assigns.items():
                if name not in names and any(_mentions(v, names) for v in vals):
                    names.add(name)
            if len(names) == before:
                break
        return names

    @property
    def pt_writes(self) -> list[tuple[int, str]]:
        """'.pt' strings used where a file is written: `torch.save(x, "a.pt")`, an `open(..., "w")`
        or a keyword naming an output (`suffix=`, `output_file=`); reads (globs, loads, help
        texts, membership tests) do not count."""
        out = []
        for name, sites in self.calls.items():
            for site in sites:
                node = site.node
                parts: list[ast.AST] = []
                if name == "save" and len(node.args) > 1:
                    parts.append(node.args[1])
                if name == "open" and any("w" in str(_const(a)) for a in node.args[1:2]):
                    parts.append(node.args[0])
                for k in node.keywords:
                    if k.arg and _WRITE_KW.search(k.arg) and name not in _READERS:
                        parts.append(k.value)
                for part in parts:
                    for n in ast.walk(part):
                        if isinstance(n, ast.Constant) and isinstance(n.value, str):
                            if n.value.endswith(".pt") and "*" not in n.value:
                                out.append((n.lineno, n.value))
        return sorted(set(out))

    def _mentions_predict(self, expr: ast.AST, scope: ast.AST, depth: int) -> bool:
        if depth > 4:
            return False
        if "predict" in _text(expr).lower():
            return True
        if isinstance(expr, ast.Name):
            if expr.id in self.params.get(id(scope), []):
                return any(
                    self._mentions_predict(a, s, depth + 1)
                    for a, s in self._param_args(scope, expr.id)
                )
            vals = self.values_of(expr, scope)
            if vals != [expr]:
                return any(self._mentions_predict(v, scope, depth + 1) for v in vals)
        if isinstance(expr, ast.Call):
            return any(self._mentions_predict(a, scope, depth + 1) for a in expr.args)
        if isinstance(expr, ast.Attribute):
            return self._mentions_predict(expr.value, scope, depth + 1)
        return False

    @property
    def is_extractor(self) -> bool:
        if self.called("TopKSAE") or self.called("Trainer"):
            return False
        return bool(self.store_appends or self.predict_calls)

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
            fname = _last_name(expr.func)
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

    def cast_kind(self, expr: ast.AST, scope: ast.AST, depth: int = 0, ext=None) -> str:
        """'cast' (fp16/fp32), 'bf16', 'none', or 'unknown' (made by a helper of another module
        that `ext(module, level)` cannot load) for the value appended to a store."""
        if depth > 12:
            return "none"
        if isinstance(expr, ast.Call):
            f = expr.func
            name = _last_name(f)
            dtype_args = list(expr.args) + [k.value for k in expr.keywords]
            if name in _FROM_STORE:  # rows read back from a store were cast when first written
                return "cast"
            if name in _FROM_NUMPY or _dotted(f).split(".")[0] in ("np", "numpy"):
                return "cast"  # NumPy has no bfloat16: what comes from it is fp16/fp32
            if isinstance(f, ast.Attribute):
                if name in ("float", "half", "double"):
                    return "cast"
                if name == "bfloat16":
                    return "bf16"
                if name in ("to", "type", "astype"):
                    text = " ".join(_text(a) for a in dtype_args)
                    if "bfloat16" in text or "bf16" in text:
                        return "bf16"
                    if name == "astype" or "float" in text or "half" in text or "dtype" in text:
                        return "cast"
                    return self.cast_kind(f.value, scope, depth + 1, ext)
                if name in _CHAIN:
                    return self.cast_kind(f.value, scope, depth + 1, ext)
            dt = next((k.value for k in expr.keywords if k.arg == "dtype"), None)
            if dt is not None:
                return "bf16" if "bfloat16" in _text(dt) else "cast"
            if isinstance(f, ast.Name) and name not in self.functions:
                other = self._imported_function(name, ext)
                if other is not None:
                    ofacts, fn = other
                    if fn is None:
                        return "unknown"
                    return _combine(
                        [
                            ofacts.cast_kind(n.value, fn, depth + 1)
                            for n in ast.walk(fn)
                            if isinstance(n, ast.Return) and n.value is not None
                        ]
                    )
            if isinstance(f, ast.Name) and name in self.functions:
                kinds = [
                    self.cast_kind(n.value, self.functions[name], depth + 1, ext)
                    for n in ast.walk(self.functions[name])
                    if isinstance(n, ast.Return) and n.value is not None
                ]
                return _combine(kinds)
            if (
                name in ("asarray", "array", "as_tensor", "tensor", "ascontiguousarray")
                and expr.args
            ):
                return self.cast_kind(expr.args[0], scope, depth + 1, ext)
            if name in _JOIN and expr.args:
                parts = self._joined(expr.args[0], scope)
                if parts is None:
                    return "unknown"
                return _combine([self.cast_kind(p, s, depth + 1, ext) for p, s in parts])
            return "none"
        if isinstance(expr, ast.Subscript):
            return self.cast_kind(expr.value, scope, depth + 1, ext)
        if isinstance(expr, ast.Name):
            vals = self.values_of(expr, scope)
            if vals == [expr]:
                if expr.id in self.params.get(id(scope), []):
                    return _combine(
                        [
                            self.cast_kind(a, s, depth + 1, ext)
                            for a, s in self._param_args(scope, expr.id)
                        ]
                    )
                return "none"
            return _combine([self.cast_kind(v, scope, depth + 1, ext) for v in vals])
        return "none"

    def is_selected(self, expr: ast.AST, scope: ast.AST, depth: int = 0, ext=None) -> bool:
        """True when the appended value keeps only chosen positions (`h[mask]`, masked_select)."""
        if depth > 12:
            return False
        if isinstance(expr, ast.Subscript):
            layer_index = _last_name(expr.value) in ("hidden_states", "layers", "all_hidden_states")
            if not layer_index and _selective(expr.slice):
                return True
            return self.is_selected(expr.value, scope, depth + 1, ext)
        if isinstance(expr, ast.Call):
            name = _last_name(expr.func)
            if name in _SELECT or name in _FROM_STORE:
                return True
            if name in _JOIN and expr.args:
                parts = self._joined(expr.args[0], scope)
                return parts is None or all(
                    self.is_selected(p, s, depth + 1, ext) for p, s in parts
                )
            if isinstance(expr.func, ast.Name) and name not in self.functions:
                other = self._imported_function(name, ext)
                if other is not None:
                    ofacts, ofn = other
                    return ofn is None or any(
                        ofacts.is_selected(n.value, ofn, depth + 1)
                        for n in ast.walk(ofn)
                        if isinstance(n, ast.Return) and n.value is not None
                    )
            if isinstance(expr.func, ast.Name) and name in self.functions:
                fn = self.functions[name]
                return any(
                    self.is_selected(n.value, fn, depth + 1, ext)
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Return) and n.value is not None
                )
            is_method = isinstance(expr.func, ast.Attribute)
            parts = [] if is_method and name in _CHAIN | _CASTS else list(expr.args)
            if is_method:
                parts.append(expr.func.value)
            return any(self.is_selected(p, scope, depth + 1, ext) for p in parts)
        if isinstance(expr, ast.Name):
            vals = self.values_of(expr, scope)
            if vals == [expr]:
                if expr.id in self.params.get(id(scope), []) and not _selective(expr):
                    return any(
                        self.is_selected(a, s, depth + 1, ext)
                        for a, s in self._param_args(scope, expr.id)
                    )
                return _selective(expr)  # a value named like a mask (`mask`, `valid_pos`)
            return any(self.is_selected(v, scope, depth + 1, ext) for v in vals)
        if isinstance(expr, (ast.BinOp, ast.Tuple, ast.List)):
            return any(
                self.is_selected(c, scope, depth + 1, ext) for c in ast.iter_child_nodes(expr)
            )
        return False

    def _joined(self, arg: ast.AST, scope: ast.AST) -> list[tuple[ast.AST, ast.AST]] | None:
        """The pieces `torch.cat(pieces)` joins: a literal list, or what was appended to a list
        variable in this file; None when they cannot be seen."""
        if isinstance(arg, (ast.List, ast.Tuple)):
            return [(e, scope) for e in arg.elts]
        if isinstance(arg, ast.Name):
            found = [
                (site.node.args[0], site.scope)
                for site in self.called("append")
                if site.node.args and _text(site.receiver) == arg.id
            ]
            return found or None
        return None

    def _imported_function(self, name: str, ext) -> tuple[PythonFacts, ast.AST | None] | None:
        """For a function imported from the recipe's own modules: (its module's facts, its def),
        (self, None) when the module cannot be read; None when `name` is not such an import."""
        imp = self.own_import(name)
        if imp is None:
            return None
        other = ext(imp[0], imp[2]) if ext is not None else None
        if other is None:
            return self, None
        return other, other.functions.get(imp[1])

    def helper_origin(self, expr: ast.AST, scope: ast.AST, ext, depth: int = 0) -> str | None:
        """Path of the sibling module whose helper produced `expr` (for messages), else None."""
        if depth > 8:
            return None
        if isinstance(expr, ast.Call):
            name = _last_name(expr.func)
            if isinstance(expr.func, ast.Name):
                other = self._imported_function(name, ext)
                if other is not None and other[0] is not self:
                    return f"`{name}` in {other[0].path}"
            if isinstance(expr.func, ast.Attribute):
                return self.helper_origin(expr.func.value, scope, ext, depth + 1)
            return None
        if isinstance(expr, ast.Subscript):
            return self.helper_origin(expr.value, scope, ext, depth + 1)
        if isinstance(expr, ast.Name):
            for v in self.values_of(expr, scope):
                if v is not expr:
                    found = self.helper_origin(v, scope, ext, depth + 1)
                    if found:
                        return found
        return None

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


def _mentions(expr: ast.AST, names: set[str]) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            if n.value.endswith("metadata.json"):
                return True
        elif isinstance(n, ast.Name) and n.id in names:
            return True
    return False


def _exits(body: list[ast.stmt]) -> bool:
    """The block returns, exits or raises SystemExit."""
    for stmt in body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Return) or (isinstance(n, ast.Raise) and "SystemExit" in _text(n)):
                return True
            if isinstance(n, ast.Call) and _dotted(n.func) in _EXITS:
                return True
    return False


def _combine(kinds: list[str]) -> str:
    if "bf16" in kinds:
        return "bf16"
    if kinds and all(k == "cast" for k in kinds):
        return "cast"
    if "unknown" in kinds:
        return "unknown"
    return "none"


def _top(module: str) -> str:
    return module.split(".")[0]


_THIRD_PARTY = {
    "torch", "numpy", "np", "transformers", "sae", "datasets", "pandas", "pyarrow", "einops",
    "lightning", "pytorch_lightning", "hydra", "omegaconf", "esm", "evo2", "bionemo", "scipy",
    "sklearn", "safetensors", "accelerate", "megatron", "nemo", "os", "sys", "json", "math",
    "pathlib", "functools", "itertools", "collections", "typing", "argparse", "glob", "shutil",
}  # fmt: skip
_EXITS = {"sys.exit", "exit", "quit", "os._exit", "raise SystemExit"}
_WRITE_KW = re.compile(r"(^|_)(out|output|save|suffix|dest|write|dump)", re.I)
_READERS = {"add_argument", "glob", "rglob", "iglob", "load", "exists", "is_file", "print"}


def _selective(s: ast.AST) -> bool:
    if isinstance(s, ast.Constant):
        return False
    if isinstance(s, ast.Slice):
        return any(b is not None for b in (s.lower, s.upper))
    if isinstance(s, ast.Tuple):
        return any(_selective(e) for e in s.elts)
    if isinstance(s, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        return True
    if isinstance(s, ast.Name):
        text = s.id.lower()
        return any(k in text for k in ("mask", "valid", "keep", "sel", "idx", "index", "pos"))
    return True


def _is_vars_call(expr: ast.AST) -> bool:
    return (
        isinstance(expr, ast.Call)
        and _last_name(expr.func) == "vars"
        or (isinstance(expr, ast.Attribute) and expr.attr == "__dict__")
    )


def _is_store(recv: ast.AST | None, scope: ast.AST, facts: PythonFacts) -> bool:
    """An `ActivationStore`: assigned one anywhere (name, attribute or subscript), or, in a file
    that uses the `sae` API, named like one (`store`, `train_store`, a `store` parameter)."""
    if recv is None:
        return False
    if _text(recv) in facts.store_targets:
        return True
    for v in facts.values_of(recv, scope):
        if isinstance(v, ast.Call) and _last_name(v.func) == "ActivationStore":
            return True
    if not facts.uses_sae:
        return False
    name = _last_name(recv).lower()
    return name == "store" or name.endswith("_store") or name.startswith("store_")


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _last_name(node.func)
    if isinstance(node, ast.Subscript):
        return _last_name(node.value)
    return ""


def _dotted(node: ast.AST) -> str:
    parts = []
    depth = 0
    while isinstance(node, ast.Attribute) and depth < 50:
        parts.append(node.attr)
        node = node.value
        depth += 1
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_last_name(node.func) + "()")
    return ".".join(reversed(parts))


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # unparse may fail on exotic trees; a best-effort label is enough
        return ""


def _const(node: ast.AST) -> object:
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
            name = _last_name(node.func)
            site = CallSite(name, _dotted(node.func), node, scope, node.lineno, node.col_offset + 1)
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
            if name == alias and values and _last_name(values[-1]) == "BooleanOptionalAction":
                flag.action = "BooleanOptionalAction"
    if any(v in _PY_LAUNCHERS or v.lstrip().startswith("torchrun") for _, v in facts.strings):
        from recipegen.validators import launches

        facts.launches = launches.build(facts)
    for stmt in in_finally:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call):
                helper = _last_name(n.func)
                if helper in facts.functions and _writes_sentinel(facts, helper, set()):
                    facts.finally_calls.append((n.lineno, helper + "()"))
            if (
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and "metadata.json" in n.value
            ):
                facts.finally_writes.append((n.lineno, "metadata.json"))
            elif isinstance(n, ast.Call) and _last_name(n.func) in (
                "finalize",
                "merge_stores",
                "write_metadata",
                "save_metadata",
            ):
                facts.finally_writes.append((n.lineno, _last_name(n.func) + "()"))
    return facts


_PY_LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")
_SENTINEL_CALLS = ("finalize", "merge_stores", "write_metadata", "save_metadata")


def _writes_sentinel(facts: PythonFacts, fname: str, seen: set[str]) -> bool:
    """True when function `fname` of this module (or one it calls, transitively) writes
    metadata.json or calls finalize()/merge_stores()."""
    if fname in seen or len(seen) > 50:
        return False
    seen.add(fname)
    for n in ast.walk(facts.functions[fname]):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "metadata.json" in n.value:
            return True
        if isinstance(n, ast.Call):
            callee = _last_name(n.func)
            if callee in _SENTINEL_CALLS:
                return True
            if callee in facts.functions and _writes_sentinel(facts, callee, seen):
                return True
    return False


def _note_store(facts: PythonFacts, targets: list[ast.AST], value: ast.AST) -> None:
    """Remember `x = ActivationStore(...)`, `self.s = ...`, `d["s"] = ...`, `d = {"s": ...}`."""
    if isinstance(value, ast.Call) and _last_name(value.func) == "ActivationStore":
        facts.store_targets.update(_text(t) for t in targets)
    elif isinstance(value, ast.Dict):
        for k, v in zip(value.keys, value.values, strict=False):
            if (
                isinstance(k, ast.Constant)
                and isinstance(v, ast.Call)
                and _last_name(v.func) == "ActivationStore"
            ):
                facts.store_targets.update(f"{_text(t)}[{k.value!r}]" for t in targets)


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
        action = a.value if isinstance(a, ast.Constant) else _last_name(a)
    flag = Flag(options=opts, dest=dest, line=node.lineno, action=action)
    if isinstance(kw.get("action"), ast.Name):  # bool_flag = argparse.BooleanOptionalAction
        facts.pending_actions.append((flag, kw["action"].id))
    if "type" in kw:
        flag.type = _last_name(kw["type"]) or _text(kw["type"])
    if "default" in kw:
        flag.has_default = True
        flag.default = _const(kw["default"])
    if "required" in kw:
        flag.required = _const(kw["required"]) is True
    if "choices" in kw:
        c = _const(kw["choices"])
        flag.choices = tuple(c) if isinstance(c, (list, tuple)) else None
    facts.flags.append(flag)
