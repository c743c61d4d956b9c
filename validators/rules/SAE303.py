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

from recipegen.validators.model import Invalid

CODE = "SAE303"
NAME = "barrier-after-predict"
SEVERITY = "error"
SUMMARY = "dist.barrier() in an extractor that runs a predict entry point"
GOTCHAS = (15, 23)
KIND = "python"
EXAMPLE_PATH = "extract.py"

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
    if not f.predict_calls:
        return
    for site in f.dist_barriers:
        yield ctx.finding(
            site.line,
            "`barrier()` after a predict entry point: it tears the process group down; have "
            "rank 0 poll for each rank's metadata.json (`wait_for_stores`) instead",
            site.col,
        )
