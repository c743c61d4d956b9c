"""`recipegen demo`: render a shipped recipe and run its smoke pipeline offline, end to end.

Every rendered recipe carries its own tiny stand-in (`standin.py`, from its extraction kind's
folder): esm2 a randomly initialised ESM2 (EsmForMaskedLM + the 33-token ESM vocabulary,
save_pretrained), here run on the protein FASTA shipped in this package; codonfm a random
checkpoint of the reference adapter rendered into the recipe (`encodon_adapter.py`) on coding
sequences; evo2 the stand-in predict module rendered into the recipe (`evo2_predict.py`) on DNA
records. Nothing is downloaded.

antiberty is the exception: a REAL pretrained model. Its trained weights ship inside the PyPI wheel
`antiberty==0.1.3` (installed here if absent, from the package index, like any dependency); the
demo builds a Hugging Face folder from them (`sae.models.antiberty.build_antiberty_folder`,
tokenizer checked), runs the full recipe (not --smoke) on the shipped antibody heavy chains with
their IMGT region labels (LABELS), and steers the top CDR3 feature (steer.py). The stand-in runs in a subprocess of the runtime's Python:
`recipegen` itself installs and imports without torch, transformers or sae.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import click

__all__ = ["DEMO_FASTA", "DEMO_MODELS", "demo", "demo_fasta_text"]

DEMO_FASTA = "demo_proteins.fasta"

DEMO_MODELS = ("esm2", "codonfm", "evo2", "antiberty")
ANTIBODY_FASTA = "antibody_heavy.fasta"
ANTIBODY_LABELS = "antibody_heavy.regions.fasta"
ANTIBERTY_REQUIREMENT = "antiberty==0.1.3"
# The antiberty demo: the full pipeline on 600 chains (450 train / 150 held out), a 1024-latent
# SAE for 2 epochs; about 4 CPU-minutes in all (measured under load; 2-4 min on 2 idle cores).
ANTIBERTY_ENV = {
    "MAX_SEQUENCES": "600",
    "EVAL_FRACTION": "0.25",
    "EXPANSION_FACTOR": "2",
    "BATCH_SIZE": "512",
    "N_EPOCHS": "2",
    "EVAL_MAX_SEQUENCES": "64",
    "NPROC": "1",
    "DEVICE": "cpu",
}
# Smoke-pipeline overrides: enough sequences for a held-out split with probing, quick on 2 CPUs.
DEMO_ENV = {
    "MAX_SEQUENCES": "160",
    "EVAL_FRACTION": "0.2",
    "BATCH_SIZE": "512",
    "N_EPOCHS": "2",
    "NPROC": "1",
    "DEVICE": "cpu",
}


def missing_runtime() -> list[str]:
    """Distributions the demo needs whose modules are not importable."""
    missing = []
    for module in ("torch", "transformers", "sae.activation_store"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # parent package missing (or only a bare `sae/` folder in the cwd)
            found = False
        if not found:
            missing.append(module.split(".")[0])
    return missing


def ensure_antiberty() -> None:
    """Install antiberty==0.1.3 (the weights' wheel; the sae extra `antiberty`) when absent."""
    if importlib.util.find_spec("antiberty") is not None:
        return
    click.echo(
        f"recipegen demo: installing {ANTIBERTY_REQUIREMENT} (the sae extra `antiberty`: its "
        "wheel, ~97 MB, carries the trained AntiBERTy weights) ...",
        err=True,
    )
    command = [sys.executable, "-m", "pip", "install", ANTIBERTY_REQUIREMENT]
    if subprocess.run(command, check=False).returncode != 0:
        raise click.ClickException(
            f"could not install {ANTIBERTY_REQUIREMENT}; install it yourself "
            "(pip install 'sae[antiberty]') and re-run"
        )


def antiberty_env(workdir: Path) -> dict[str, str]:
    """INPUT, LABELS and CHECKPOINT of the antiberty demo: the shipped antibody heavy chains and
    their region labels, and the HF folder built from the antiberty wheel (tokenizer checked)."""
    ensure_antiberty()
    data = resources.files("recipegen").joinpath("data")
    for name in (ANTIBODY_FASTA, ANTIBODY_LABELS):
        (workdir / name).write_text(data.joinpath(name).read_text())
    folder = workdir / "antiberty_hf"
    click.echo(f"building the AntiBERTy model folder {folder} from the wheel ...", err=True)
    code = (
        "import sys; from sae.models.antiberty import build_antiberty_folder; "
        "build_antiberty_folder(sys.argv[1], overwrite=True)"
    )
    if subprocess.run([sys.executable, "-c", code, str(folder)], check=False).returncode != 0:
        raise click.ClickException("the AntiBERTy folder could not be built; see the output above")
    return {
        "INPUT": str(workdir / ANTIBODY_FASTA),
        "LABELS": str(workdir / ANTIBODY_LABELS),
        "CHECKPOINT": str(folder),
    }


def top_feature(report: dict, label: str) -> int | None:
    """The first latent of `label`'s group (the one with the most hits), else the best concept."""
    labels = report.get("labels") or {}
    group = (labels.get("groups") or {}).get(label) or {}
    if group.get("features"):
        return int(group["features"][0])
    best = [r for r in labels.get("best_concepts", []) if r["label"] == label]
    return int(best[0]["feature_id"]) if best else None


def top_f1_feature(csv_path: Path, label: str) -> int | None:
    """The latent with the best F1 for `label` in eval's label_metrics.csv."""
    import csv

    if not csv_path.is_file():
        return None
    with csv_path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] == label]
    return int(max(rows, key=lambda r: float(r["f1"]))["feature_id"]) if rows else None


