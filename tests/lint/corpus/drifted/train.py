"""An old copy of the recipe's train.py that drifted from the launcher."""

import argparse

from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.training import Trainer, TrainingConfig

p = argparse.ArgumentParser()
p.add_argument("--cache-dir", required=True)
p.add_argument("--normalize-input", action=argparse.BooleanOptionalAction, default=False)
p.add_argument("--aggregate-loss", action=argparse.BooleanOptionalAction, default=False)
p.add_argument("--dead-count-global", action=argparse.BooleanOptionalAction, default=False)
p.add_argument("--mix-shards", type=int, default=1)
p.add_argument("--presample-shards", type=int, default=1)
p.add_argument("--lr-schedule", default="cosine")
p.add_argument("--n-epochs", type=int, default=1)
p.add_argument("--dp-size", type=int, default=1)
p.add_argument("--wandb", action="store_true")
args = p.parse_args()

store = ActivationStore(args.cache_dir)
sae = TopKSAE(
    store.hidden_dim,
    store.hidden_dim * 8,
    32,
    normalize_input=args.normalize_input,
    dead_count_global=args.dead_count_global,
)
sae.init_pre_bias_from_data(store.sample(50_000, num_shards=args.presample_shards))
loader = store.get_streaming_dataloader(4096, mix_shards=args.mix_shards)
config = TrainingConfig(lr_schedule=args.lr_schedule, n_epochs=args.n_epochs, max_steps=100_000)
Trainer(sae, config).fit(loader)
