"""## What it does
Reports `dist.barrier()` in an extractor that runs a model's `predict` entry point.

Only `torch.distributed` barriers count: Lightning's `trainer.strategy.barrier()` and
`trainer.predict()` are not a predict CLI.

## Why is this bad?
The predict entry point tears the process group down before the finalize hook runs, so the
barrier fails (or hangs) exactly when rank 0 should merge the per-rank stores.

## Example
```python
predict.main()
dist.barrier()
merge_stores(rank_dirs, out)
```

## Use instead
Each rank writes its own store; rank 0 waits for every sibling's `metadata.json`
(`wait_for_stores(...)`, polling) and then merges.
"""

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._values import predict_calls

CODE = "SAE303"
NAME = "barrier-after-predict"
SEVERITY = "error"
SUMMARY = "dist.barrier() in an extractor that runs a predict entry point"
GOTCHAS = (15, 23)
KIND = "python"
EXAMPLE_PATH = "extract.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`dist.barrier()` in an extractor that runs a `predict` entry point (it tears the group down; merge by waiting for each rank's `metadata.json`)"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "DDP extraction hangs or crashes in `dist.barrier()` after predict",
        "rank 0 waits for each rank's `metadata.json`, then merges; no barrier",
    ),
)
FACTS = {
    15: Fact(
        "Extractor (`extract.py`)",
        "Multi-process merge by waiting for files",
        """\
Each rank writes its own store; rank 0 merges once every sibling's `metadata.json` exists. A
`dist.barrier()` cannot do it: the predict entry point destroys the process group before its
hooks return. Rule: **SAE303**.
""",
    ),
    23: Fact(
        "Evaluation and sanity",
        "Hooks that run after the predict entry point returns",
        """\
The process group is gone by then, so `dist.barrier()` silently does nothing and rank 0 races
ahead: wait for the siblings' `metadata.json` on disk instead. A hook called from `finally:` that
finalizes or merges makes a crashed run look complete. Rules: **SAE303**, **SAE305**.
""",
    ),
}

VALID = [
    "from sae.activation_store import wait_for_stores\nimport predict\n"
    "predict.main()\nwait_for_stores(['a', 'b'])\n",
    "import torch.distributed as dist\ndist.barrier()\n",
    # Lightning: trainer.predict() keeps the process group; the strategy barrier is fine
    "def on_epoch_end(trainer, model, loader):\n"
    "    preds = trainer.predict(model, loader)\n    trainer.strategy.barrier()\n",
]
INVALID = [
    Invalid(
        "import torch.distributed as dist\nimport predict\npredict.main()\ndist.barrier()\n",
        4,
        "have rank 0 poll",
    ),
    Invalid(
        "import torch\nfrom bionemo.evo2.run.predict import predict\n"
        "predict(fasta_path='a.fa')\ntorch.distributed.barrier()\n",
        4,
        "`barrier()` after a predict entry point",
    ),
]


def check(ctx):
    f = ctx.facts
    if not predict_calls(f):
        return
    for site in dist_barriers(f):
        yield ctx.finding(
            site.line,
            "`barrier()` after a predict entry point: it tears the process group down; have "
            "rank 0 poll for each rank's metadata.json (`wait_for_stores`) instead",
            site.col,
        )


# --- queries of this rule ---


def dist_barriers(f) -> list:
    """`torch.distributed.barrier()` calls (not Lightning's `trainer.strategy.barrier()`)."""
    out = []
    for s in f.called("barrier"):
        head = s.dotted.split(".")[0]
        imp = f.imports.get(head)
        if s.dotted in ("torch.distributed.barrier",) or (
            imp is not None and imp[0].startswith("torch.distributed")
        ):
            out.append(s)
        elif imp is not None and imp[0] == "torch" and imp[1] == "distributed":
            out.append(s)
    return out
