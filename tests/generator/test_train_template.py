"""The rendered train.py: every opt-in flag defined and wired (AST), --help, and real runs."""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from gen_helpers import MODELS

try:
    import torch
except ImportError:  # the AST tests above still run without torch
    torch = None

from recipegen.generator import spec as specs
from recipegen.generator.render import TemplateSource

from recipegen import __version__

OPT_IN_FLAGS = (
    "--normalize-input",
    "--aggregate-loss",
    "--dead-count-global",
    "--mix-shards",
    "--presample-shards",
)
TOPK_WIRING = ("normalize_input", "aggregate_loss", "dead_count_global")


def render_train(model: str, overrides=()) -> str:
    raw, spec = specs.load(model, overrides=list(overrides))
    context = specs.resolve(spec, raw)
    env = TemplateSource().environment()
    return env.get_template("train.py.j2").render(spec=context, recipegen_version=__version__)


@pytest.fixture(scope="module")
def train_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train")
    out = {}
    for model in MODELS:
        path = root / model / "train.py"
        path.parent.mkdir()
        path.write_text(render_train(model))
        out[model] = path
    return out


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Calls whose callee is `name` or `<anything>.name`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            callee = (
                f.id
                if isinstance(f, ast.Name)
                else f.attr
                if isinstance(f, ast.Attribute)
                else None
            )
            if callee == name:
                found.append(node)
    return found


def kw(call: ast.Call, name: str) -> str | None:
    for k in call.keywords:
        if k.arg == name:
            return ast.unparse(k.value)
    return None


def argparse_flags(tree: ast.AST) -> dict[str, ast.Call]:
    out = {}
    for call in calls(tree, "add_argument"):
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            out[first.value] = call
    return out


@pytest.mark.parametrize("model", MODELS)
def test_five_opt_in_flags_are_defined_with_spec_defaults(model, train_files):
    tree = ast.parse(train_files[model].read_text())
    flags = argparse_flags(tree)
    _, spec = specs.load(model)
    for flag in OPT_IN_FLAGS:
        assert flag in flags, flag
        key = flag[2:].replace("-", "_")
        assert (
            ast.literal_eval(
                flags[flag].keywords[[k.arg for k in flags[flag].keywords].index("default")].value
            )
            == spec["sae"][key]
        )
    for flag in ("--normalize-input", "--aggregate-loss", "--dead-count-global", "--init-pre-bias"):
        assert kw(flags[flag], "action") == "bool_flag"
    assert "bool_flag = argparse.BooleanOptionalAction" in train_files[model].read_text()


@pytest.mark.parametrize("model", MODELS)
def test_each_opt_in_flag_reaches_the_library_call(model, train_files):
    tree = ast.parse(train_files[model].read_text())
    (sae_call,) = calls(tree, "TopKSAE")
    for name in TOPK_WIRING:
        assert kw(sae_call, name) == f"args.{name}"
    for name in ("top_k", "auxk", "auxk_coef", "dead_tokens_threshold"):
        assert kw(sae_call, name) == f"args.{name}"
    (loader,) = calls(tree, "get_streaming_dataloader")
    assert kw(loader, "mix_shards") == "args.mix_shards"
    (sample,) = calls(tree, "sample")
    assert kw(sample, "num_shards") == "args.presample_shards" and kw(sample, "seed") == "args.seed"
    # the sample feeds the geometric-median init, only under --init-pre-bias
    guard = next(n for n in ast.walk(tree) if isinstance(n, ast.If) and sample in list(ast.walk(n)))
    assert "args.init_pre_bias" in ast.unparse(guard.test)
    (init,) = calls(guard, "init_pre_bias_from_data")
    assert ast.unparse(init.args[0]) == "sample"


@pytest.mark.parametrize("model", MODELS)
def test_no_hard_coded_decay_horizon(model, train_files):
    tree = ast.parse(train_files[model].read_text())
    flags = argparse_flags(tree)
    for flag in ("--lr-decay-steps", "--max-steps"):
        assert kw(flags[flag], "default") == "None"
    (config,) = calls(tree, "TrainingConfig")
    assert kw(config, "lr_decay_steps") == "args.lr_decay_steps"
    assert kw(config, "max_steps") == "args.max_steps"
    assert kw(config, "lr_schedule") == "args.lr_schedule"


