"""ActivationStore: writing, atomic finalize, both layouts, errors, sampling, streaming, merge."""

from __future__ import annotations

import gc
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sae.activation_store import (
    ActivationStore,
    ActivationStoreConfig,
    StoreError,
    load_activations,
    merge_stores,
    save_activations,
    shard_name,
    wait_for_stores,
    write_shard,
)


def _write(path, x, shard_size, dtype=None, chunk=97):
    store = ActivationStore(path, ActivationStoreConfig(shard_size=shard_size, dtype=dtype))
    for c in torch.as_tensor(x).split(chunk):
        store.append(c)
    store.finalize({"model_name": "tiny", "layer": 3})
    return store


def test_roundtrip_fp32_metadata(tmp_path):
    x = torch.randn(1000, 24)
    store = _write(tmp_path / "s", x, shard_size=300)
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["n_samples"] == 1000 and meta["hidden_dim"] == 24 and meta["n_shards"] == 4
    assert meta["shard_size"] == 300 and meta["dtype"] == "float32" and meta["layout"] == "fsb"
    assert meta["model_name"] == "tiny" and meta["layer"] == 3
    assert meta["shard_rows"] == [300, 300, 300, 100]
    assert sorted(p.name for p in (tmp_path / "s").glob("shard_*")) == [
        f"shard_{i:05d}.parquet" for i in range(4)
    ]
    assert torch.equal(load_activations(tmp_path / "s").load_all(), x)
    assert store.n_samples == 1000 and store.hidden_dim == 24


def test_dtype_from_first_append_and_from_config(tmp_path):
    x = torch.randn(200, 8)
    _write(tmp_path / "a", x.half(), shard_size=64)
    assert ActivationStore(tmp_path / "a").metadata["dtype"] == "float16"
    assert torch.equal(load_activations(tmp_path / "a").load_all(), x.half().float())
    _write(tmp_path / "b", x, shard_size=64, dtype="float16")
    assert ActivationStore(tmp_path / "b").metadata["dtype"] == "float16"
    assert ActivationStore(tmp_path / "b").read_shard(0).dtype == np.float16


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.randn(4, 8).bfloat16(), r"bfloat16.*\.float\(\)"),
        (torch.randn(2, 4, 8), "2-D"),
        (np.zeros((4, 8), dtype=np.int32), "unsupported dtype"),
    ],
)
def test_append_refuses_bad_input(tmp_path, bad, match):
    store = ActivationStore(tmp_path / "s")
    with pytest.raises((TypeError, ValueError), match=match):
        store.append(bad)


def test_append_refuses_width_change(tmp_path):
    store = ActivationStore(tmp_path / "s")
    store.append(torch.randn(4, 8))
    with pytest.raises(ValueError, match="hidden_dim 8"):
        store.append(torch.randn(4, 9))


def test_crashed_store_refused_everywhere(tmp_path):
    path = tmp_path / "crashed"
    store = ActivationStore(path, ActivationStoreConfig(shard_size=10))
    store.append(torch.randn(35, 4))  # three full shards written, never finalized
    assert len(list(path.glob("shard_*.parquet"))) == 3
    assert not (path / "metadata.json").exists()
    for read in (
        lambda: ActivationStore(path).n_samples,
        lambda: load_activations(path).load_all(),
        lambda: ActivationStore(path).get_streaming_dataloader(4),
        lambda: ActivationStore(path).sample(4),
    ):
        with pytest.raises(StoreError, match="no metadata.json.*crashed.*re-run extraction"):
            read()


def test_rerun_into_crashed_dir_replaces_stale_shards(tmp_path):
    path = tmp_path / "s"
    ActivationStore(path, ActivationStoreConfig(shard_size=10)).append(torch.randn(55, 4))
    x = torch.randn(12, 4)
    _write(path, x, shard_size=10)
    assert ActivationStore(path).n_shards == 2
    assert torch.equal(load_activations(path).load_all(), x)


def test_refuses_to_overwrite_finalized_store(tmp_path):
    _write(tmp_path / "s", torch.randn(10, 4), shard_size=10)
    with pytest.raises(StoreError, match="already holds a finalized store"):
        ActivationStore(tmp_path / "s").append(torch.randn(3, 4))


