"""Same public surface as the reference for training, perf_logger, eval and utils (issue 10).

Every public name of these reference modules exists in ours, with every reference parameter and
dataclass field in the same order and with the same default; ours may only add parameters after
them, each with a default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.compat
DUMP = Path(__file__).with_name("surface_dump.py")
MODULES = [
    "sae.training",
    "sae.perf_logger",
    "sae.eval",
    "sae.eval.dead_latents",
    "sae.eval.evaluate",
    "sae.eval.loss_recovered",
    "sae.eval.reconstruction",
    "sae.eval.sparsity",
    "sae.utils",
    "sae.utils.memory",
]
# reference names that are its own imports, not its API
IGNORED = {"DDP", "DataLoader", "TensorDataset", "DistributedSampler", "Path", "field", "dataclass"}


def _dump(python: str, with_our_sae: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_our_sae:
        env["PYTHONPATH"] = str(REPO / "sae" / "src")
    proc = subprocess.run(
        [python, str(DUMP), *MODULES], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _compatible(ref: list | None, ours: list | None, where: str) -> list[str]:
    if ref is None:
        return []
    if ours is None:
        return [f"{where}: no signature in ours"]
    problems = []
    for i, item in enumerate(ref):
        if i >= len(ours) or ours[i][0] != item[0]:
            problems.append(f"{where}: parameter {i} is {item[0]!r} in the reference, ours has "
                            f"{ours[i][0] if i < len(ours) else 'nothing'!r}")  # fmt: skip
            break
        if ours[i][-1] != item[-1]:
            problems.append(f"{where}.{item[0]}: default {ours[i][-1]} != reference {item[-1]}")
    for extra in ours[len(ref) :]:
        if extra[-1] == "<required>" and extra[1] not in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            problems.append(f"{where}: extra parameter {extra[0]!r} has no default")
    return problems


def test_public_surface_matches_reference(reference_python):
    ref = _dump(str(reference_python), with_our_sae=False)
    ours = _dump(sys.executable, with_our_sae=True)
    problems = []
    for module, names in ref.items():
        for name, entry in names.items():
            if name in IGNORED or entry["kind"] not in ("class", "function"):
                continue
            mine = ours[module].get(name)
            where = f"{module}.{name}"
            if mine is None:
                problems.append(f"{where}: missing")
                continue
            if entry["kind"] == "function":
                problems += _compatible(entry["params"], mine.get("params"), where)
                continue
            problems += _compatible(entry.get("init"), mine.get("init"), where)
            problems += _compatible(entry.get("fields"), mine.get("fields"), f"{where} fields")
            for method, params in entry["methods"].items():
                if method not in mine.get("methods", {}):
                    problems.append(f"{where}.{method}: missing")
                else:
                    problems += _compatible(params, mine["methods"][method], f"{where}.{method}")
    assert not problems, "\n".join(problems)
