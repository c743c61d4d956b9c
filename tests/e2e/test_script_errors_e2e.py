"""Rendered scripts on bad checkpoints, a second writer and hostile launch.sh numbers (issue 21
items 8, 9, 3 and the launch.sh minor cases; issue 25 item 3): `error: ...`, exit 2, no traceback,
nothing run that was not asked for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import REPO, render, run_env
from test_extract_units import load_rendered

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
from sae import ActivationStore, ActivationStoreConfig  # noqa: E402
from sae.architectures import TopKSAE  # noqa: E402

pytestmark = pytest.mark.e2e
HIDDEN, LATENTS = 16, 64
CASES = ("truncated", "pickle", "tensor", "shape", "huge", "class", "empty", "missing", "directory")


class Payload:
    """Unpickling this would create the file `marker` (it must never happen)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """A good checkpoint, one bad checkpoint per case, an eval and a train cache, an input."""
    root = tmp_path_factory.mktemp("errors")
    torch.manual_seed(0)
    sae = TopKSAE(HIDDEN, LATENTS, 4)
    state, config = sae.state_dict(), sae.config_dict()
    good = root / "checkpoint_final.pt"
    torch.save({"model_state_dict": state, "model_config": config}, good)
    bad = root / "bad"
    bad.mkdir()
    paths = {name: bad / f"{name}.pt" for name in CASES}
    paths["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    marker = root / "PAYLOAD_RAN"
    torch.save({"model_state_dict": state, "extra": Payload(marker)}, paths["pickle"])
    torch.save(torch.zeros(3), paths["tensor"])
    cut = {k: v[:-1] if v.ndim else v for k, v in state.items()}
    torch.save({"model_state_dict": cut, "model_config": config}, paths["shape"])
    huge = dict(config, hidden_dim=2**34)
    torch.save({"model_state_dict": state, "model_config": huge}, paths["huge"])
    named = dict(config, **{"class": "loading"})
    torch.save({"model_state_dict": state, "model_config": named}, paths["class"])
    paths["empty"].write_bytes(b"")
    paths["directory"] = bad / "a_directory"
    paths["directory"].mkdir()
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=20)) for _ in range(6)]
    fasta = root / "in.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    order = [[i, 20] for i in range(6)]
    for split in ("eval", "train"):
        store = ActivationStore(str(root / f"cache_{split}"), ActivationStoreConfig(shard_size=50))
        store.append(rng.standard_normal((120, HIDDEN)).astype(np.float32))
        (root / f"cache_{split}" / "sequence_order.json").write_text(json.dumps(order))
        store.finalize(
            metadata={"split": split, "layer": 5, "model_name": "esm2",
                      "sequence_order_file": "sequence_order.json"}
        )  # fmt: skip
    return {"root": root, "good": good, "bad": paths, "marker": marker, "fasta": fasta}


def script(name: str, run: dict, checkpoint: Path, *extra: str) -> subprocess.CompletedProcess:
    root = run["root"]
    recipe = REPO / "recipes" / "esm2_sae"
    if name == "train.py":
        argv = ["--cache-dir", str(root / "cache_train"), "--output-dir", str(root / "sae"),
                "--layer", "5", "--expansion-factor", "4", "--top-k", "4", "--auxk", "8",
                "--batch-size", "32", "--n-epochs", "1", "--device", "cpu", "--no-wandb",
                "--resume-from", str(checkpoint)]  # fmt: skip
    else:
        argv = ["--sae-checkpoint", str(checkpoint), "--eval-cache", str(root / "cache_eval"),
                "--input", str(run["fasta"]), "--layer", "5", "--device", "cpu",
                "--output-dir", str(root / "out")]  # fmt: skip
        if name == "analyze.py":
            argv += ["--dashboard-dir", str(root / "dashboard"), "--map", "pca"]
        if name == "steer.py":  # the SAE is read before the model: no model needed here
            argv = ["--sae-checkpoint", str(checkpoint), "--input", str(run["fasta"]),
                    "--feature", "0", "--device", "cpu", "--output-dir", str(root / "out")]  # fmt: skip
    return subprocess.run(
        [sys.executable, str(recipe / name), *argv, *extra],
        env=run_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def assert_clean_error(proc: subprocess.CompletedProcess, name: str, path: Path) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert f"{name}: error:" in proc.stderr and str(path) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("name", "case"),
    [("eval.py", "pickle"), ("eval.py", "huge"), ("analyze.py", "truncated"),
     ("analyze.py", "class"), ("train.py", "class"), ("train.py", "shape"),
     ("train.py", "missing"), ("steer.py", "truncated"), ("steer.py", "pickle"),
     ("steer.py", "class"), ("steer.py", "huge")],
)  # fmt: skip
def test_a_bad_checkpoint_is_one_error_line_naming_it(run, name, case):
    proc = script(name, run, run["bad"][case])
    assert_clean_error(proc, name, run["bad"][case])
    assert not run["marker"].exists(), "the pickled payload ran"
    assert not (run["root"] / "sae" / "checkpoint_final.pt").exists()


