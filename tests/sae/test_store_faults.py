"""Bad values never enter or leave a store silently: non-finite appends, float16 overflow,
flipped bytes in a data page, junk metadata.json fields, shards shorter than recorded."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sae.activation_store import (
    ActivationStore,
    ActivationStoreConfig,
    StoreError,
    save_activations,
    shard_name,
    write_shard,
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_append_refused_with_row_and_shard(tmp_path, bad, dtype):
    store = ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=10))
    store.append(torch.zeros(25, 4))  # store rows 0..24; shards 0 and 1 already written
    x = torch.zeros(8, 4, dtype=dtype)
    x[6, 2] = bad
    with pytest.raises(
        StoreError,
        match=r"non-finite .*row 6 of this block \(store row 31, column 2, shard shard_00003\.parquet",
    ):
        store.append(x)
    # the refused block left nothing behind; the store can still be finished
    store.append(torch.ones(5, 4))
    store.finalize()
    assert ActivationStore(tmp_path / "s").n_samples == 30
    assert torch.isfinite(ActivationStore(tmp_path / "s").load_all()).all()


def test_float16_overflow_refused(tmp_path):
    store = ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=4, dtype="float16"))
    x = torch.zeros(3, 5)
    x[1, 4] = 1e6
    with pytest.raises(StoreError, match=r"1000000\.0 at row 1 .*column 4.*overflows float16"):
        store.append(x)
    assert not list((tmp_path / "s").glob("shard_*"))
    store.append(torch.full((3, 5), 60000.0))  # large but representable
    store.finalize()
    assert float(ActivationStore(tmp_path / "s").load_all().max()) == 60000.0


def _flip_data_byte(path, offset_from_end_of_data: int = 7) -> None:
    """Flip one byte inside the first data page's values (not its header, not the footer)."""
    col = pq.read_metadata(path).row_group(0).column(0)
    pos = col.data_page_offset + col.total_compressed_size - offset_from_end_of_data
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "compression, layout", [(None, "fsb"), ("snappy", "fsb"), (None, "reference")]
)
def test_flipped_byte_in_a_data_page_is_an_error_naming_the_file(tmp_path, compression, layout):
    x = np.random.default_rng(0).standard_normal((60, 8)).astype(np.float32)
    config = ActivationStoreConfig(shard_size=30, compression=compression, layout=layout)
    ActivationStore(tmp_path / "s", config).save(x)
    assert ActivationStore(tmp_path / "s").metadata["page_checksums"] is True
    _flip_data_byte(tmp_path / "s" / shard_name(1))
    store = ActivationStore(tmp_path / "s")
    assert np.array_equal(store.read_shard(0), x[:30])  # the other shard is fine
    for read in (
        store.load_all,
        lambda: store._load_shard(1),
        lambda: list(store.get_streaming_dataloader(10, shuffle=False)),
    ):
        with pytest.raises(StoreError, match=r"shard_00001\.parquet is corrupt.*(CRC|checksum)"):
            read()


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_samples", "60"),
        ("n_samples", -1),
        ("hidden_dim", 8.5),
        ("hidden_dim", True),
        ("n_shards", None),
        ("shard_size", [30]),
        ("shard_rows", "30,30"),
        ("shard_rows", [30, "30"]),
        ("dtype", "bfloat16"),
        ("layout", 3),
        ("compression", 5),
    ],
)
def test_junk_metadata_types_name_file_and_field(tmp_path, field, value):
    save_activations(np.zeros((60, 8), np.float32), tmp_path / "s", 30)
    meta_file = tmp_path / "s" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta[field] = value
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match=rf"metadata\.json: field '{field}' must be"):
        _ = ActivationStore(tmp_path / "s").n_samples


def test_inconsistent_shard_rows_and_missing_fields_named(tmp_path):
    save_activations(np.zeros((60, 8), np.float32), tmp_path / "s", 30)
    meta_file = tmp_path / "s" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "shard_rows": [30, 20]}))
    with pytest.raises(StoreError, match=r"metadata\.json: field 'shard_rows'.*disagrees"):
        _ = ActivationStore(tmp_path / "s").n_samples
    del meta["hidden_dim"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match=r"metadata\.json lacks required field 'hidden_dim'"):
        _ = ActivationStore(tmp_path / "s").hidden_dim
    meta_file.write_text("[1, 2]")
    with pytest.raises(StoreError, match=r"metadata\.json must hold a JSON object"):
        _ = ActivationStore(tmp_path / "s").n_samples


def test_shard_shorter_than_recorded_names_the_file(tmp_path):
    x = torch.arange(90.0)[:, None]
    save_activations(x, tmp_path / "s", 30)
    write_shard(tmp_path / "s" / shard_name(1), np.zeros((12, 1), np.float32), None)
    store = ActivationStore(tmp_path / "s")
    with pytest.raises(StoreError, match=r"shard_00001\.parquet holds 12 rows but metadata"):
        list(store.get_streaming_dataloader(10, shuffle=False))
    with pytest.raises(StoreError, match=r"shard_00001\.parquet holds 12 x 1 values"):
        store.load_all()
