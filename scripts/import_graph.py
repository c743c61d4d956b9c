"""The import graph of the project's packages, and its cycles (strongly connected components).

    python scripts/import_graph.py [ROOT]          # summary + every cycle; exit 1 on a cycle
    python scripts/import_graph.py --dot [ROOT]    # Graphviz: ... | dot -Tsvg -o imports.svg
    python scripts/import_graph.py --json [ROOT]

Packages come from the setuptools tables of ROOT/pyproject.toml and ROOT/*/pyproject.toml
(`packages` + `package-dir`, or `packages.find` `where`), so mapped folders get their import
names (`generator/` is `recipegen.generator`). Standard library only.

Every import statement counts, wherever it stands; each edge is labelled by where it stands:
  top      module level (also class bodies and try/except blocks): runs on import
  local    inside a function: runs on call (a cycle hidden this way is still a cycle)
  typing   under `if TYPE_CHECKING:`: never runs, but still ties the two modules together
  dynamic  a string literal naming a project module (`importlib.import_module(...)` tables)
Cycles are found over all four kinds (`--runtime` leaves `typing` out).

Rules, so that a package and its own submodules form a cycle only when they truly need each other:
- `import a.b.c` runs the `__init__` of `a` and `a.b` first, so it is an edge to each of them too
  ("its __init__ runs first"), except to the importing module's own ancestor packages: those are
  already running when it runs.
- `from a.b import name` is an edge to the submodule `a.b.name` when there is one. When `a.b` is a
  package whose `__init__` re-exports `name` (`from .x import name`, or a lazy table given to
  `lazy_exports(__name__, TABLE)`), the edge goes to the module that defines `name`. So a
  submodule reaches its own package's `__init__` only for a name defined in that `__init__`
  itself: a real cycle, since the `__init__` imports the submodule.
- A lazy table is a re-export map, not an import: the `__init__` loads nothing until a name is
  asked for, and the module that asks gets the edge to the name's home.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KINDS = ("top", "local", "typing", "dynamic")
_STRENGTH = {kind: i for i, kind in enumerate(KINDS)}  # for one (src, dst) pair: the first wins


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str
    file: str
    line: int
    via: str = ""  # "package" when the edge is a parent package's __init__ run first


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module


# ---------------------------------------------------------------- finding the modules


def _packages(pyproject: Path) -> dict[str, Path]:
    """Package name -> folder, from one pyproject's setuptools tables."""
    try:
        conf = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{pyproject}: not readable TOML: {exc}") from None
    st = conf.get("tool", {}).get("setuptools", {})
    base = pyproject.parent
    found: dict[str, Path] = {}
    pkgs = st.get("packages")
    if isinstance(pkgs, list):
        mapping = st.get("package-dir", {})
        for pkg in pkgs:
            parts = pkg.split(".")
            for cut in range(len(parts), -1, -1):
                prefix = ".".join(parts[:cut])
                if prefix in mapping or cut == 0:
                    folder = base / mapping.get(prefix, "")
                    found[pkg] = folder.joinpath(*parts[cut:])
                    break
    elif isinstance(pkgs, dict) and "find" in pkgs:
        for where in pkgs["find"].get("where", ["."]):
            top = base / where
            for init in sorted(top.rglob("__init__.py")):
                rel = init.parent.relative_to(top).parts
                if all(
                    (top.joinpath(*rel[:i]) / "__init__.py").is_file() for i in range(1, len(rel))
                ):
                    found[".".join(rel)] = init.parent
    return found


def find_modules(root: Path) -> dict[str, Module]:
    pyprojects = [root / "pyproject.toml", *sorted(root.glob("*/pyproject.toml"))]
    modules: dict[str, Module] = {}
    for pyproject in pyprojects:
        if not pyproject.is_file():
            continue
        for pkg, folder in _packages(pyproject).items():
            for path in sorted(folder.glob("*.py")):
                is_pkg = path.name == "__init__.py"
                name = pkg if is_pkg else f"{pkg}.{path.stem}"
                try:
                    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
                except (SyntaxError, UnicodeDecodeError) as exc:
                    raise ValueError(f"{path}: not readable Python: {exc}") from None
                modules[name] = Module(name, path, is_pkg, tree)
    return modules


