"""steer.py of the `custom` (codonfm) and `predict_cli` (evo2) kinds, on the tiny stand-ins the
recipes ship, with a real forward pass; every number checked against an oracle computed here:
the clamp as plain algebra (h + (value - z_f) * decoder column f at the clamped positions) and
the model run directly (the adapter's own loss under our own hook; the predict module's own
default writer)."""

from __future__ import annotations

import csv
import random
import subprocess
import sys

import pytest
import torch
from e2e_helpers import render, run_env, write_standin

pytestmark = pytest.mark.e2e
LAYER = 2


def save_sae(path, input_dim: int):
    from sae import TopKSAE

    torch.manual_seed(0)
    # unnormalised inputs, as the recipes train (normalize_input off): decode is then affine
    sae = TopKSAE(input_dim, 4 * input_dim, 4, normalize_input=False)
    torch.save({"model_state_dict": sae.state_dict(), "model_config": sae.config_dict()}, path)
    return sae.eval()


def decoder_column(sae, f: int) -> torch.Tensor:
    """What one unit of feature f adds to the reconstruction (decode is affine in the codes)."""
    z = torch.zeros(1, sae.hidden_dim)
    one = z.clone()
    one[0, f] = 1.0
    with torch.no_grad():
        return (sae.decode(one) - sae.decode(z))[0]


def clamp(sae, f: int, h: torch.Tensor, value: float) -> torch.Tensor:
    """The oracle clamp at the feature's active positions (steer.py's default --positions)."""
    with torch.no_grad():
        z = sae.encode(h)[:, f]
    out = h.clone()
    active = z > 0
    out[active] += (value - z[active])[:, None] * decoder_column(sae, f)[None, :]
    return out


def steer(recipe, tmp, *args) -> list[dict]:
    out = tmp / "steer"
    cmd = [sys.executable, str(recipe / "steer.py"), "--output-dir", str(out), "--device", "cpu",
           "--layer", str(LAYER), "--multipliers", "0,1,5", *args]  # fmt: skip
    done = subprocess.run(cmd, env=run_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "steer_tokens.csv").open() as handle:
        return list(csv.DictReader(handle))


def pick_feature(sae, h: torch.Tensor) -> tuple[int, float]:
    """The feature firing at the most positions of h, and its max there."""
    with torch.no_grad():
        z = sae.encode(h)
    f = int((z > 0).sum(0).argmax())
    return f, float(z[:, f].max())


def test_predict_cli_steer_changes_the_layer_output_as_the_clamp_says(tmp_path):
    recipe = render("evo2", tmp_path)
    rng = random.Random(2)
    seq = "".join(rng.choice("ACGT") for _ in range(70))
    fasta = tmp_path / "dna.fasta"
    fasta.write_text(f">s0\n{seq}\n")
    # the oracle's hidden states: the predict module's own default writer (.pt per batch)
    pred = tmp_path / "pred"
    cmd = [sys.executable, str(recipe / "evo2_predict.py"), "--fasta", str(fasta), "--ckpt-dir",
           str(tmp_path), "--output-dir", str(pred), "--embedding-layer", str(LAYER)]  # fmt: skip
    subprocess.run(cmd, env=run_env(), check=True, timeout=300)
    (saved,) = pred.glob("*.pt")
    p = torch.load(saved, weights_only=True)
    h = p["hidden_embeddings"][0][p["pad_mask"][0].bool()].float()
    assert h.shape[0] == len(seq)
    sae = save_sae(tmp_path / "sae.pt", h.shape[1])
    f, fmax = pick_feature(sae, h)
    rows = steer(recipe, tmp_path, "--sae-checkpoint", str(tmp_path / "sae.pt"), "--input",
                 str(fasta), "--feature", str(f), "--ids", "s0", "--checkpoint", str(tmp_path),
                 "--predict-module", "evo2_predict")  # fmt: skip
    clean = h.norm(dim=-1)
    with torch.no_grad():
        active = sae.encode(h)[:, f] > 0
    for setting, m in (("ablate", 0.0), ("x1", 1.0), ("x5", 5.0)):
        got = [r for r in rows if r["setting"] == setting]
        assert len(got) == len(seq)
        want = clamp(sae, f, h, m * fmax).norm(dim=-1)
        for t, r in enumerate(got):
            assert float(r["clean"]) == pytest.approx(float(clean[t]), rel=1e-4, abs=1e-4)
            assert float(r["steered"]) == pytest.approx(float(want[t]), rel=1e-4, abs=1e-4), (
                setting,
                t,
                int(active[t]),
            )
            assert int(r["clamped"]) == int(active[t])
            assert r["token"] == seq[t]
        changed = [abs(float(r["delta"])) > 1e-6 for r in got]
        if m != 1.0:  # x1 leaves the max position unchanged; the others move every clamped one
            assert changed == active.tolist()


def test_custom_adapter_steer_changes_the_token_loss_as_the_clamp_says(tmp_path):
    recipe = render("codonfm", tmp_path)
    model = write_standin("codonfm", tmp_path / "encodon")
    rng = random.Random(3)
    seq = "ATG" + "".join(rng.choice("ACGT") for _ in range(3 * 40)) + "TAA"
    fasta = tmp_path / "cds.fasta"
    fasta.write_text(f">c0\n{seq}\n")
    sys.path.insert(0, str(recipe))
    try:
        from encodon_adapter import EncodonAdapter

        adapter = EncodonAdapter.load(str(model), "cpu")
    finally:
        sys.path.remove(str(recipe))
    batch = adapter.tokenize([seq])
    valid = batch["valid_mask"][0].bool()
    h = adapter.hidden_states(batch, LAYER)[0][valid].float()
    sae = save_sae(tmp_path / "sae.pt", h.shape[1])
    f, fmax = pick_feature(sae, h)

    def loss_with(value):
        def hook(_module, _inputs, out):
            x = out[0] if isinstance(out, tuple) else out
            new = x.clone()
            new[0, valid] = clamp(sae, f, x[0, valid].float(), value).to(x.dtype)
            return (new, *out[1:]) if isinstance(out, tuple) else new

        handle = adapter.layer_module(LAYER).register_forward_hook(hook)
        try:
            return -float(adapter.token_loss(batch))
        finally:
            handle.remove()

    rows = steer(recipe, tmp_path, "--sae-checkpoint", str(tmp_path / "sae.pt"), "--input",
                 str(fasta), "--feature", str(f), "--ids", "c0", "--checkpoint", str(model),
                 "--adapter", "encodon_adapter:EncodonAdapter")  # fmt: skip
    clean = -float(adapter.token_loss(batch))
    for setting, m in (("ablate", 0.0), ("x1", 1.0), ("x5", 5.0)):
        (r,) = [r for r in rows if r["setting"] == setting]  # one row per sequence
        assert float(r["clean"]) == pytest.approx(clean, rel=1e-4, abs=1e-5)
        assert float(r["steered"]) == pytest.approx(loss_with(m * fmax), rel=1e-4, abs=1e-5)
    x5 = next(r for r in rows if r["setting"] == "x5")
    assert abs(float(x5["delta"])) > 1e-4  # a real push moves the loss
