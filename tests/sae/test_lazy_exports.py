"""`import sae` is light (PEP 562 lazy re-exports) and the whole public surface still resolves.

Each check runs in a fresh interpreter: what an import loads depends on what was imported before.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# modules only there to match the reference's surface: no recipe path may load them
COMPAT_ONLY = {
    "sae.autointerp.interpreter",
    "sae.autointerp.llm",
    "sae.autointerp.sampler",
    "sae.benchmarks.bench_decoder",
    "sae.collector",
    "sae.process_group_manager",
    "sae.streaming",
}


def _run(code: str):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _loaded(imports: str) -> set[str]:
    code = f"{imports}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return set(_run(code))


def test_import_sae_loads_nothing_else():
    loaded = _loaded("import sae")
    # sae.autointerp's __init__ is a lazy table too (sae re-exports its names from it)
    assert {m for m in loaded if m.startswith("sae")} == {"sae", "sae._lazy", "sae.autointerp"}
    assert "torch" not in loaded


def test_recipe_imports_leave_compat_only_modules_unloaded():
    # what the rendered recipes import (train, eval, analyze, launch)
    loaded = _loaded(
        "import sae.activation_store, sae.architectures, sae.eval, sae.parallel, sae.training\n"
        "from sae.utils import set_seed\n"
        "from sae.analysis import scan_activations\n"
        "from sae.dashboard import build_dashboard"
    )
    assert "sae.training" in loaded and "sae.architectures.topk" in loaded
    assert not COMPAT_ONLY & loaded, sorted(COMPAT_ONLY & loaded)
    assert not COMPAT_ONLY & _loaded("import sae.autointerp")


def test_every_exported_name_resolves_to_its_submodule_object():
    code = """
import importlib, json, sae, sae.autointerp
bad = []
for pkg in (sae, sae.autointerp):
    for module, names in pkg._EXPORTS.items():
        sub = importlib.import_module(module, pkg.__name__)
        bad += [f"{pkg.__name__}.{n}" for n in names if getattr(pkg, n) is not getattr(sub, n)]
    assert len(pkg.__all__) == len(set(pkg.__all__)), pkg.__name__
    assert set(pkg.__all__) <= set(dir(pkg))
print(json.dumps(bad))
"""
    assert _run(code) == []


def test_star_import_submodule_attribute_and_unknown_name():
    code = """
import json
ns = {}
exec("from sae import *", ns)
import sae
try:
    sae.no_such_name
    unknown = None
except AttributeError as exc:
    unknown = str(exc)
print(json.dumps([sorted(set(sae.__all__) - set(ns)), sae.parallel.train_tp_loop.__name__, unknown]))
"""
    missing, fn, unknown = _run(code)
    assert missing == []
    assert fn == "train_tp_loop"  # a submodule is an attribute of the package, as before
    assert unknown == "module 'sae' has no attribute 'no_such_name'"


def _reference_all() -> list[str] | None:
    for parent in REPO.parents:
        init = parent / "shared" / "reference" / "bionemo-sae" / "src" / "sae" / "__init__.py"
        if init.is_file():
            for node in ast.parse(init.read_text()).body:
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
                    return [ast.literal_eval(e) for e in node.value.elts]
    return None


def test_every_reference_export_resolves():
    names = _reference_all()
    if names is None:
        pytest.skip("no reference library (shared/reference/bionemo-sae) beside or above the repo")
    code = f"""
import json, sae
names = {names!r}
print(json.dumps([n for n in names if n not in sae.__all__ or getattr(sae, n, None) is None]))
"""
    assert _run(code) == []
