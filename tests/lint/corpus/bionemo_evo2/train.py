"""Evo2 SAE training (written for sae 0.0.x)."""

import argparse

from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.training import Trainer, TrainingConfig

parser = argparse.ArgumentParser()
parser.add_argument("--cache-dir", required=True)
parser.add_argument("--expansion-factor", type=int, default=16)
parser.add_argument("--top-k", type=int, default=64)
parser.add_argument("--normalize-input", action="store_true")
parser.add_argument("--presample-shards", type=int, default=1)
parser.add_argument("--init-pre-bias", action="store_true")
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--n-epochs", type=int, default=2)
parser.add_argument("--dp-size", type=int, default=1)
args = parser.parse_args()

store = ActivationStore(args.cache_dir)
d = store.hidden_dim
model = TopKSAE(d, d * args.expansion_factor, args.top_k, args.normalize_input)
if args.init_pre_bias:
    model.init_pre_bias_from_data(store.sample(100_000, num_shards=args.presample_shards))
loader = store.get_streaming_dataloader(batch_size=8192, world_size=args.dp_size)
Trainer(model, TrainingConfig(lr=args.lr, n_epochs=args.n_epochs)).fit(loader)