def test_a_checkpoint_of_another_width_names_both_files(run, tmp_path):
    other = TopKSAE(8, 32, 4)
    path = tmp_path / "width8.pt"
    torch.save({"model_state_dict": other.state_dict(), "model_config": other.config_dict()}, path)
    proc = script("eval.py", run, path)
    assert_clean_error(proc, "eval.py", path)
    assert "8-dim" in proc.stderr and str(run["root"] / "cache_eval") in proc.stderr
    proc = script("train.py", run, path)
    assert_clean_error(proc, "train.py", path)
    assert "--expansion-factor" in proc.stderr


@pytest.mark.parametrize("loader", ["runtime", "portable"])
@pytest.mark.parametrize("case", CASES)
def test_every_bad_checkpoint_fails_cleanly_in_both_loaders(
    run, tmp_path, monkeypatch, capsys, loader, case
):
    """The runtime's sae.architectures.loading and the portable reader a runtime without it (the
    reference library) gets: the same cases refused, for eval/analyze (load_sae) and train.py
    (check_resume), with exit status 2 and the file named."""
    modules = [
        load_rendered("esm2", tmp_path, "eval.py"),
        load_rendered("esm2", tmp_path, "train.py"),
    ]
    for mod in modules:
        if loader == "portable":
            portable = (mod.portable_read_checkpoint, mod.portable_load_sae,
                        mod.PortableCheckpointError)  # fmt: skip
            monkeypatch.setattr(mod, "checkpoint_loading", lambda portable=portable: portable)
    path = run["bad"][case]
    evaluate, train = modules
    with pytest.raises(SystemExit) as info:
        evaluate.load_sae(path, torch.device("cpu"))
    assert info.value.code == 2 and str(path) in str(info.value)
    model = TopKSAE(HIDDEN, LATENTS, 4)
    with pytest.raises(SystemExit) as info:
        train.check_resume(str(path), model)
    assert info.value.code == 2 and str(path) in str(info.value)
    assert "eval.py: error:" in capsys.readouterr().err
    assert not run["marker"].exists()