def test_metadata_written_last_and_atomically(tmp_path, monkeypatch):
    events = []
    real_replace = os.replace

    def spy(src, dst):
        events.append(os.path.basename(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    _write(tmp_path / "s", torch.randn(25, 4), shard_size=10)
    assert events[-1] == "metadata.json"
    assert events[:-1] == [f"shard_{i:05d}.parquet" for i in range(3)]
    assert not list((tmp_path / "s").glob(".*tmp*"))


def _write_reference(path, x, shard_size):
    path.mkdir(parents=True)
    x = np.asarray(x)
    n_shards = 0
    for i in range(0, len(x), shard_size):
        part = x[i : i + shard_size]
        cols = {f"dim_{j}": pa.array(part[:, j]) for j in range(x.shape[1])}
        pq.write_table(pa.table(cols), path / f"shard_{n_shards:05d}.parquet")
        n_shards += 1
    meta = {"n_samples": len(x), "hidden_dim": x.shape[1], "n_shards": n_shards}
    (path / "metadata.json").write_text(json.dumps(meta))


def test_reference_layout_reads_back_equal(tmp_path):
    x = np.random.default_rng(0).standard_normal((230, 16)).astype(np.float32)
    _write_reference(tmp_path / "ref", x, shard_size=100)
    store = ActivationStore(tmp_path / "ref")
    assert store.shard_rows == [100, 100, 30]
    assert np.array_equal(load_activations(tmp_path / "ref").load_all().numpy(), x)
    batches = list(store.get_streaming_dataloader(10, shuffle=False))
    assert np.array_equal(torch.cat(batches).numpy(), x[:230])


def test_missing_truncated_and_corrupt_shards_are_named(tmp_path):
    x = torch.randn(300, 8)
    for name in ("missing", "truncated", "corrupt"):
        _write(tmp_path / name, x, shard_size=100)
    (tmp_path / "missing" / "shard_00001.parquet").unlink()
    trunc = tmp_path / "truncated" / "shard_00002.parquet"
    trunc.write_bytes(trunc.read_bytes()[: trunc.stat().st_size // 2])
    corrupt = tmp_path / "corrupt" / "shard_00000.parquet"
    data = bytearray(corrupt.read_bytes())
    data[4 : len(data) - 8] = bytes(len(data) - 12)
    corrupt.write_bytes(bytes(data))
    cases = {
        "missing": "shard_00001.parquet",
        "truncated": "shard_00002.parquet",
        "corrupt": "shard_00000.parquet",
    }
    for name, shard in cases.items():
        with pytest.raises(StoreError, match=shard):
            load_activations(tmp_path / name).load_all()
        with pytest.raises(StoreError, match=shard):
            list(ActivationStore(tmp_path / name).get_streaming_dataloader(50, shuffle=False))


def test_sample_spreads_across_shards(tmp_path):
    # row value = its shard index, so the sample reveals where it came from
    x = torch.arange(10).repeat_interleave(50)[:, None].float().expand(-1, 4).contiguous()
    store = _write(tmp_path / "s", x, shard_size=50)
    s = store.sample(90, seed=3, num_shards=3)
    assert s.shape == (90, 4) and s.dtype == torch.float32
    origins = torch.unique(s[:, 0])
    assert len(origins) == 3
    assert torch.equal(store.sample(90, seed=3, num_shards=3), s)
    assert len(torch.unique(store.sample(40, seed=1, num_shards=1)[:, 0])) == 1


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("mix", [1, 3])
def test_streaming_equal_batches_disjoint_rows(tmp_path, world, mix):
    # uneven shards: 7 x 100-row shards + a 37-row partial one; rows carry unique ids
    n = 737
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    store = _write(tmp_path / "s", x, shard_size=100)
    bs = 32
    loaders = [
        store.get_streaming_dataloader(
            bs, shuffle=True, seed=5, rank=r, world_size=world, mix_shards=mix
        )
        for r in range(world)
    ]
    expected = n // (bs * world)
    seen = []
    for loader in loaders:
        assert len(loader) == expected
        batches = list(loader)
        assert len(batches) == expected
        assert all(b.shape == (bs, 3) and b.dtype == torch.float32 for b in batches)
        seen.append(torch.cat(batches)[:, 0])
    ids = torch.cat(seen)
    assert len(torch.unique(ids)) == len(ids) == expected * bs * world


def test_streaming_epochs_differ_and_are_reproducible(tmp_path):
    store = _write(tmp_path / "s", torch.arange(500.0)[:, None], shard_size=100)
    loader = store.get_streaming_dataloader(50, shuffle=True, seed=1, mix_shards=2)
    e0 = torch.cat(list(loader))
    loader.set_epoch(1)
    e1 = torch.cat(list(loader))
    loader.set_epoch(0)
    assert torch.equal(torch.cat(list(loader)), e0)
    assert not torch.equal(e0, e1)
    loader.set_position(0, 3)
    assert torch.equal(torch.cat(list(loader)), e0[150:])


def test_streaming_mix_shards_blends(tmp_path):
    x = torch.arange(10).repeat_interleave(100)[:, None].float()
    store = _write(tmp_path / "s", x, shard_size=100)
    one = next(iter(store.get_streaming_dataloader(50, shuffle=True, seed=0, mix_shards=1)))
    four = next(iter(store.get_streaming_dataloader(50, shuffle=True, seed=0, mix_shards=4)))
    assert len(torch.unique(one)) == 1
    assert len(torch.unique(four)) > 1


def test_streaming_max_shards_and_too_large_batch(tmp_path):
    store = _write(tmp_path / "s", torch.randn(500, 4), shard_size=100)
    assert len(store.get_streaming_dataloader(50, max_shards=2)) == 4
    with pytest.raises(ValueError, match="fewer than batch_size x world_size"):
        store.get_streaming_dataloader(400, world_size=2)
    with pytest.raises(ValueError, match="rank"):
        store.get_streaming_dataloader(4, rank=2, world_size=2)


def test_save_merge_and_wait(tmp_path):
    a, b = torch.randn(30, 4), torch.randn(25, 4)
    save_activations(a, tmp_path / ".rank_0", 20)
    save_activations(b, tmp_path / ".rank_1", 20)
    srcs = [tmp_path / ".rank_0", tmp_path / ".rank_1"]
    wait_for_stores(srcs, timeout_s=1, poll_s=0.01)
    n = merge_stores(srcs, tmp_path / "merged", metadata={"model_name": "m"})
    assert n == 4
    meta = ActivationStore(tmp_path / "merged").metadata
    assert meta["n_samples"] == 55 and meta["shard_rows"] == [20, 10, 20, 5]
    assert meta["model_name"] == "m"
    assert torch.equal(load_activations(tmp_path / "merged").load_all(), torch.cat([a, b]))
    (tmp_path / "pending").mkdir()
    with pytest.raises(TimeoutError, match="pending"):
        wait_for_stores([tmp_path / "merged", tmp_path / "pending"], timeout_s=0.05, poll_s=0.01)


def test_get_dataloader_streams_every_row(tmp_path):
    x = torch.arange(100.0)[:, None].repeat(1, 4)
    store = _write(tmp_path / "s", x, shard_size=30)
    loader = store.get_dataloader(batch_size=25, shuffle=False)
    assert isinstance(loader, torch.utils.data.DataLoader) and len(loader) == 4
    assert torch.equal(torch.cat(list(loader)), x)
    shuffled = store.get_dataloader(batch_size=16, shuffle=True, seed=2)
    batches = list(shuffled)
    assert [len(b) for b in batches] == [16] * 6 + [4]  # the last batch may be short
    ids = torch.cat(batches)[:, 0]
    assert torch.equal(ids.sort().values, x[:, 0]) and not torch.equal(ids, x[:, 0])
    assert torch.equal(torch.cat(list(store.get_dataloader(16, True, seed=2))), torch.cat(batches))
    # with workers each reads its own shards: still every row exactly once
    two = torch.cat(list(store.get_dataloader(batch_size=8, shuffle=False, num_workers=2)))
    assert torch.equal(two[:, 0].sort().values, x[:, 0])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shard_rows=st.lists(st.integers(1, 60), min_size=1, max_size=6),
    world=st.integers(1, 4),
    batch_size=st.integers(1, 16),
    mix=st.integers(1, 3),
    shuffle=st.booleans(),
)
def test_streaming_equal_batches_property(
    tmp_path_factory, shard_rows, world, batch_size, mix, shuffle
):
    """Any shard sizes: every rank yields len() full batches of distinct rows, or a clear error."""
    path = tmp_path_factory.mktemp("prop")
    ids = torch.arange(sum(shard_rows), dtype=torch.float32)[:, None]
    for i, chunk in enumerate(ids.split(shard_rows)):
        write_shard(path / shard_name(i), chunk.numpy(), None)
    meta = {
        "n_samples": len(ids),
        "hidden_dim": 1,
        "n_shards": len(shard_rows),
        "shard_size": max(shard_rows),
        "shard_rows": shard_rows,
    }
    (path / "metadata.json").write_text(json.dumps(meta))
    store = ActivationStore(path)
    expected = len(ids) // (batch_size * world)
    if expected == 0:
        with pytest.raises(ValueError, match="batch_size x world_size"):
            store.get_streaming_dataloader(batch_size, world_size=world)
        return
    seen = []
    for rank in range(world):
        loader = store.get_streaming_dataloader(
            batch_size,
            shuffle=shuffle,
            seed=3,
            rank=rank,
            world_size=world,
            mix_shards=mix,
            prefetch=0,
        )
        batches = list(loader)
        assert len(loader) == len(batches) == expected
        assert all(b.shape == (batch_size, 1) for b in batches)
        seen.append(torch.cat(batches)[:, 0])
    all_ids = torch.cat(seen)
    assert len(torch.unique(all_ids)) == len(all_ids)


# ---------------------------------------------------------------- one writer per store, faults
WRITER = """
import sys, time, numpy as np
from sae.activation_store import ActivationStore, ActivationStoreConfig, StoreError
path, value, hold = sys.argv[1], float(sys.argv[2]), sys.argv[3]
store = ActivationStore(path, ActivationStoreConfig(shard_size=10))
try:
    store.append(np.full((25, 4), value, dtype=np.float32))
except StoreError as exc:
    print("REFUSED", exc, flush=True)
    sys.exit(3)
print("WRITING", flush=True)
if hold != "-":
    deadline = time.monotonic() + 60
    while not __import__("os").path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.02)
store.append(np.full((5, 4), value, dtype=np.float32))
store.finalize()
print("DONE", flush=True)
"""


def _writer(path, value, hold="-"):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(value), str(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_writer_process_fails_at_once_naming_the_holder(tmp_path):
    import socket
    import time

    path, go = tmp_path / "store", tmp_path / "go"
    first = _writer(path, 1.0, hold=go)
    assert first.stdout.readline().strip() == "WRITING"
    t0 = time.monotonic()
    second = _writer(path, 2.0)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 3, (out, err)
    assert time.monotonic() - t0 < 30  # refused, not blocked until the first one finished
    assert f"pid={first.pid}" in out and f"host={socket.gethostname()}" in out, out
    assert str(path) in out and "another process" in out
    go.touch()
    rest, err = first.communicate(timeout=60)
    assert first.returncode == 0 and "DONE" in rest, err
    data = ActivationStore(path).load_all()
    assert data.shape == (30, 4) and bool((data == 1.0).all())  # only the holder's rows
    assert not (path / ".writer.lock").exists()  # finalize removed it


def test_a_killed_writers_lock_is_retaken_and_a_second_object_in_one_process_is_refused(
    tmp_path,
):
    import signal

    path = tmp_path / "store"
    dead = _writer(path, 1.0, hold=tmp_path / "never")
    assert dead.stdout.readline().strip() == "WRITING"
    dead.send_signal(signal.SIGKILL)
    dead.wait(30)
    assert (path / ".writer.lock").exists() and (path / shard_name(0)).exists()
    # the kernel dropped the dead writer's lock: a new writer starts over
    mine = ActivationStore(path, ActivationStoreConfig(shard_size=10))
    mine.append(torch.full((12, 4), 5.0))
    other = ActivationStore(path, ActivationStoreConfig(shard_size=10))
    with pytest.raises(StoreError, match=f"pid={os.getpid()}"):
        other.append(torch.zeros(3, 4))
    mine.finalize()
    assert torch.equal(ActivationStore(path).load_all(), torch.full((12, 4), 5.0))
    # merge_stores writes its destination under the same lock
    dest = tmp_path / "merged"
    dest.mkdir()
    holder = ActivationStore(dest, ActivationStoreConfig(shard_size=10))
    holder.append(torch.ones(2, 4))
    with pytest.raises(StoreError, match="another process"):
        merge_stores([path], dest)
    assert (path / shard_name(0)).exists()  # nothing was moved


def test_nan_and_null_in_a_reference_layout_shard_are_named(tmp_path):
    from sae import evaluate_sae
    from sae.architectures import TopKSAE

    x = torch.randn(40, 6)
    for name, column in (("nan", pa.array([1.0, float("nan")] + [0.0] * 18, pa.float32())),
                         ("null", pa.array([1.0, None] + [0.0] * 18, pa.float32()))):  # fmt: skip
        path = tmp_path / name
        _write_reference(path, x, shard_size=20)
        shard = path / shard_name(1)
        table = pq.read_table(shard)
        table = table.set_column(3, "dim_3", column)
        pq.write_table(table, shard)
        store = ActivationStore(path)
        with pytest.raises(
            StoreError, match=rf"shard {shard}.*(row 1, column dim_3|dim_3 holds 1 null)"
        ):
            store.load_all()
        with pytest.raises(StoreError, match=str(shard)):
            evaluate_sae(TopKSAE(6, 12, top_k=2), store, batch_size=8)
    with pytest.raises(ValueError, match="MSE is nan"):
        evaluate_sae(TopKSAE(6, 12, top_k=2), torch.full((4, 6), float("nan")), batch_size=8)


def _enospc(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_enospc_while_appending_and_finalizing_is_named_and_leaves_no_temp_file(
    tmp_path, monkeypatch
):
    """Injected: the write call itself raises OSError(ENOSPC)."""
    import sae.activation_store as store_mod
    import sae.shard_io as shard_io

    path = tmp_path / "store"
    store = ActivationStore(path, ActivationStoreConfig(shard_size=10))
    store.append(torch.ones(10, 4))
    with monkeypatch.context() as m:
        m.setattr(shard_io.pq, "write_table", _enospc)
        with pytest.raises(StoreError, match=rf"{path}: writing {shard_name(1)} failed \(No space"):
            store.append(torch.ones(10, 4))
    assert sorted(p.name for p in path.iterdir()) == [".writer.lock", shard_name(0)]

    store = ActivationStore(tmp_path / "s2", ActivationStoreConfig(shard_size=10))
    store.append(torch.ones(4, 4))
    with monkeypatch.context() as m:
        m.setattr(store_mod.json, "dump", _enospc)
        with pytest.raises(StoreError, match="writing metadata.json failed .No space.*free space"):
            store.finalize()
    left = sorted(p.name for p in (tmp_path / "s2").iterdir())
    assert left == [".writer.lock", shard_name(0)], left  # no .metadata.json.tmp.<pid>


def test_enospc_on_a_real_full_filesystem(tmp_path):
    """A real 256 KiB tmpfs (root only; skipped where mount is not allowed)."""
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        store = ActivationStore(mnt / "store", ActivationStoreConfig(shard_size=1000))
        with pytest.raises(StoreError, match=r"store/?: writing shard_\d{5}.parquet failed"):
            for _ in range(100):
                store.append(torch.randn(1000, 32))
        left = [p.name for p in (mnt / "store").iterdir()]
        assert not [n for n in left if ".tmp" in n], left
        del store  # closes the lock file, so the mount is not busy
        gc.collect()
    finally:
        gc.collect()
        subprocess.run(["umount", "--lazy", str(mnt)], check=True)


def test_claim_takes_the_lock_before_anything_is_cleared(tmp_path):
    path = tmp_path / "store"
    writer = _writer(path, 1.0, hold=tmp_path / "go")
    assert writer.stdout.readline().strip() == "WRITING"
    # a second run claiming the same path is refused before it deletes the first one's shards
    with pytest.raises(StoreError, match=f"pid={writer.pid}"):
        ActivationStore(path).claim()
    with pytest.raises(StoreError, match=f"pid={writer.pid}"):
        ActivationStore(path).claim(discard_finished=True)
    assert (path / shard_name(0)).exists() and (path / shard_name(1)).exists()
    (tmp_path / "go").touch()
    assert writer.wait(60) == 0
    # a finished store is refused, or discarded when asked (scratch stores)
    with pytest.raises(StoreError, match="already holds a finalized store"):
        ActivationStore(path).claim()
    assert not (path / ".writer.lock").exists()
    store = ActivationStore(path, ActivationStoreConfig(shard_size=10)).claim(discard_finished=True)
    assert not (path / "metadata.json").exists() and not list(path.glob("shard_*"))
    store.append(torch.full((3, 4), 7.0))
    store.finalize()
    assert torch.equal(ActivationStore(path).load_all(), torch.full((3, 4), 7.0))
