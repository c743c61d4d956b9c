"""Checkpoints interchange with the reference `sae` library, both ways, for real.

Our Trainer writes step and final checkpoints; the reference library (its own virtualenv,
built by scripts/reference_venv.sh) loads them through its own Trainer.load_checkpoint, computes
the loss on a fixed batch and takes an optimizer step. It then trains and saves its own
checkpoints, which our `load_sae` and Trainer(resume_from=...) read. The losses computed by the
two libraries on the same weights must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import torch
from sae import Trainer, TrainingConfig, load_sae, set_seed
from sae.architectures import TopKSAE

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "bionemo-sae"
KEYS = ("total", "fvu", "sparsity", "mse", "variance_explained", "dead_pct", "aux")
MODEL = dict(input_dim=16, hidden_dim=64, top_k=4, normalize_input=False, auxk=8,
             dead_tokens_threshold=50)  # fmt: skip

REFERENCE_SIDE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import torch
    import sae
    from sae.architectures import TopKSAE
    from sae.training import Trainer, TrainingConfig

    work = Path(sys.argv[1])
    x = torch.load(work / "x.pt", weights_only=True)
    out = {"sae_module": sae.__file__}

    def loss_of(path):
        ckpt = torch.load(path, weights_only=True)
        model = TopKSAE(**ckpt["model_config"])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        Trainer(model, TrainingConfig(device="cpu")).load_checkpoint(path, optimizer=opt)
        res = model.loss(x)
        res["total"].backward()
        opt.step()  # the restored optimizer state fits the parameters
        return {k: float(v) for k, v in res.items()}

    for p in sorted((work / "ours").glob("checkpoint_*.pt")):
        out["ours/" + p.name] = loss_of(p)

    torch.manual_seed(0)
    model = TopKSAE(**json.loads((work / "model.json").read_text()))
    cfg = TrainingConfig(lr=1e-3, n_epochs=1, batch_size=32, device="cpu", log_interval=10**6,
                         checkpoint_dir=str(work / "theirs"), checkpoint_steps=2, max_steps=4)
    Trainer(model, cfg).fit(torch.load(work / "train.pt", weights_only=True))
    for p in sorted((work / "theirs").glob("checkpoint_*.pt")):
        out["theirs/" + p.name] = loss_of(p)
    (work / "reference.json").write_text(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def reference_python() -> str:
    if not (REFERENCE / "pyproject.toml").is_file():
        pytest.skip(f"{REFERENCE} not present (fresh clone without ../shared)")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "reference_venv.sh"), str(REFERENCE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    py = proc.stdout.strip().splitlines()[-1]
    return py if os.path.isabs(py) else str(REPO / py)


def _our_loss(model, x):
    return {k: float(v) for k, v in model.loss(x).items()}


def test_checkpoints_load_both_ways(reference_python, tmp_path):
    torch.manual_seed(1)
    train = torch.randn(256, 16) * 2 + 1
    x = torch.randn(48, 16) * 2 + 1
    torch.save(train, tmp_path / "train.pt")
    torch.save(x, tmp_path / "x.pt")
    (tmp_path / "model.json").write_text(json.dumps(MODEL))

    set_seed(0)
    ours = TopKSAE(**MODEL)
    cfg = TrainingConfig(lr=1e-3, n_epochs=1, batch_size=32, device="cpu", max_steps=4,
                         checkpoint_dir=str(tmp_path / "ours"), checkpoint_steps=2,
                         show_progress=False)  # fmt: skip
    Trainer(ours, cfg).fit(train)
    ours_files = sorted(p.name for p in (tmp_path / "ours").glob("checkpoint_*.pt"))
    assert ours_files == ["checkpoint_final.pt", "checkpoint_step_2.pt", "checkpoint_step_4.pt"]

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [reference_python, "-c", REFERENCE_SIDE, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads((tmp_path / "reference.json").read_text())
    assert "site-packages" in ref["sae_module"]  # the installed reference, not our tree
    assert not ref["sae_module"].startswith(str(REPO / "sae"))

    # the reference library, given our files, computes what we compute on them
    for name in ours_files:
        mine = _our_loss(load_sae(tmp_path / "ours" / name), x)
        theirs = ref[f"ours/{name}"]
        for key in KEYS:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), (name, key)

    assert ref["ours/checkpoint_final.pt"]["aux"] > 0  # dead latents: AuxK compared too

    # and the other way: the reference's step and final files load in ours
    their_files = sorted(p.name for p in (tmp_path / "theirs").glob("checkpoint_*.pt"))
    assert "checkpoint_final.pt" in their_files and "checkpoint_step_2.pt" in their_files
    for name in their_files:
        model = load_sae(tmp_path / "theirs" / name)
        assert isinstance(model, TopKSAE) and model.auxk == MODEL["auxk"]
        mine = _our_loss(model, x)
        for key in KEYS:
            assert mine[key] == pytest.approx(ref[f"theirs/{name}"][key], rel=1e-5, abs=1e-6), (
                name,
                key,
            )

    # our Trainer resumes from a reference step checkpoint (weights, optimizer, step)
    set_seed(0)
    resumed = TopKSAE(**MODEL)
    cfg2 = TrainingConfig(lr=1e-3, n_epochs=1, batch_size=32, device="cpu", max_steps=6,
                          show_progress=False)  # fmt: skip
    trainer = Trainer(resumed, cfg2)
    trainer.fit(train, resume_from=tmp_path / "theirs" / "checkpoint_step_2.pt")
    assert trainer.summary["global_step"] == 6
    assert torch.isfinite(resumed.decoder.weight).all()
