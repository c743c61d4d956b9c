import argparse

from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.training import Trainer, TrainingConfig


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--normalize-input", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--mix-shards", type=int, default=1)
    ap.add_argument("--presample-shards", type=int, default=1)
    ap.add_argument("--dp-size", type=int, default=1)
    return ap.parse_args()


def main():
    args = parse()
    store = ActivationStore(args.cache_dir)
    model = TopKSAE(
        store.hidden_dim, 8 * store.hidden_dim, 32, normalize_input=args.normalize_input
    )
    model.init_pre_bias_from_data(store.sample(40_000, 0, args.presample_shards))
    loader = store.get_streaming_dataloader(4096, True, 0, 0, args.dp_size, None, 1)
    Trainer(model, TrainingConfig(n_epochs=1)).fit(loader)


if __name__ == "__main__":
    main()
