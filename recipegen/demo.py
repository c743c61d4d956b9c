"""`recipegen demo`: the main job. Render the esm2 recipe and run its smoke pipeline end to end.

Embedded defaults: a small protein FASTA shipped in the package (`recipegen/data`) and a tiny
randomly initialised ESM2 (EsmForMaskedLM + the standard 33-token EsmTokenizer) written with
`save_pretrained`, exactly as a real checkpoint directory would be used. Nothing is downloaded.
torch/transformers/sae are imported lazily: `recipegen` itself installs and imports without them.
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

DEMO_FASTA = "demo_proteins.fasta"
ESM_VOCAB = (
    "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - <null_1> <mask>"
).split()
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


def write_tiny_esm2(directory: Path, seed: int = 0) -> Path:
    """A randomly initialised 6-layer ESM2 (hidden 64) and its tokenizer, via save_pretrained."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    tokenizer = EsmTokenizer(str(vocab))
    torch.manual_seed(seed)
    config = EsmConfig(
        vocab_size=len(ESM_VOCAB),
        hidden_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=1026,
        position_embedding_type="rotary",
        pad_token_id=ESM_VOCAB.index("<pad>"),
        mask_token_id=ESM_VOCAB.index("<mask>"),
        token_dropout=True,
        emb_layer_norm_before=False,
    )
    EsmForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def render_recipe(out: Path) -> Path:
    """Render the esm2 recipe with the generator API into `out/esm2_sae`."""
    from recipegen.generator.generate import generate
    from recipegen.generator.write import write

    rendered = generate("esm2")
    directory = out / rendered.dirname
    write(directory, rendered.files, force=True)
    return directory


@click.command("demo")
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
def demo(workdir: Path | None, keep: bool) -> None:
    """Main job: render the esm2 recipe and run its smoke pipeline on CPU, then print the report."""
    missing = missing_runtime()
    if missing:
        raise click.ClickException(
            f"recipegen demo needs {', '.join(missing)} (not installed). Install the runtime: "
            "`bash scripts/setup.sh`, or `pip install torch && pip install -e './sae[hf,plot]'`."
        )
    start = time.monotonic()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="recipegen-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    recipe = render_recipe(workdir)
    fasta = workdir / DEMO_FASTA
    fasta.write_text(resources.files("recipegen").joinpath("data", DEMO_FASTA).read_text())
    click.echo(f"rendered {recipe}; creating a tiny random ESM2 ...", err=True)
    model_dir = write_tiny_esm2(workdir / "tiny_esm2")
    work = workdir / "work"
    if work.exists():  # a previous demo run: start clean so every step really runs
        shutil.rmtree(work)

    env = dict(os.environ, **DEMO_ENV)
    env.update(
        INPUT=str(fasta),
        CHECKPOINT=str(model_dir),
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
        for bulky in (work / "cache_train", work / "cache_eval", model_dir):
            shutil.rmtree(bulky, ignore_errors=True)
    click.echo("")
    # eval.py printed the metrics summary above; this footer says where everything is.
    click.echo(f"== recipegen demo: esm2 SAE main job done in {time.monotonic() - start:.0f} s")
    click.echo(f"  report           : {report_path}")
    click.echo(f"  training curves  : {curves}")
    click.echo(f"  recipe           : {recipe}")
    dashboard = work / "dashboard"
    if (dashboard / "index.html").is_file():
        click.echo(f"  feature atlas    : {work / 'analysis'}")
        click.echo(f"  dashboard        : {dashboard / 'index.html'}")
        serve = f"{shlex.quote(sys.executable)} -m sae.dashboard {shlex.quote(str(dashboard))}"
        click.echo(f"  serve it with    : {serve} --port 8000   (then open http://127.0.0.1:8000/)")


COMMANDS = [demo]