@pytest.mark.parametrize("model", MODELS)
def test_process_group_is_created_before_data_and_model(model, train_files):
    tree = ast.parse(train_files[model].read_text())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    line = {
        name: min(c.lineno for c in calls(main, name))
        for name in (
            "init_distributed",
            "ActivationStore",
            "TopKSAE",
            "Trainer",
            "get_streaming_dataloader",
        )
    }
    assert all(line["init_distributed"] < line[n] for n in line if n != "init_distributed")
    init_fn = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "init_distributed"
    )
    (pg,) = calls(init_fn, "init_process_group")
    assert "'nccl'" in ast.unparse(pg) and "'gloo'" in ast.unparse(pg)
    assert "WORLD_SIZE" in ast.unparse(tree)
    (parallel,) = calls(tree, "ParallelConfig")
    assert kw(parallel, "dp_size") == "args.dp_size"


def test_help_lists_the_five_flags_without_importing_torch(train_files):
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(train_files['esm2'])!r}, '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'sae' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for flag in OPT_IN_FLAGS:
        assert flag in out.stdout
    assert "--no-normalize-input" in out.stdout and "--dp-size" in out.stdout


# ---------------------------------------------------------------- real runs on a tiny store


def make_store(path: Path, *, layer=5, model_name="esm2", n=1200, dim=16, shard_size=300) -> Path:
    torch = pytest.importorskip("torch")
    # with torch present the sae runtime must import: a broken import fails, never skips
    from sae import activation_store as sae_store

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=gen) * 2 + torch.linspace(-1, 1, dim)
    store = sae_store.ActivationStore(path, sae_store.ActivationStoreConfig(shard_size=shard_size))
    store.append(x.numpy().astype("float32"))
    store.finalize(
        metadata={"model_name": model_name, "layer": layer, "n_sequences": 10, "dtype": "float32"}
    )
    return path


SMALL = [
    "--expansion-factor", "4", "--top-k", "4", "--auxk", "8", "--batch-size", "64",
    "--n-epochs", "1", "--warmup-steps", "1", "--device", "cpu", "--presample-n", "256",
    "--log-interval", "5", "--no-wandb",
]  # fmt: skip


