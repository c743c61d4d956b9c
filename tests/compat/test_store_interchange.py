"""Stores interchange with the reference library, for real: its own code in its own virtualenv.

A store the reference writes is read by ours, and a store ours writes with
``ActivationStoreConfig(layout="reference")`` is read by the reference; values are equal.
Skips cleanly when the reference library (``../shared/reference``) is absent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from sae.activation_store import ActivationStore, ActivationStoreConfig

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "bionemo-sae"

_REF_WRITE = """
import sys, numpy as np
from sae.activation_store import save_activations
x = np.load(sys.argv[1])
save_activations(x, sys.argv[2], 64)
"""

_REF_READ = """
import sys, numpy as np
from sae.activation_store import load_activations
store = load_activations(sys.argv[1])
rows = np.concatenate(list(store.iter_shards(shuffle_shards=False)))
batches = list(store.get_streaming_dataloader(batch_size=16, shuffle=False))
np.save(sys.argv[2], rows)
print(store.n_samples, store.hidden_dim, len(batches), sum(len(b) for b in batches))
"""


@pytest.fixture(scope="module")
def ref_python() -> str:
    if not (REFERENCE / "pyproject.toml").is_file():
        pytest.skip(f"{REFERENCE} not present (fresh clone without ../shared)")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "reference_venv.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return str(REPO / proc.stdout.strip().splitlines()[-1])


def _run(python: str, script: str, *args) -> str:
    proc = subprocess.run(
        [python, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_reference_written_store_read_by_ours(ref_python, tmp_path):
    x = np.random.default_rng(0).standard_normal((300, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _run(ref_python, _REF_WRITE, tmp_path / "x.npy", tmp_path / "ref_store")
    store = ActivationStore(tmp_path / "ref_store")
    assert store.shard_rows == [64, 64, 64, 64, 44]
    assert np.array_equal(store.load_all().numpy(), x)
    assert np.array_equal(np.concatenate(list(store.iter_shards(shuffle_shards=False))), x)
    batches = list(store.get_streaming_dataloader(32, shuffle=False))
    assert np.array_equal(np.concatenate([b.numpy() for b in batches]), x[: 9 * 32])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_our_reference_layout_read_by_reference(ref_python, tmp_path, dtype):
    x = np.random.default_rng(1).standard_normal((200, 10)).astype(np.float32)
    config = ActivationStoreConfig(shard_size=64, dtype=dtype, layout="reference")
    ActivationStore(tmp_path / "ours", config).save(x, metadata={"model": "tiny"})
    out = _run(ref_python, _REF_READ, tmp_path / "ours", tmp_path / "back.npy")
    # the reference drops a short last shard from streaming: 3 x 64 rows -> 12 batches of 16
    assert out.split() == ["200", "10", "12", "192"]
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == np.dtype(dtype)
    assert np.array_equal(back, x.astype(dtype))