# ---------------------------------------------------------------- reading the imports


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@dataclass(frozen=True)
class _Import:
    module: str  # absolute dotted name
    names: tuple[str, ...]  # for `from module import names`; () for `import module`
    kind: str
    line: int


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    """The absolute module name of a `from ... import` in `mod`."""
    if not node.level:
        return node.module or ""
    base = (mod.name if mod.is_package else mod.name.rpartition(".")[0]).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(mod: Module) -> list[_Import]:
    """Every import statement (and project-module string literal) with its kind."""
    out: list[_Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        if isinstance(node, ast.Import):
            out.extend(_Import(a.name, (), kind, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append(
                _Import(_absolute(mod, node), tuple(a.name for a in node.names), kind, node.lineno)
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(_Import(node.value, (), "dynamic", node.lineno))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, "typing")
            for child in node.orelse:
                visit(child, kind)
            return
        inner = kind
        if kind == "top" and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner = "local"
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(mod.tree, "top")
    return out


def _lazy_table(mod: Module) -> dict[str, str]:
    """name -> submodule for a package `__init__` calling `lazy_exports(__name__, TABLE)`."""
    tables: dict[str, ast.Dict] = {}
    used: set[str] = set()
    for node in mod.tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    tables[t.id] = node.value
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and getattr(sub.func, "id", "") == "lazy_exports":
                used.update(a.id for a in sub.args[1:2] if isinstance(a, ast.Name))
    out: dict[str, str] = {}
    for table in (tables[n] for n in used if n in tables):
        for key, value in zip(table.keys, table.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            sub = mod.name + key.value if key.value.startswith(".") else key.value
            names = value.elts if isinstance(value, (ast.Tuple, ast.List)) else []
            for elt in names:
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    out[elt.value] = sub
    return out


class Graph:
    def __init__(self, root: Path):
        self.root = root
        self.modules = find_modules(root)
        self.edges: list[Edge] = []
        self._reexports: dict[str, dict[str, str]] = {}
        for name, mod in self.modules.items():
            if mod.is_package:
                table = dict(_lazy_table(mod))
                for node in mod.tree.body:  # module-level `from X import name` re-exports
                    if isinstance(node, ast.ImportFrom):
                        target = _absolute(mod, node)
                        for a in node.names:
                            table[a.asname or a.name] = f"{target}:{a.name}"
                self._reexports[name] = table
        for mod in self.modules.values():
            self._collect(mod)

    def _defining(self, pkg: str, name: str, seen: frozenset = frozenset()) -> str:
        """The module that defines `name` reached as `pkg.name`."""
        if f"{pkg}.{name}" in self.modules:
            return f"{pkg}.{name}"
        entry = self._reexports.get(pkg, {}).get(name)
        if entry is None or (pkg, name) in seen:
            return pkg
        target, _, orig = entry.partition(":")
        if target not in self.modules:
            return pkg  # re-exported from outside the project: the __init__ holds it
        if not orig:  # lazy table: the name lives in `target`
            orig = name
        if self.modules[target].is_package:
            return self._defining(target, orig, seen | {(pkg, name)})
        return target

    def _known(self, dotted: str) -> str | None:
        """The longest prefix of `dotted` that is a project module."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            if ".".join(parts[:cut]) in self.modules:
                return ".".join(parts[:cut])
        return None

    def _collect(self, mod: Module) -> None:
        own = mod.name.split(".")
        ancestors = {".".join(own[:i]) for i in range(1, len(own) + (1 if mod.is_package else 0))}
        file = str(mod.path.relative_to(self.root))

        seen: set[tuple[str, str, int]] = set()

        def add(dst: str, kind: str, line: int, via: str = "", own_name: bool = False) -> None:
            if dst == mod.name or (dst in ancestors and not own_name):
                return
            if (dst, kind, line) not in seen:
                seen.add((dst, kind, line))
                self.edges.append(Edge(mod.name, dst, kind, file, line, via))

        def add_with_parents(dst: str, kind: str, line: int) -> None:
            parts = dst.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in self.modules:
                    add(parent, kind, line, "package")
            add(dst, kind, line)

        for imp in _imports(mod):
            if imp.kind == "dynamic":
                if imp.module in self.modules:
                    add_with_parents(imp.module, "dynamic", imp.line)
                continue
            target = self._known(imp.module)
            if target is None:
                continue
            if imp.names and target == imp.module and self.modules[target].is_package:
                add_with_parents(target, imp.kind, imp.line)  # runs the __init__ (if not ours)
                for n in imp.names:
                    if n == "*":
                        continue
                    dst = self._defining(target, n)
                    if dst != target:
                        add_with_parents(dst, imp.kind, imp.line)
                    else:  # a name the __init__ itself holds: an edge even into our own package
                        add(target, imp.kind, imp.line, own_name=True)
            else:
                add_with_parents(target, imp.kind, imp.line)

    # ------------------------------------------------------------ analysis

    def pairs(self, kinds: tuple[str, ...] = KINDS) -> dict[tuple[str, str], Edge]:
        """One edge per (src, dst): the strongest kind (top > local > typing > dynamic)."""
        best: dict[tuple[str, str], Edge] = {}
        for e in self.edges:
            if e.kind not in kinds:
                continue
            cur = best.get((e.src, e.dst))
            if cur is None or _STRENGTH[e.kind] < _STRENGTH[cur.kind]:
                best[(e.src, e.dst)] = e
        return best

    def cycles(self, kinds: tuple[str, ...] = KINDS) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan, iterative)."""
        succ: dict[str, list[str]] = {m: [] for m in self.modules}
        for src, dst in self.pairs(kinds):
            succ[src].append(dst)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[list[str]] = []
        counter = 0
        for start in sorted(self.modules):
            if start in index:
                continue
            work = [(start, iter(sorted(succ[start])))]
            index[start] = low[start] = counter
            counter += 1
            stack.append(start)
            on_stack.add(start)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(sorted(succ[child]))))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
        return sorted(out)


# ---------------------------------------------------------------- output


def summary(g: Graph, kinds: tuple[str, ...]) -> str:
    pairs = g.pairs(kinds)
    by_kind = {k: sum(1 for e in pairs.values() if e.kind == k) for k in kinds}
    cycles = g.cycles(kinds)
    lines = [
        f"{len(g.modules)} modules, {len(pairs)} edges ("
        + ", ".join(f"{k} {n}" for k, n in by_kind.items())
        + f"), {len(cycles)} cycle(s)"
    ]
    for comp in cycles:
        members = set(comp)
        lines.append(f"cycle: {' <-> '.join(comp)}")
        for e in sorted(g.edges, key=lambda e: (e.file, e.line)):
            if e.src in members and e.dst in members and e.kind in kinds:
                via = " (its __init__ runs first)" if e.via else ""
                lines.append(f"  {e.file}:{e.line}: {e.src} -> {e.dst} [{e.kind}]{via}")
    return "\n".join(lines)


_DOT_STYLE = {
    "top": "solid",
    "local": "dashed",
    "typing": "dotted",
    "dynamic": "dashed",
}


def dot(g: Graph, kinds: tuple[str, ...]) -> str:
    in_cycle = {m for comp in g.cycles(kinds) for m in comp}
    lines = ["digraph imports {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for name in sorted(g.modules):
        color = ", color=red, fontcolor=red" if name in in_cycle else ""
        lines.append(f'  "{name}" [label="{name}"{color}];')
    for (src, dst), e in sorted(g.pairs(kinds).items()):
        red = ", color=red" if src in in_cycle and dst in in_cycle else ""
        lines.append(f'  "{src}" -> "{dst}" [style={_DOT_STYLE[e.kind]}, tooltip="{e.kind}"{red}];')
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--dot", action="store_true", help="print the graph in Graphviz dot")
    out.add_argument("--json", action="store_true", help="print modules, edges and cycles as JSON")
    ap.add_argument("--runtime", action="store_true", help="leave TYPE_CHECKING imports out")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    if not (root / "pyproject.toml").is_file():
        print(
            f"import_graph: {root}: no pyproject.toml (fix: pass the project root)", file=sys.stderr
        )
        return 2
    try:
        g = Graph(root)
    except ValueError as exc:
        print(f"import_graph: {exc} (fix that file)", file=sys.stderr)
        return 2
    kinds = tuple(k for k in KINDS if not (args.runtime and k == "typing"))
    cycles = g.cycles(kinds)
    if args.dot:
        print(dot(g, kinds))
    elif args.json:
        doc = {
            "modules": sorted(g.modules),
            "edges": [asdict(e) for e in g.edges if e.kind in kinds],
            "cycles": cycles,
        }
        print(json.dumps(doc, indent=1))
    else:
        print(summary(g, kinds))
    return 1 if cycles else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head`: the reader has gone, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
