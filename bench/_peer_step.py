"""One contender's TopK training step, timed inside that library's own virtualenv.

Run by bench/bench_peers.py as ``<venv python> bench/_peer_step.py --lib NAME ...``; prints one
JSON line: tokens per process CPU-second and per wall second over ``--steps`` steps (after one
warm-up step), peak RSS and the last loss. Every library gets the same seeded fp32 batch and
runs its own step: loss (incl. its AuxK machinery), backward, Adam, its post-step hook.
Only the standard library and torch are imported here besides the contender itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch


def _ours_or_reference(args, fused: bool):
    from sae.architectures import TopKSAE

    model = TopKSAE(
        args.d, args.n, args.k, normalize_input=False, auxk=2 * args.k, init_pre_bias=False
    )
    if fused and args.quality_settings:  # the recipes' opt-in settings (generator/knobs.py)
        model.use_unit_norm_latents()
        model.use_decoder_grad_projection()
    if fused:  # what our Trainer builds (fused Adam where supported)
        from sae.training import _make_adam

        opt = _make_adam(model.parameters(), 1e-4)
    else:  # the reference Trainer's optimizer
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    clip = fused and args.quality_settings  # the recipes' max_grad_norm=1.0, as the Trainer

    def step(x):
        out = model.loss(x)
        opt.zero_grad(set_to_none=True)
        out["total"].backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.post_step()
        return float(out["total"].detach())

    return step


def _sparsify(args):
    import sparsify

    cls = getattr(sparsify, "SparseCoder", None) or sparsify.Sae
    cfg_cls = getattr(sparsify, "SparseCoderConfig", None) or sparsify.SaeConfig
    cfg = cfg_cls(expansion_factor=args.n // args.d, k=args.k)
    model = cls(args.d, cfg, device="cpu", dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    since_fired = torch.zeros(args.n, dtype=torch.long)
    auxk_alpha, dead_after = 1 / 32, 10_000_000  # its trainer's defaults

    def step(x):
        dead = since_fired > dead_after
        out = model(x, dead_mask=dead)
        loss = out.fvu + auxk_alpha * out.auxk_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        model.remove_gradient_parallel_to_decoder_directions()
        opt.step()
        model.set_decoder_norm_to_unit_norm()
        with torch.no_grad():  # its trainer's dead-latent bookkeeping
            fired = torch.zeros(args.n, dtype=torch.bool)
            fired[out.latent_indices.flatten()] = True
            since_fired.add_(x.shape[0]).masked_fill_(fired, 0)
        return float(loss.detach())

    return step


def _saelens(args):
    from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.saes.sae import TrainStepInput

    cfg = TopKTrainingSAEConfig(d_in=args.d, d_sae=args.n, k=args.k, device="cpu")
    model = TopKTrainingSAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    since_fired = torch.zeros(args.n)
    coefficients = {name: getattr(c, "value", c) for name, c in model.get_coefficients().items()}

    def step(x):  # as its SAETrainer._train_step does it
        out = model.training_forward_pass(
            step_input=TrainStepInput(
                sae_in=x,
                coefficients=coefficients,
                dead_neuron_mask=since_fired > 1000,
                n_training_steps=0,
                is_logging_step=False,
            )
        )
        with torch.no_grad():
            did_fire = out.feature_acts.bool().float().sum(-2).bool()
            since_fired.add_(1)
            since_fired[did_fire] = 0
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        return float(out.loss.detach())

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lib", choices=["ours", "reference", "sparsify", "saelens"], required=True)
    p.add_argument("--d", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--quality-settings",
        type=int,
        default=1,
        help="ours: 1 = the recipes' settings (unit-norm latents, decoder gradient projection, "
        "gradient clipping at 1.0), 0 = library defaults",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed + 1)
    # activation-like data: a low-rank signal plus noise, the same on every library
    basis = torch.randn(4 * args.k, args.d, generator=g)
    xs = []
    for _ in range(args.steps + 1):
        codes = torch.relu(torch.randn(args.batch, 4 * args.k, generator=g))
        xs.append(codes @ basis + 0.1 * torch.randn(args.batch, args.d, generator=g))
    build = {
        "ours": lambda: _ours_or_reference(args, fused=True),
        "reference": lambda: _ours_or_reference(args, fused=False),
        "sparsify": lambda: _sparsify(args),
        "saelens": lambda: _saelens(args),
    }[args.lib]
    step = build()
    step(xs[0])  # warm-up (allocations, lazy init)
    c0, w0 = time.process_time(), time.perf_counter()
    loss = float("nan")
    for x in xs[1:]:
        loss = step(x)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    tokens = args.batch * args.steps
    print(
        json.dumps(
            {
                "lib": args.lib,
                "tokens_per_cpu_s": tokens / cpu,
                "tokens_per_wall_s": tokens / wall,
                "cpu_s": cpu,
                "wall_s": wall,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "last_loss": loss,
            }
        )
    )


if __name__ == "__main__":
    main()