@pytest.mark.parametrize("loader", ["runtime", "portable"])
def test_a_good_checkpoint_loads_in_both_loaders(run, tmp_path, monkeypatch, loader):
    evaluate = load_rendered("esm2", tmp_path, "eval.py")
    if loader == "portable":
        portable = (evaluate.portable_read_checkpoint, evaluate.portable_load_sae,
                    evaluate.PortableCheckpointError)  # fmt: skip
        monkeypatch.setattr(evaluate, "checkpoint_loading", lambda: portable)
    model = evaluate.load_sae(run["good"], torch.device("cpu"))
    want = torch.load(run["good"], weights_only=True)["model_state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in want.items())
    train = load_rendered("esm2", tmp_path, "train.py")
    train.check_resume(str(run["good"]), TopKSAE(HIDDEN, LATENTS, 4))  # no exit


def test_dead_pct_says_when_the_run_was_too_short(run, tmp_path, monkeypatch):
    """issue 25 item 3: threshold 10M tokens, 9 steps x 64 tokens seen -> n/a, in the summary,
    the report's note and on the curves' dead panel; a long enough run gets no note."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    mod = load_rendered("esm2", tmp_path, "eval.py")
    sae_dir = tmp_path / "sae"
    sae_dir.mkdir()
    (sae_dir / "train_args.json").write_text(json.dumps(
        {"batch_size": 64, "grad_accumulation_steps": 2, "dp_size": 4, "dead_count_global": False}
    ))  # fmt: skip
    assert mod.tokens_seen(sae_dir, 9) == 9 * 64 * 2
    assert mod.tokens_seen(tmp_path / "nowhere", 9) is None
    assert mod.dead_note(10_000_000, 1152) == "n/a (threshold 10,000,000 tokens > 1,152 seen)"
    assert mod.dead_note(1000, 5000) is None and mod.dead_note(1000, None) is None
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    rows = [{"step": s, "loss": 1 / s, "dead_pct": 0.0} for s in range(1, 10)]
    mod.plot_curves(rows, tmp_path / "c.png", 10_000_000, mod.dead_note(10_000_000, 1152))
    dead = next(ax for ax in figures[0].get_axes() if ax.get_ylabel() == "dead latents (%)")
    texts = " ".join(t.get_text() for t in dead.texts)
    assert "cannot move" in texts and "10,000,000 tokens > 1,152 seen" in texts

    sae = TopKSAE(HIDDEN, LATENTS, 4, dead_tokens_threshold=1000)
    ckpt = sae_dir / "checkpoint_final.pt"
    torch.save({"model_state_dict": sae.state_dict(), "model_config": sae.config_dict()}, ckpt)
    (sae_dir / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 1.0, "dead_pct": 0.0}) + "\n" for s in (5, 9))
    )
    out = tmp_path / "eval"
    argv = ["--sae-checkpoint", str(ckpt), "--eval-cache", str(run["root"] / "cache_eval"),
            "--input", str(run["fasta"]), "--layer", "5", "--device", "cpu",
            "--output-dir", str(out)]  # fmt: skip
    proc = subprocess.run([sys.executable, str(REPO / "recipes/esm2_sae/eval.py"), *argv],
                          env=run_env(HF_HUB_OFFLINE="1"), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())["eval"]
    assert report["tokens_seen_in_training"] == 1152 and report["dead_pct_note"] is None
    (sae_dir / "train_args.json").write_text(json.dumps({"batch_size": 1}))  # 9 tokens seen
    proc = subprocess.run([sys.executable, str(REPO / "recipes/esm2_sae/eval.py"), *argv],
                          env=run_env(HF_HUB_OFFLINE="1"), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())["eval"]
    assert report["dead_pct_note"] == "n/a (threshold 1,000 tokens > 9 seen)"
    line = next(x for x in proc.stdout.splitlines() if "dead latents" in x)
    assert "n/a (threshold 1,000 tokens > 9 seen)" in line and "counter reads" in line


def test_a_second_extraction_into_the_same_store_fails_at_once(tmp_path, tiny_esm2, protein_fasta):
    """issue 21 item 3: the writer lock is taken before anything is deleted; the second run
    names the first (its pid) and the first run's store comes out whole."""
    out = tmp_path / "cache"
    argv = [sys.executable, str(REPO / "recipes/esm2_sae/extract.py"), "--input",
            str(protein_fasta), "--checkpoint", str(tiny_esm2), "--output", str(out), "--layer",
            "2", "--device", "cpu", "--batch-size", "1", "--shard-size", "64", "--split", "all",
            "--max-sequences", "60"]  # fmt: skip
    env = run_env()
    first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("shard_*.parquet")):
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGSTOP)  # the first run holds the store while the second tries
        shards_before = sorted(p.name for p in out.glob("shard_*.parquet"))
        try:
            second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"pid={first.pid}" in second.stderr and str(out) in second.stderr
        assert "Traceback" not in second.stderr
        assert set(shards_before) <= {p.name for p in out.glob("shard_*.parquet")}
    finally:
        _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    store = ActivationStore(str(out))
    order = json.loads((out / "sequence_order.json").read_text())
    rows = sum(len(shard) for shard in store.iter_shards(False, 0))
    assert store.n_samples == sum(n for _, n in order) == rows
    assert len(order) == 60 and not (out / ".writer.lock").exists()


