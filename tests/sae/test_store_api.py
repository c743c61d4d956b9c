"""The store and streaming modules offer the reference library's public surface (names,
signatures, defaults, return types), plus the layout switch and the DataLoader face."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sae import activation_store, streaming
from sae.activation_store import ActivationStore, ActivationStoreConfig, save_activations

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared/reference/bionemo-sae/src/sae"

# Deliberate differences, each with its reason (everything else must match exactly).
DEVIATIONS = {
    # uncompressed by default: float activations barely compress and the direct read path needs
    # it; values and readability by both libraries are unaffected, the codec stays an option
    ("ActivationStoreConfig", "compression"),
    ("save_activations", "compression"),
}


def _reference_api(module: str) -> dict[str, list[tuple[str, object]]]:
    """{qualified public name: [(param, default or ...)]} parsed from the reference source."""
    path = REFERENCE / f"{module}.py"
    if not path.is_file():
        pytest.skip(f"{path} not present (fresh clone without ../shared)")
    tree = ast.parse(path.read_text())
    api: dict[str, list] = {}

    def params(fn: ast.FunctionDef) -> list:
        args = fn.args.args
        defaults = [...] * (len(args) - len(fn.args.defaults)) + [
            ast.literal_eval(d) for d in fn.args.defaults
        ]
        return [(a.arg, d) for a, d in zip(args, defaults, strict=True) if a.arg != "self"]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            api[node.name] = params(node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            fields = [
                (n.target.id, ast.literal_eval(n.value) if n.value else ...)
                for n in node.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            ]
            api[node.name] = fields
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (
                    not item.name.startswith("_") or item.name in ("__init__", "_load_shard")
                ):
                    api[f"{node.name}.{item.name}"] = params(item)
    return api


@pytest.mark.parametrize("module", ["activation_store", "streaming"])
def test_reference_public_surface_matches(module):
    ours = {"activation_store": activation_store, "streaming": streaming}[module]
    for name, ref_params in _reference_api(module).items():
        obj = ours
        for part in name.split("."):
            assert hasattr(obj, part), f"{module}.{name} is missing"
            obj = getattr(obj, part)
        if (
            inspect.isclass(obj)
            and ref_params
            and "." not in name
            and hasattr(obj, "__dataclass_fields__")
        ):
            got = [(f, obj.__dataclass_fields__[f].default) for f, _ in ref_params]
        elif inspect.isclass(obj) or isinstance(obj, property):
            continue  # a plain class: its methods are checked one by one
        else:
            params = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
            empty = inspect.Parameter.empty
            got = [(p.name, ... if p.default is empty else p.default) for p in params]
            extra = got[len(ref_params) :]  # our extensions: optional only
            assert all(d is not ... for _, d in extra), f"{name}: required extra {extra}"
            got = got[: len(ref_params)]
        for (rp, rd), (gp, gd) in zip(ref_params, got, strict=True):
            assert rp == gp, f"{module}.{name}: parameter {gp!r}, reference has {rp!r}"
            if (name.split(".")[0], rp) not in DEVIATIONS:
                assert rd == gd, f"{module}.{name}({rp}=...): default {gd!r}, reference {rd!r}"
    assert activation_store.HAS_PARQUET is True


def test_load_activations_shards_and_arrays_like_the_reference(tmp_path):
    x = np.random.default_rng(0).standard_normal((250, 6)).astype(np.float32)
    store = save_activations(x, tmp_path / "s", 100)
    assert isinstance(store, ActivationStore)
    loaded = activation_store.load_activations(tmp_path / "s")
    assert isinstance(loaded, ActivationStore) and loaded.n_samples == 250
    shard = loaded._load_shard(1)
    assert isinstance(shard, np.ndarray) and shard.flags.writeable
    assert np.array_equal(shard, x[100:200])
    shards = list(loaded.iter_shards(shuffle_shards=False))
    assert all(isinstance(s, np.ndarray) for s in shards)
    assert np.array_equal(np.concatenate(shards), x)
    firsts = {float(next(loaded.iter_shards(seed=seed))[0, 0]) for seed in range(8)}
    assert len(firsts) > 1  # shuffles by default
    again = zip(loaded.iter_shards(seed=4), loaded.iter_shards(seed=4), strict=True)
    assert all(np.array_equal(a, b) for a, b in again)  # seeded
    rows = np.concatenate(list(loaded.iter_shards(seed=4)))
    assert np.array_equal(np.sort(rows, axis=0), np.sort(x, axis=0))


def test_reference_layout_written_on_request_default_fast(tmp_path):
    x = np.random.default_rng(1).standard_normal((120, 5)).astype(np.float32)
    ref = ActivationStore(tmp_path / "ref", ActivationStoreConfig(50, layout="reference"))
    ref.save(x)
    assert pq.read_schema(tmp_path / "ref" / "shard_00000.parquet").names == [
        f"dim_{j}" for j in range(5)
    ]
    meta = json.loads((tmp_path / "ref" / "metadata.json").read_text())
    assert meta["layout"] == "reference" and meta["compression"] is None
    assert np.array_equal(ActivationStore(tmp_path / "ref").load_all().numpy(), x)
    save_activations(x, tmp_path / "fast", 50, "zstd")
    meta = json.loads((tmp_path / "fast" / "metadata.json").read_text())
    assert meta["layout"] == "fsb" and meta["compression"] == "zstd"
    assert pq.read_schema(tmp_path / "fast" / "shard_00000.parquet").names == ["activations"]
    assert np.array_equal(ActivationStore(tmp_path / "fast").load_all().numpy(), x)
    with pytest.raises(ValueError, match="layout"):
        ActivationStoreConfig(layout="columns")
    with pytest.raises(ValueError, match="compression"):
        ActivationStoreConfig(compression="nope")


def test_streaming_loader_is_a_dataloader_with_reference_attributes(tmp_path):
    x = torch.arange(400.0)[:, None]
    store = save_activations(x, tmp_path / "s", 100)
    loader = store.get_streaming_dataloader(batch_size=50, shuffle=False, world_size=2, rank=1)
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert loader.dataset.shard_indices == [2, 3] and len(loader) == 4
    assert torch.equal(torch.cat(list(loader)), x[200:])
    loader.dataset.max_batches = 3  # the reference's knob to align ranks
    assert len(loader) == 3 and len(list(loader)) == 3
    with pytest.raises(ValueError, match="fewer than batch_size"):
        store.get_streaming_dataloader()  # batch_size 4096 by default: more than the store