def run_steer(recipe: Path, work: Path, env: dict, feature: int) -> Path:
    """steer.py on the demo's SAE for `feature`: dose-response on 8 chains where it fires."""
    out = work / "steer"
    command = [
        sys.executable,
        str(recipe / "steer.py"),
        "--sae-checkpoint",
        str(work / "sae" / "checkpoint_final.pt"),
        "--input",
        env["INPUT"],
        "--checkpoint",
        env["CHECKPOINT"],
        "--labels",
        env["LABELS"],
        "--feature",
        str(feature),
        "--n-sequences",
        "8",
        "--device",
        "cpu",
        "--output-dir",
        str(out),
    ]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise click.ClickException("steer.py failed; see the output above")
    return out


def render_recipe(out: Path, model: str = "esm2") -> Path:
    """Render the shipped `model` recipe with the generator API into `out/<model>_sae`."""
    from recipegen.generator.generate import generate
    from recipegen.generator.write import write

    rendered = generate(model)
    directory = out / rendered.dirname
    write(directory, rendered.files, force=True)
    return directory


def demo_fasta_text() -> str:
    """The protein FASTA shipped in the package (real sequences for the esm2 demo)."""
    return resources.files("recipegen").joinpath("data", DEMO_FASTA).read_text()


def standin_env(model: str, recipe: Path, workdir: Path) -> dict[str, str]:
    """INPUT and CHECKPOINT of the smoke. esm2: the shipped protein FASTA and the tiny ESM2 that
    the recipe's own `standin.py` writes (run here, by the runtime's Python); the other models:
    both unset, so `launch.sh --smoke` runs `standin.py` itself (generated input, tiny model)."""
    if model != "esm2":
        return {"INPUT": "", "CHECKPOINT": ""}
    from recipegen.generator import spec as specs

    raw, spec = specs.load(model)
    n_layers = min(specs.resolve(spec, raw)["model"]["n_layers"], 64)
    standin = workdir / "standin"
    command = [sys.executable, str(recipe / "standin.py"), "--out", str(standin)]
    if subprocess.run([*command, "--n-layers", str(n_layers)], check=False).returncode != 0:
        raise click.ClickException("the stand-in model could not be written; see the output above")
    fasta = standin / "input.fasta"  # the real proteins replace the generated input
    fasta.write_text(demo_fasta_text())
    return {"INPUT": str(fasta), "CHECKPOINT": str(standin / "model")}


