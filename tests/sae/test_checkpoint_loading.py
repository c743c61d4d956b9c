"""Checkpoint loading (`sae.architectures.loading`): every bad file is one `CheckpointError`
naming the file and the problem, the class comes from an allow-list, and sizes are checked
before anything is allocated. Real files written with torch.save / pickle, no mocks."""

from __future__ import annotations

import io
import os
import pickle
import resource
import zipfile

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sae.architectures import MoESAE, ReLUSAE, TopKSAE  # noqa: E402
from sae.architectures.loading import (  # noqa: E402
    ARCHITECTURES,
    CheckpointError,
    load_sae,
    read_checkpoint,
)


def _sae(**kw) -> TopKSAE:
    torch.manual_seed(0)
    return TopKSAE(input_dim=8, hidden_dim=32, top_k=4, **kw)


def _ckpt(model, **extra) -> dict:
    return {
        "model_state_dict": model.state_dict(),
        "model_config": model.config_dict(),
        "global_step": 3,
        "epoch": 0,
        "batch_in_epoch": 3,
        **extra,
    }


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "checkpoint_final.pt"
    torch.save(_ckpt(_sae()), path)
    return path


def test_a_good_checkpoint_loads_every_allowed_class(tmp_path, good):
    model = load_sae(good)
    assert isinstance(model, TopKSAE)
    assert torch.equal(model.decoder.weight, _sae().decoder.weight)
    for model in (ReLUSAE(8, 16), MoESAE(d_in=8, d_sae=16, n_experts=2, top_k=2)):
        path = tmp_path / f"{type(model).__name__}.pt"
        torch.save(_ckpt(model), path)
        loaded = load_sae(path)
        assert type(loaded) is type(model)
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
    assert set(ARCHITECTURES) == {"TopKSAE", "ReLUSAE", "MoESAE"}