def run_train(train_py: Path, *args: str, env_extra=None, timeout=240):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(train_py), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_train_runs_on_a_tiny_store_and_every_flag_lands(tmp_path, train_files):
    cache = make_store(tmp_path / "cache")
    out = tmp_path / "out"
    proc = run_train(
        train_files["esm2"], "--cache-dir", str(cache), "--output-dir", str(out), *SMALL,
        "--normalize-input", "--aggregate-loss", "--mix-shards", "2", "--presample-shards", "3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(out / "checkpoint_final.pt", weights_only=True, map_location="cpu")
    cfg = ckpt["model_config"]
    assert (cfg["normalize_input"], cfg["aggregate_loss"], cfg["top_k"]) == (True, True, 4)
    assert ckpt["input_dim"] == 16 and ckpt["hidden_dim"] == 64
    assert (out / "metrics.jsonl").read_text().strip()
    saved = json.loads((out / "train_args.json").read_text())
    assert (saved["mix_shards"], saved["presample_shards"]) == (2, 3)


def test_cache_metadata_is_validated(tmp_path, train_files):
    train = train_files["esm2"]
    proc = run_train(train, "--cache-dir", str(tmp_path / "none"), *SMALL)
    assert proc.returncode != 0 and "metadata.json not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    wrong_layer = make_store(tmp_path / "l3", layer=3)
    proc = run_train(train, "--cache-dir", str(wrong_layer), *SMALL)
    assert proc.returncode != 0 and "holds layer 3, not --layer 5" in proc.stderr
    wrong_model = make_store(tmp_path / "evo", model_name="evo2")
    proc = run_train(train, "--cache-dir", str(wrong_model), *SMALL)
    assert proc.returncode != 0 and "'evo2', not 'esm2'" in proc.stderr
    proc = run_train(train, "--cache-dir", str(wrong_model), *SMALL, "--top-k", "64")
    assert proc.returncode != 0


def test_latent_bounds_are_checked(tmp_path, train_files):
    cache = make_store(tmp_path / "c")
    proc = run_train(train_files["esm2"], "--cache-dir", str(cache), *SMALL, "--top-k", "64")
    assert (
        proc.returncode != 0
        and "--top-k 64 must be below the number of latents (64 = --expansion-factor 4 x "
        "hidden_dim 16)"
        in proc.stderr
    )


@pytest.mark.parametrize("dp_size,world", [("2", None), ("1", "2")])
def test_dp_size_must_equal_world_size(tmp_path, train_files, dp_size, world):
    cache = make_store(tmp_path / "c")
    env = {"WORLD_SIZE": world} if world else None
    proc = run_train(
        train_files["esm2"], "--cache-dir", str(cache), *SMALL, "--dp-size", dp_size, env_extra=env
    )
    assert proc.returncode != 0
    assert f"--dp-size {dp_size} but WORLD_SIZE={world or 1}" in proc.stderr


def test_warnings_for_flags_that_do_nothing(train_files):
    ns = runpy.run_path(str(train_files["evo2"]))  # defines functions only; no torch import
    args = ns["parse_args"](["--cache-dir", "c", "--no-init-pre-bias", "--max-steps", "3"])
    with pytest.warns(UserWarning) as record:
        ns["warn_settings"](args, 1)
    messages = " | ".join(str(w.message) for w in record)
    assert "--presample-shards 8 has no effect without --init-pre-bias" in messages
    assert "--dead-count-global is a no-op with a single process" in messages
    assert "cosine schedule with --max-steps" in messages
    quiet = ns["parse_args"](["--cache-dir", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ns["warn_settings"](quiet, 2)  # evo2 defaults at 2 processes: nothing to warn about


@pytest.mark.e2e  # a real two-process torchrun: out of the quick path, in CI
def test_two_process_gloo_run(tmp_path, train_files):
    """torchrun --nproc_per_node 2: gloo process group, one SAE, --dead-count-global across ranks."""
    cache = make_store(tmp_path / "c", n=2000)
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [
        str(torchrun), "--standalone", "--nproc_per_node", "2", str(train_files["evo2"]),
        "--cache-dir", str(cache), "--output-dir", str(tmp_path / "o"), "--model-name", "esm2",
        "--layer", "5", *SMALL, "--dp-size", "2", "--dead-count-global",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(tmp_path / "o" / "checkpoint_final.pt", weights_only=True)
    assert ckpt["model_config"]["dead_count_global"] is True and ckpt["world_size"] == 2


SURVIVAL = (
    "unit_norm_latents",
    "project_decoder_grad",
    "dead_tokens_fraction",
    "detach_loss_variance",
    "encoder_init",
)


@pytest.mark.parametrize("model", MODELS)
def test_survival_settings_reach_training_config_and_default_on(model, train_files):
    tree = ast.parse(train_files[model].read_text())
    (site,) = calls(tree, "TrainingConfig")
    star = [k.value for k in site.keywords if k.arg is None]
    assert len(star) == 1 and isinstance(star[0], ast.Call)
    passed = {k.arg: ast.unparse(k.value) for k in star[0].keywords}
    assert passed == {name: f"args.{name}" for name in SURVIVAL}
    direct = {k.arg: ast.unparse(k.value) for k in site.keywords if k.arg}
    for name in ("lr_scale_with_latents", "lr_reference_hidden_dim"):
        assert direct[name] == f"args.{name}"
    args = runpy.run_path(str(train_files[model]))["parse_args"](["--cache-dir", "c"])
    assert args.unit_norm_latents and args.project_decoder_grad and args.detach_loss_variance
    assert args.dead_tokens_fraction == 0.05 and args.lr_reference_hidden_dim == 16384
    assert args.encoder_init == "uniform"
    assert args.lr_scale_with_latents is (model != "evo2")


def test_survival_settings_are_dropped_with_one_warning_on_a_runtime_without_them(train_files):
    import dataclasses

    ns = runpy.run_path(str(train_files["esm2"]))

    @dataclasses.dataclass
    class ReferenceConfig:  # the shared library's TrainingConfig has none of the three
        lr: float = 3e-4

    @dataclasses.dataclass
    class OursConfig(ReferenceConfig):
        unit_norm_latents: bool = False
        project_decoder_grad: bool = False
        dead_tokens_fraction: float | None = None

    settings = {
        "unit_norm_latents": True,
        "project_decoder_grad": True,
        "dead_tokens_fraction": 0.05,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ns["survival_settings"](OursConfig, **settings) == settings
        off = dict(settings, unit_norm_latents=False, project_decoder_grad=False)
        assert (
            ns["survival_settings"](ReferenceConfig, **dict(off, dead_tokens_fraction=None)) == {}
        )
    with pytest.warns(UserWarning) as record:
        assert ns["survival_settings"](ReferenceConfig, **settings) == {}
    assert len(record) == 1
    message = str(record[0].message)
    assert "--unit-norm-latents, --project-decoder-grad, --dead-tokens-fraction" in message
    assert "lacks them" in message