def launch(recipe: Path, tmp_path: Path, script_name: str = "launch.sh", **env):
    base = run_env(INPUT=str(tmp_path / "in.fasta"), CHECKPOINT="org/model", PYTHON="false",
                   WORK=str(tmp_path / "work"))  # fmt: skip
    for key in ("NODE_RANK", "NNODES", "MASTER_PORT", "MASTER_ADDR", "EXTRACT_RANK_TIMEOUT_S"):
        base.pop(key, None)
    base.update(env)
    return subprocess.run(["bash", str(recipe / script_name)], env=base, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    return render("esm2", tmp_path_factory.mktemp("launch"))


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"EXTRACT_RANK_TIMEOUT_S": "waited[$(touch PWNED)]"}, "EXTRACT_RANK_TIMEOUT_S="),
        ({"EXTRACT_RANK_TIMEOUT_S": "0600"}, "without leading zeros"),
        ({"NODE_RANK": "08", "NNODES": "10", "MASTER_ADDR": "h"}, "NODE_RANK=08"),
        ({"NODE_RANK": "a[$(touch PWNED)]", "NNODES": "2", "MASTER_ADDR": "h"}, "NODE_RANK="),
        ({"MASTER_PORT": "08080"}, "MASTER_PORT=08080"),
        ({"MASTER_PORT": "010"}, "MASTER_PORT=010"),
        ({"MASTER_PORT": "99999"}, "0..65535"),
        ({"NPROC": "010"}, "NPROC=010"),
        ({"NNODES": "99999999999999999999"}, "NNODES="),
    ],
)
def test_launch_numbers_are_plain_decimal_checked_before_arithmetic(recipe, tmp_path, env, words):
    (tmp_path / "in.fasta").write_text(">a\nMKT\n")
    proc = launch(recipe, tmp_path, **env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert words in proc.stderr and proc.stderr.startswith("launch.sh: "), proc.stderr
    assert "value too great" not in proc.stderr and "syntax error" not in proc.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "work").exists()


def test_valid_numbers_pass_and_reach_extraction(recipe, tmp_path):
    (tmp_path / "in.fasta").write_text(">a\nMKT\n")
    proc = launch(recipe, tmp_path, NODE_RANK="0", MASTER_PORT="8080", EXTRACT_RANK_TIMEOUT_S="60")
    assert "must be" not in proc.stderr, proc.stderr
    assert "== extract" in proc.stdout and (tmp_path / "work").is_dir()  # PYTHON=false stops it
    assert proc.returncode != 0


@pytest.mark.parametrize(
    ("env", "words"),
    [({"MASTER_PORT": "010"}, "MASTER_PORT=010"),
     ({"MASTER_PORT": "a[$(touch PWNED)]"}, "MASTER_PORT="),
     ({"SLURM_NNODES": "08"}, "SLURM_NNODES=08"),
     ({"GPUS_PER_NODE": "x[$(touch PWNED)]"}, "GPUS_PER_NODE=")],
)  # fmt: skip
def test_slurm_numbers_are_plain_decimal(recipe, tmp_path, env, words):
    (tmp_path / "in.fasta").write_text(">a\nMKT\n")
    env = {"SLURM_JOB_ID": "1", "SLURM_NNODES": "1", "GPUS_PER_NODE": "1",
           "RECIPE_DIR": str(recipe), **env}  # fmt: skip
    proc = launch(recipe, tmp_path, "slurm.sbatch", **env)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "PWNED").exists()


def test_no_fixed_dashboard_port_is_printed():
    """The server picks a free port and prints the real URL; a fixed --port 8000 in what we
    print would send a second demo's user to the first one's dashboard (issue 25 item 1)."""
    for path in [REPO / "README.md", REPO / "recipegen" / "demo.py",
                 *REPO.glob("recipes/*/launch.sh"), *REPO.glob("recipes/*/README.md")]:  # fmt: skip
        assert "--port 8000" not in path.read_text(), path
    text = (REPO / "recipes" / "esm2_sae" / "launch.sh").read_text()
    assert "-m sae.dashboard %q" in text  # the printed command is shell-quoted


@pytest.mark.parametrize(
    ("name", "extra", "words"),
    [
        ("eval.py", ["--device", "cuda:7"], "--device cuda:7"),
        ("eval.py", ["--device", "gpu!"], "not a device"),
        ("eval.py", ["--output-dir", "FILE"], "cannot be created"),
        ("eval.py", ["--train-cache", "BROKEN"], "--train-cache"),
        ("train.py", ["--device", "cuda"], "--device cuda"),
        ("train.py", ["--output-dir", "FILE/sae"], "cannot be created"),
    ],
)
def test_bad_devices_and_paths_are_one_error_line(run, tmp_path, name, extra, words):
    if torch.cuda.is_available() and "cuda" in " ".join(extra):
        pytest.skip("this machine has CUDA")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    broken = tmp_path / "broken_cache"
    broken.mkdir()
    (broken / "metadata.json").write_text("{not json")
    extra = [str(blocker) if a == "FILE" else str(blocker / "sae") if a == "FILE/sae" else
             str(broken) if a == "BROKEN" else a for a in extra]  # fmt: skip
    proc = script(name, run, run["good"], *extra)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert f"{name}: error:" in proc.stderr and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