@click.command("demo", short_help="Smoke a shipped recipe offline on a tiny stand-in.")
@click.option(
    "--model",
    type=click.Choice(DEMO_MODELS),
    default="esm2",
    show_default=True,
    help="Which shipped spec to smoke (each with a tiny offline stand-in model).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to render and run (default: a new temporary directory).",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the activation caches and the tiny model (default: only recipe, SAE and report).",
)
def demo(model: str, workdir: Path | None, keep: bool) -> None:
    """Render a shipped recipe and run its smoke pipeline offline on CPU, then print the report.

    A tiny random stand-in replaces the real model (nothing is downloaded): a few minutes on 2
    CPU cores. `--model antiberty` runs the real pretrained AntiBERTy (installing
    antiberty==0.1.3 if absent) on antibody chains with their region labels, then steers the top
    CDR3 feature."""
    missing = missing_runtime()
    if missing:
        raise click.ClickException(
            f"recipegen demo needs {', '.join(missing)} (not installed). Install the runtime: "
            "`bash scripts/setup.sh`, or `pip install torch && pip install -e './sae[hf,plot]'`."
        )
    start = time.monotonic()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="recipegen-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    recipe = render_recipe(workdir, model)
    if model == "antiberty":
        click.echo(f"rendered {recipe}; the real AntiBERTy model, full pipeline ...", err=True)
        env_standin = antiberty_env(workdir)
    else:
        click.echo(f"rendered {recipe}; creating the tiny random {model} stand-in ...", err=True)
        env_standin = standin_env(model, recipe, workdir)
    work = workdir / "work"
    if work.exists():  # a previous demo run: start clean so every step really runs
        shutil.rmtree(work)

    env = dict(os.environ, **(ANTIBERTY_ENV if model == "antiberty" else DEMO_ENV))
    env.update(env_standin)
    env.update(
        WORK=str(work),
        PYTHON=sys.executable,
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    smoke = [] if model == "antiberty" else ["--smoke"]
    result = subprocess.run(["bash", str(recipe / "launch.sh"), *smoke], env=env, check=False)
    if result.returncode != 0:
        raise click.ClickException(
            f"the smoke pipeline failed (exit {result.returncode}); see the output above"
        )
    report_path = work / "eval" / "report.json"
    curves = work / "eval" / "training_curves.png"
    if not report_path.is_file():
        raise click.ClickException(f"the smoke pipeline finished without writing {report_path}")
    steer_dir, feature = None, None
    if model == "antiberty":
        import json

        report = json.loads(report_path.read_text())
        feature = top_feature(report, "CDR3")
        if feature is None:
            feature = top_f1_feature(work / "eval" / "label_metrics.csv", "CDR3")
        if feature is not None:
            click.echo(f"== steer: the top CDR3 feature, {feature}", err=True)
            steer_dir = run_steer(recipe, work, env, feature)
    if not keep:
        bulky_dirs = (
            work / "cache_train",
            work / "cache_eval",
            work / "standin",
            workdir / "standin",
            workdir / "antiberty_hf",
        )
        for bulky in bulky_dirs:
            shutil.rmtree(bulky, ignore_errors=True)
    click.echo("")
    # eval.py printed the metrics summary above; this footer says where everything is.
    run_kind = "full run (real model)" if model == "antiberty" else "smoke"
    click.echo(
        f"== recipegen demo: {model} SAE {run_kind} done in {time.monotonic() - start:.0f} s"
    )
    click.echo(f"  report           : {report_path}")
    click.echo(f"  training curves  : {curves}")
    if (work / "eval" / "label_metrics.csv").is_file():
        click.echo(f"  label metrics    : {work / 'eval' / 'label_metrics.csv'}")
    if steer_dir is not None:
        click.echo(f"  steering         : feature {feature}: {steer_dir / 'dose_response.csv'}")
        click.echo(f"                     plot {steer_dir / 'dose_response.png'}")
    click.echo(f"  recipe           : {recipe}")
    dashboard = work / "dashboard"
    if (dashboard / "index.html").is_file():
        click.echo(f"  feature atlas    : {work / 'analysis'}")
        click.echo(f"  dashboard        : {dashboard / 'index.html'}")
        serve = f"{shlex.quote(sys.executable)} -m sae.dashboard {shlex.quote(str(dashboard))}"
        click.echo(f"  serve it with    : {serve}   (it prints the URL to open)")


COMMANDS = [demo]
