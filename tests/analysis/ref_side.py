"""Run INSIDE the reference library's virtualenv (never imported by our tests).

usage: python ref_side.py OUR_ANALYSIS_DIR OUT_DIR
1. Writes the reference's own atlas files (save_feature_atlas, TokenActivationCollector +
   export_text_features_parquet) into OUT_DIR/ref, from a reference TopKSAE on random data.
2. Hands OUR atlas to the reference's launch_dashboard (its reader path: it checks the files and
   copies them into its dashboard's public folder; its dev server then needs npm).
Prints a JSON report on the last line.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from sae import analysis
from sae.architectures import TopKSAE
from sae.collector import TokenActivationCollector

ours, out = Path(sys.argv[1]), Path(sys.argv[2])
ref_dir = out / "ref"
ref_dir.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
sae = TopKSAE(input_dim=8, hidden_dim=32, top_k=4)
x = torch.randn(120, 8)
stats, top = analysis.compute_feature_stats(sae, x, top_k=3, show_progress=False)
rng = np.random.default_rng(0)
geo = analysis.FeatureGeometry(
    np.arange(32), rng.normal(size=32), rng.normal(size=32), rng.integers(-1, 3, 32)
)
analysis.save_feature_atlas(stats, geo, ref_dir / "features_atlas.parquet", top_examples=top)


def encode_fn(i):
    with torch.no_grad():
        return [f"t{j}" for j in range(12)], sae.encode(x[i * 12 : i * 12 + 12])


result = TokenActivationCollector(encode_fn, 32, store_token_codes=True).collect(
    range(10), show_progress=False
)
analysis.export_text_features_parquet(result, ref_dir, n_examples=3)

viz = out / "ref_viz"
viz.mkdir(exist_ok=True)
(viz / "package.json").write_text("{}")
error = None
try:
    proc = analysis.launch_dashboard(ours / "features_atlas.parquet", viz_dir=viz, port=5199)
    proc.terminate()
except FileNotFoundError as exc:  # npm is not installed here: the copy step already ran
    error = str(exc)
copied = sorted(p.name for p in (viz / "public").iterdir())
same = all(
    (viz / "public" / n).read_bytes() == (ours / n).read_bytes()
    for n in ("features_atlas.parquet", "feature_metadata.parquet", "feature_examples.parquet")
)
shutil.rmtree(viz)
print(json.dumps({"copied": copied, "identical": same, "server_error": error}))
