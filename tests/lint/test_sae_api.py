"""The linter's tables of `sae` API facts (validators/sae_api.py) agree with the library: our
runtime (inspect.signature; skipped without torch), the reference source (parsed), and the
reference runtime in .venv-ref when that virtualenv exists."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
from pathlib import Path

import pytest
from recipegen.validators import sae_api
from recipegen.validators.facts_python import OPT_IN as PY_OPT_IN
from recipegen.validators.facts_python import POSITIONAL as PY_POSITIONAL
from recipegen.validators.facts_shell import _KNOWN_BOOL

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "bionemo-sae" / "src" / "sae"


def _check(params: dict[str, object]) -> None:
    """`params`: {call: [(name, default-or-'<empty>'), ...]} in signature order, self dropped."""
    for call, expected in sae_api.POSITIONAL.items():
        names = [n for n, _ in params[call]]
        assert names[: len(expected)] == expected, (call, names)
    defaults = {(c, n): d for c, ps in params.items() for n, d in ps}
    for call, kw in sae_api.OPT_IN.values():
        assert (call, kw) in defaults, f"{call} has no parameter {kw}"
    for kw in filter(None, sae_api.BOOL_FLAGS.values()):
        assert isinstance(defaults[("TopKSAE", kw)], bool), kw
    for flag, (call, kw) in sae_api.OPT_IN.items():
        if flag in sae_api.BOOL_FLAGS:
            continue
        assert defaults[(call, kw)] == 1, (flag, call, kw)  # shard counts default to 1


def _runtime_params() -> dict:
    out = {}
    for call, (module, cls, attr) in sae_api.SIGNATURE_OWNERS.items():
        fn = getattr(getattr(importlib.import_module(module), cls), attr)
        ps = list(inspect.signature(fn).parameters.values())[1:]
        out[call] = [
            (p.name, "<empty>" if p.default is inspect.Parameter.empty else p.default) for p in ps
        ]
    return out


def test_one_definition_of_each_table():
    assert PY_OPT_IN is sae_api.OPT_IN and PY_POSITIONAL is sae_api.POSITIONAL
    assert set(sae_api.BOOL_FLAGS) == set(_KNOWN_BOOL)
    assert {sae_api.feature_of(f) for f in sae_api.OPT_IN} == sae_api.ALL_FEATURES


def test_tables_match_our_runtime():
    pytest.importorskip("torch")
    _check(_runtime_params())


def _reference_params() -> dict:
    out = {}
    for call, (module, cls, attr) in sae_api.SIGNATURE_OWNERS.items():
        rel = module.split(".", 1)[1].replace(".", "/")
        path = REFERENCE / f"{rel}.py"
        if not path.is_file():
            path = REFERENCE / rel / "topk.py"  # architectures is a package
        tree = ast.parse(path.read_text(encoding="utf-8"))
        klass = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls)
        fn = next(n for n in klass.body if isinstance(n, ast.FunctionDef) and n.name == attr)
        args = fn.args.args[1:]
        defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
        out[call] = [(a.arg, _default(d)) for a, d in zip(args, defaults, strict=True)]
    return out


def _default(node):
    if node is None:
        return "<empty>"
    try:
        return ast.literal_eval(node)
    except ValueError:  # an expression such as 1 / 32
        return ast.unparse(node)


def test_tables_match_reference_source():
    if not REFERENCE.is_dir():
        pytest.skip("reference library not present")
    _check(_reference_params())


def test_tables_match_reference_runtime(reference_python):
    code = (
        "import importlib, inspect, json\n"
        f"owners = {sae_api.SIGNATURE_OWNERS!r}\n"
        "out = {}\n"
        "for call, (m, c, a) in owners.items():\n"
        "    fn = getattr(getattr(importlib.import_module(m), c), a)\n"
        "    ps = list(inspect.signature(fn).parameters.values())[1:]\n"
        "    out[call] = [(p.name, None if p.default is inspect.Parameter.empty else p.default)"
        " for p in ps]\n"
        "print(json.dumps(out, default=str))\n"
    )
    res = subprocess.run(
        [str(reference_python), "-c", code], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    params = {k: [tuple(p) for p in v] for k, v in json.loads(res.stdout).items()}
    _check(params)


def test_default_lr_schedule_matches_runtime_and_reference():
    if REFERENCE.is_dir():
        tree = ast.parse((REFERENCE / "training.py").read_text(encoding="utf-8"))
        klass = next(
            n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "TrainingConfig"
        )
        field = next(
            n
            for n in klass.body
            if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "lr_schedule"
        )
        assert ast.literal_eval(field.value) == sae_api.DEFAULT_LR_SCHEDULE
    pytest.importorskip("torch")
    from sae.training import TrainingConfig

    default = inspect.signature(TrainingConfig).parameters["lr_schedule"].default
    assert default == sae_api.DEFAULT_LR_SCHEDULE


def test_sae_version_features():
    assert sae_api.features_for_version("0.1.0") == sae_api.ALL_FEATURES
    assert sae_api.features_for_version("0.0.9") == {"normalize-input"}
    with pytest.raises(ValueError, match="sae-version"):
        sae_api.parse_version("newest")
