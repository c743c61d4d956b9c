"""One training run on the synthetic set, inside one library's own virtualenv.

Run by bench/bench_quality.py as ``<venv python> bench/_quality_run.py --lib NAME --data F
--settings JSON``; prints one JSON line: held-out FVU (1 - explained variance over the whole
test set), dead % on the test set (latents that fire on none of its vectors), the library's own
training dead counter where it has one, tokens trained and process CPU seconds. Every library
sees the same vectors in the same shuffled order (seeded), batch by batch. Only the standard
library, torch and the contender are imported here.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _order(n: int, epochs: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g) for _ in range(epochs)]


def _batches(train, batch, epochs, seed, max_tokens):
    seen = 0
    for perm in _order(train.shape[0], epochs, seed):
        for i in range(0, train.shape[0] - batch + 1, batch):  # drop_last, as our loaders
            if max_tokens and seen >= max_tokens:
                return
            seen += batch
            yield train[perm[i : i + batch]]


def _fvu_dead(encode_decode, test, n_latents, batch=4096):
    sq_err, fired = 0.0, torch.zeros(n_latents, dtype=torch.bool)
    with torch.no_grad():
        for i in range(0, test.shape[0], batch):
            x = test[i : i + batch]
            recon, idx, vals = encode_decode(x)
            sq_err += float((recon - x).pow(2).sum())
            fired[idx[vals > 1e-3]] = True
    total = float((test - test.mean(0)).pow(2).sum())
    return sq_err / total, 100.0 * float((~fired).float().mean())


def run_ours(args, s, train, test):
    from sae.architectures import TopKSAE
    from sae.training import Trainer, TrainingConfig

    model_kw = dict(s.get("model", {}))
    model = TopKSAE(args.d_in, args.n, args.k, **model_kw)
    cfg = TrainingConfig(
        lr=args.lr,
        n_epochs=args.epochs,
        batch_size=args.batch,
        device="cpu",
        log_interval=10_000,
        show_progress=False,
        seed=args.seed,
        max_steps=(args.max_tokens // args.batch) if args.max_tokens else None,
        **s.get("train", {}),
    )
    trainer = Trainer(model, cfg)
    # same order as the peers: feed an already shuffled tensor, unshuffled
    data = torch.cat(list(_batches(train, args.batch, args.epochs, args.seed, args.max_tokens)))
    trainer.config.shuffle = False
    trainer.config.n_epochs = 1
    trainer.config.max_steps = None
    trainer.fit(data)
    metrics = trainer.summary.get("metrics", {})

    def ed(x):
        model.eval()
        pre, info = model.encode_pre_act(x)
        vals, idx = model._topk(pre)
        codes = torch.zeros_like(pre).scatter(-1, idx, vals)
        return model.decode(codes, info), idx, vals

    return ed, {
        "train_counter_dead_pct": metrics.get("dead_pct"),
        "dead_pct_informative": metrics.get("dead_pct_informative"),
        "inactive_pct": metrics.get("inactive_pct"),
        "steps": trainer.global_step,
    }


def run_sparsify(args, s, train, test):
    import sparsify

    cls = getattr(sparsify, "SparseCoder", None) or sparsify.Sae
    cfg_cls = getattr(sparsify, "SparseCoderConfig", None) or sparsify.SaeConfig
    cfg = cfg_cls(expansion_factor=args.n // args.d_in, k=args.k)
    model = cls(args.d_in, cfg, device="cpu", dtype=torch.float32)
    lr = args.lr if not s.get("auto_lr") else 2e-4 / (args.n / 2**14) ** 0.5
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = None
    if s.get("schedule"):  # its Trainer's: transformers' linear warmup (1000 steps) + decay to 0
        warm = 1000
        total = sum(1 for _ in _batches(train, args.batch, args.epochs, args.seed, args.max_tokens))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda t: t / warm if t < warm else max(0.0, (total - t) / max(1, total - warm)),
        )
    since = torch.zeros(args.n, dtype=torch.long)
    steps = 0
    for x in _batches(train, args.batch, args.epochs, args.seed, args.max_tokens):
        if steps == 0:  # its trainer: decoder bias <- mean of the first batch
            model.b_dec.data = x.mean(0).to(model.dtype)
        out = model(x, dead_mask=since > 10_000_000)
        loss = out.fvu + out.auxk_loss / 32
        opt.zero_grad(set_to_none=True)
        loss.backward()
        model.remove_gradient_parallel_to_decoder_directions()
        opt.step()
        if sched is not None:
            sched.step()
        model.set_decoder_norm_to_unit_norm()
        with torch.no_grad():
            fired = torch.zeros(args.n, dtype=torch.bool)
            fired[out.latent_indices.flatten()] = True
            since.add_(x.shape[0]).masked_fill_(fired, 0)
        steps += 1

    def ed(x):
        out = model(x)
        return out.sae_out, out.latent_indices, out.latent_acts

    return ed, {"steps": steps, "lr": lr}


def run_saelens(args, s, train, test):
    from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.saes.sae import TrainStepInput

    cfg = TopKTrainingSAEConfig(d_in=args.d_in, d_sae=args.n, k=args.k, device="cpu")
    model = TopKTrainingSAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    since = torch.zeros(args.n)
    coefficients = {n: getattr(c, "value", c) for n, c in model.get_coefficients().items()}
    steps = 0
    for x in _batches(train, args.batch, args.epochs, args.seed, args.max_tokens):
        out = model.training_forward_pass(
            step_input=TrainStepInput(
                sae_in=x,
                coefficients=coefficients,
                dead_neuron_mask=since > 1000,
                n_training_steps=steps,
                is_logging_step=False,
            )
        )
        with torch.no_grad():
            did_fire = out.feature_acts.bool().float().sum(-2).bool()
            since.add_(1)
            since[did_fire] = 0
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        steps += 1

    def ed(x):
        acts = model.encode(x)
        vals, idx = acts.topk(args.k, dim=-1)
        return model.decode(acts), idx, vals

    return ed, {"steps": steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lib", choices=["ours", "sparsify", "saelens"], required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--settings", default="{}")
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=0, help="0: all epochs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = torch.load(args.data, weights_only=True)
    train, test = data["train"], data["test"]
    args.d_in = train.shape[1]
    settings = json.loads(args.settings)
    run = {"ours": run_ours, "sparsify": run_sparsify, "saelens": run_saelens}[args.lib]
    c0, w0 = time.process_time(), time.perf_counter()
    ed, extra = run(args, settings, train, test)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    fvu, dead = _fvu_dead(ed, test, args.n)
    steps = extra.get("steps", 0)
    print(
        json.dumps(
            {
                "lib": args.lib,
                "settings": settings,
                "fvu": fvu,
                "dead_pct_test": dead,
                "tokens": steps * args.batch,
                "train_cpu_s": cpu,
                "train_wall_s": wall,
                **extra,
            }
        )
    )


if __name__ == "__main__":
    main()
