"""`recipegen demo`: render a shipped recipe and run its smoke pipeline offline, end to end.

Every rendered recipe carries its own tiny stand-in (`standin.py`, from its extraction kind's
folder): esm2 a randomly initialised ESM2 (EsmForMaskedLM + the 33-token ESM vocabulary,
save_pretrained), here run on the protein FASTA shipped in this package; codonfm a random
checkpoint of the reference adapter rendered into the recipe (`encodon_adapter.py`) on coding
sequences; evo2 the stand-in predict module rendered into the recipe (`evo2_predict.py`) on DNA
records. Nothing is downloaded. The stand-in runs in a subprocess of the runtime's Python:
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

DEMO_MODELS = ("esm2", "codonfm", "evo2")
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
    CPU cores."""
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
    click.echo(f"rendered {recipe}; creating the tiny random {model} stand-in ...", err=True)
    env_standin = standin_env(model, recipe, workdir)
    work = workdir / "work"
    if work.exists():  # a previous demo run: start clean so every step really runs
        shutil.rmtree(work)

    env = dict(os.environ, **DEMO_ENV)
    env.update(env_standin)
    env.update(
        WORK=str(work),
        PYTHON=sys.executable,
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    result = subprocess.run(["bash", str(recipe / "launch.sh"), "--smoke"], env=env, check=False)
    if result.returncode != 0:
        raise click.ClickException(
            f"the smoke pipeline failed (exit {result.returncode}); see the output above"
        )
    report_path = work / "eval" / "report.json"
    curves = work / "eval" / "training_curves.png"
    if not report_path.is_file():
        raise click.ClickException(f"the smoke pipeline finished without writing {report_path}")
    if not keep:
        bulky_dirs = (
            work / "cache_train",
            work / "cache_eval",
            work / "standin",
            workdir / "standin",
        )
        for bulky in bulky_dirs:
            shutil.rmtree(bulky, ignore_errors=True)
    click.echo("")
    # eval.py printed the metrics summary above; this footer says where everything is.
    click.echo(f"== recipegen demo: {model} SAE smoke done in {time.monotonic() - start:.0f} s")
    click.echo(f"  report           : {report_path}")
    click.echo(f"  training curves  : {curves}")
    click.echo(f"  recipe           : {recipe}")
    dashboard = work / "dashboard"
    if (dashboard / "index.html").is_file():
        click.echo(f"  feature atlas    : {work / 'analysis'}")
        click.echo(f"  dashboard        : {dashboard / 'index.html'}")
        serve = f"{shlex.quote(sys.executable)} -m sae.dashboard {shlex.quote(str(dashboard))}"
        click.echo(f"  serve it with    : {serve}   (it prints the URL to open)")


COMMANDS = [demo]