def _expect(path, *words):
    with pytest.raises(CheckpointError) as info:
        load_sae(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for word in words:
        assert word in msg, msg
    return msg


def test_truncated_empty_missing_directory_and_special_files(tmp_path, good):
    data = good.read_bytes()
    for n in (len(data) // 2, len(data) - 30, 100):
        cut = tmp_path / f"cut{n}.pt"
        cut.write_bytes(data[:n])
        _expect(cut, "not a torch checkpoint")
    empty = tmp_path / "empty.pt"
    empty.touch()
    _expect(empty, "empty")
    _expect(tmp_path / "nope.pt", "no such file")
    _expect(tmp_path, "directory")
    link = tmp_path / "zero.pt"
    link.symlink_to("/dev/zero")
    _expect(link, "not a regular file")
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    _expect(fifo, "not a regular file")  # and does not hang


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickles_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a torch.save'd checkpoint carrying an object whose unpickling runs a command
    bad = tmp_path / "pickled.pt"
    torch.save({**_ckpt(_sae()), "extra": Payload()}, bad)
    _expect(bad, "pickled Python objects")
    # a plain pickle file (not torch's format)
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(Payload()))
    _expect(plain, "not a torch checkpoint")
    assert not (tmp_path / "PWNED").exists()


def test_bare_tensor_and_other_shapes_of_file(tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save(torch.zeros(3), bare)
    _expect(bare, "holds a Tensor", "model_state_dict")
    no_state = tmp_path / "nostate.pt"
    torch.save({"model_config": _sae().config_dict()}, no_state)
    _expect(no_state, "no model_state_dict")
    not_tensors = tmp_path / "strs.pt"
    torch.save({"model_state_dict": {"pre_bias": "x"}}, not_tensors)
    _expect(not_tensors, "not a mapping of names to tensors")


def test_shape_mismatch_and_unknown_class(tmp_path):
    model = _sae()
    wrong = tmp_path / "wrong.pt"
    torch.save(_ckpt(model, model_config={**model.config_dict(), "hidden_dim": 64}), wrong)
    _expect(wrong, "latent_bias has shape (32,)", "needs (64,)")
    for name in ("loading", "torch", "__class__", "ShardedTopKSAE", 3):
        odd = tmp_path / "odd.pt"
        torch.save(_ckpt(model, model_config={**model.config_dict(), "class": name}), odd)
        _expect(odd, "class must be one of", repr(name))
    missing = tmp_path / "missing.pt"
    state = dict(model.state_dict())
    del state["latent_bias"]
    torch.save({"model_state_dict": state, "model_config": model.config_dict()}, missing)
    _expect(missing, "missing ['latent_bias']")
    nan = tmp_path / "nan.pt"
    state = dict(model.state_dict())
    state["pre_bias"] = torch.full((8,), float("nan"))
    torch.save({"model_state_dict": state, "model_config": model.config_dict()}, nan)
    _expect(nan, "pre_bias holds NaN")


@pytest.mark.parametrize(
    "config, words",
    [
        ({"hidden_dim": 2**34}, ["hidden_dim = 17179869184 is outside"]),
        ({"hidden_dim": 2**30, "input_dim": 2**12}, ["elements (more than"]),
        (
            {"hidden_dim": 2**20},
            ["latent_bias has shape (32,)", "needs (1048576,)"],
        ),  # shape-only, no allocation
        ({"hidden_dim": -1}, ["hidden_dim = -1 is outside"]),
        ({"hidden_dim": "32"}, ["hidden_dim = '32' is not an integer"]),
        ({"top_k": 10**12}, ["top_k"]),
    ],
)
def test_huge_or_absurd_sizes_are_refused_before_allocation(tmp_path, config, words):
    model = _sae()
    path = tmp_path / "huge.pt"
    torch.save(_ckpt(model, model_config={**model.config_dict(), **config}), path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _expect(path, *words)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, grown_mib


def test_an_moe_checkpoint_cannot_ask_for_millions_of_experts(tmp_path):
    model = MoESAE(d_in=8, d_sae=16, n_experts=2, top_k=2)
    path = tmp_path / "moe.pt"
    torch.save(_ckpt(model, model_config={**model.config_dict(), "n_experts": 2**20,
                                          "d_sae": 2**21}), path)  # fmt: skip
    _expect(path, "n_experts = 1048576 is outside [1, 256]")


def test_resume_state_is_checked_against_the_model_being_trained(tmp_path, good):
    model = _sae()
    ckpt = read_checkpoint(good, model=model)
    assert ckpt["global_step"] == 3 and set(ckpt["model_state_dict"]) == set(model.state_dict())
    # a DDP-prefixed state dict is the same checkpoint
    ddp = tmp_path / "ddp.pt"
    c = _ckpt(model)
    c["model_state_dict"] = {f"module.{k}": v for k, v in c["model_state_dict"].items()}
    torch.save(c, ddp)
    assert set(read_checkpoint(ddp, model=model)["model_state_dict"]) == set(model.state_dict())

    bigger = TopKSAE(input_dim=8, hidden_dim=64, top_k=4)
    with pytest.raises(CheckpointError, match=r"latent_bias has shape \(32,\)"):
        read_checkpoint(good, model=bigger)
    data = good.read_bytes()
    cases = {"truncated.pt": data[: len(data) // 3], "empty.pt": b"", "pickle.pt": b"\x80\x04K."}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=str(tmp_path / name)):
            read_checkpoint(tmp_path / name, model=model)
    with pytest.raises(CheckpointError, match="no such file"):
        read_checkpoint(tmp_path / "absent.pt", model=model)
    negative = tmp_path / "negative.pt"
    torch.save(_ckpt(model, global_step=-5), negative)
    with pytest.raises(CheckpointError, match="global_step = -5"):
        read_checkpoint(negative, model=model)
    bad_opt = tmp_path / "badopt.pt"
    torch.save(_ckpt(model, optimizer_state_dict=[1, 2]), bad_opt)
    with pytest.raises(CheckpointError, match="optimizer_state_dict is not a mapping"):
        read_checkpoint(bad_opt, model=model)


def _good_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save(_ckpt(TopKSAE(input_dim=4, hidden_dim=8, top_k=2)), buf)
    return buf.getvalue()


GOOD = _good_bytes()


@st.composite
def corrupted(draw):
    data = bytearray(GOOD)
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "splice"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "overwrite":
        i = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=64))
        data[i : i + len(chunk)] = chunk
        return bytes(data[: len(GOOD)])
    i = draw(st.integers(0, len(data)))
    return bytes(data[:i]) + draw(st.binary(max_size=256)) + bytes(data[i:])


@settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(blob=corrupted())
def test_corrupted_bytes_load_or_raise_checkpoint_error(tmp_path, blob):
    path = tmp_path / "fuzz.pt"
    path.write_bytes(blob)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        model = load_sae(path)
    except CheckpointError as exc:
        assert str(path) in str(exc)
    else:
        assert isinstance(model, TopKSAE) and model.hidden_dim == 8
        assert all(bool(torch.isfinite(t).all()) for t in model.parameters())
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 200 * 1024


def test_the_zip_entries_are_what_torch_save_writes(good):
    # the format check (zip) is the one torch.save uses by default; a legacy pickle-format
    # file is refused rather than read with its own, unchecked storage sizes
    assert zipfile.is_zipfile(good)
    legacy = good.with_name("legacy.pt")
    torch.save(_ckpt(_sae()), legacy, _use_new_zipfile_serialization=False)
    _expect(legacy, "not a torch checkpoint")
