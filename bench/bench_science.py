"""Science check: does an SAE on real AntiBERTy learn antibody regions, and a random copy not?

For the trained AntiBERTy (from the antiberty 0.1.3 wheel) and its random-initialised control
(same config, seeded), on the shipped antibody heavy-chain set (recipegen/data/antibody_heavy*):

1. layer-``--layer`` activations (plain transformers, ``output_hidden_states``; one row per residue,
   [CLS]/[SEP] dropped), chains split 80/20 by a seeded shuffle into train/held-out;
2. a TopK SAE trained briefly on the train rows with our ``sae.Trainer``;
3. on held-out rows: FVU (1 - variance explained), and per IMGT region the latent group with
   precision >= 0.9 (chosen on train rows, ``sae.eval.probing.latent_groups``: "a latent fires")
   with its joint recall/precision and the AUROC of the group's max code; the threshold group the
   recipes report (``threshold_groups``: each latent above its own threshold, chosen on train
   rows, confirmed on half of the held-out chains, scored on the other half: ``thr_*``); the best
   single latent per region (``best_single_train_test``);
4. loss recovered on ``--ce-chains`` held-out chains with its three cross-entropies, twice:
   unmasked (predict every input residue, as the recipes' eval does) and masked-LM (15% of residues
   replaced by [MASK], seeded, CE on those only); plus the untrained-model guards.

Results go to bench/results/science.json. Run: ``python bench/bench_science.py`` (about 3-5 min on
2 cores; needs ``pip install 'sae[antiberty]'``).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, write_result  # noqa: E402
from sae import TopKSAE, Trainer, TrainingConfig  # noqa: E402
from sae.eval.guards import loss_recovered_unclamped, untrained_model_warnings  # noqa: E402
from sae.eval.probing import (  # noqa: E402
    best_single_train_test,
    latent_groups,
    score_group,
    threshold_groups,
)
from sae.labels import align_residue_labels, label_matrix, read_fasta, read_residue_labels  # noqa: E402
from sae.models.antiberty import build_antiberty_folder  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "recipegen" / "data"
REGIONS = ["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"]


def load_set(n: int | None):
    records = read_fasta(DATA / "antibody_heavy.fasta")
    labels = read_residue_labels(DATA / "antibody_heavy.regions.fasta", dict(records))
    return records[:n], labels


class _Stop(Exception):
    """Raised by the capture hook: nothing above the probed layer is needed for extraction."""


@torch.no_grad()
def extract(model, tok, seqs: list[str], layer: int, batch: int = 32) -> list[torch.Tensor]:
    """Layer activations per sequence, [len(seq), hidden] float32, special tokens dropped.

    ``hidden_states[layer]`` is the output of encoder block ``layer - 1``; a hook captures it
    and stops the forward there (the same tensor ``output_hidden_states`` returns, checked on the
    first batch), so the blocks above it are not run.
    """
    block = model.bert.encoder.layer[layer - 1]
    seen: dict[str, torch.Tensor] = {}

    def capture(module, inputs, output):
        seen["h"] = output[0] if isinstance(output, tuple) else output
        raise _Stop

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    acts: dict[int, torch.Tensor] = {}
    for b0 in range(0, len(order), batch):
        idx = order[b0 : b0 + batch]
        enc = tok([" ".join(seqs[i]) for i in idx], return_tensors="pt", padding=True)
        if b0 == 0:
            full = model(**enc, output_hidden_states=True).hidden_states[layer]
        handle = block.register_forward_hook(capture)
        try:
            model(**enc)
        except _Stop:
            pass
        finally:
            handle.remove()
        hs = seen.pop("h")
        if b0 == 0 and not torch.allclose(hs, full, atol=1e-5):
            raise RuntimeError(f"block {layer - 1} output differs from hidden_states[{layer}]")
        for row, i in enumerate(idx):
            acts[i] = hs[row, 1 : 1 + len(seqs[i])].float().clone()
    return [acts[i] for i in range(len(seqs))]


@torch.no_grad()
def cross_entropies(model, tok, sae, seqs, layer: int, masked: bool, seed: int = 0) -> dict:
    """Mean CE (nats/token) clean, with the layer output replaced by the SAE reconstruction, and
    with it zeroed; masked=True scores 15% [MASK]ed residues, else every residue."""
    block = model.bert.encoder.layer[layer - 1]  # hidden_states[layer] is this block's output
    mode = {"fn": None}

    def hook(module, inputs, output):
        if mode["fn"] is None:
            return output
        h = output[0] if isinstance(output, tuple) else output
        new = mode["fn"](h)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    def recon(h):
        flat = h.reshape(-1, h.shape[-1]).float()
        out = sae(flat)
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(h.shape).to(h.dtype)

    handle = block.register_forward_hook(hook)
    rng = random.Random(seed)
    sums = {"clean": 0.0, "sae": 0.0, "zero": 0.0}
    count = 0
    try:
        for b0 in range(0, len(seqs), 16):
            batch = seqs[b0 : b0 + 16]
            enc = tok([" ".join(s) for s in batch], return_tensors="pt", padding=True)
            ids = enc["input_ids"]
            score = torch.zeros_like(ids, dtype=torch.bool)
            for r, s in enumerate(batch):
                score[r, 1 : 1 + len(s)] = True
            inputs = ids.clone()
            if masked:
                pick = torch.zeros_like(score)
                for r, s in enumerate(batch):
                    for p in rng.sample(range(1, 1 + len(s)), max(1, round(0.15 * len(s)))):
                        pick[r, p] = True
                score = pick
                inputs[pick] = tok.mask_token_id
            for name, fn in (("clean", None), ("sae", recon), ("zero", torch.zeros_like)):
                mode["fn"] = fn
                logits = model(input_ids=inputs, attention_mask=enc["attention_mask"]).logits
                sums[name] += float(
                    torch.nn.functional.cross_entropy(logits[score], ids[score], reduction="sum")
                )
            count += int(score.sum())
    finally:
        handle.remove()
    ce = {k: v / count for k, v in sums.items()}
    ce["loss_recovered"] = loss_recovered_unclamped(ce["clean"], ce["sae"], ce["zero"])
    ce["tokens"] = count
    return ce


def run_model(folder: Path, records, labels, args) -> dict:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    seqs = [s for _, s in records]
    ids = [r for r, _ in records]
    acts = extract(model, tok, seqs, args.layer)
    t_extract = time.perf_counter() - t0

    perm = list(range(len(seqs)))
    random.Random(args.seed).shuffle(perm)
    held = set(perm[: int(0.2 * len(seqs))])
    order = [[i, len(seqs[i])] for i in range(len(seqs))]
    rows = align_residue_labels(order, ids, labels, "aa")
    Y, names, labelled = label_matrix(rows, REGIONS)
    is_train = np.concatenate([np.full(len(seqs[i]), i not in held) for i in range(len(seqs))])
    X = torch.cat(acts)
    assert labelled.all() and X.shape[0] == len(rows)

    torch.manual_seed(args.seed)
    sae, cfg = sae_and_config(X.shape[1], int(is_train.sum()), args)
    t1 = time.perf_counter()
    Trainer(sae, cfg).fit(X[torch.from_numpy(is_train)])
    t_train = time.perf_counter() - t1
    sae.eval()

    with torch.no_grad():
        codes = torch.cat([sae.encode(X[r : r + 8192]) for r in range(0, X.shape[0], 8192)])
        Xte = X[torch.from_numpy(~is_train)]
        recon = sae(Xte)
        recon = recon[0] if isinstance(recon, tuple) else recon
        fvu = float(((Xte - recon) ** 2).sum() / ((Xte - Xte.mean(0)) ** 2).sum())
    groups = latent_groups(
        codes,
        Y,
        names,
        min_precision=args.min_precision,
        min_fires=args.min_fires,
        train_mask=is_train,
    )
    tr, te = torch.from_numpy(is_train), torch.from_numpy(~is_train)
    Yt = torch.from_numpy(Y)
    val_chains = set(perm[: int(0.2 * len(seqs))][::2])  # half the held-out chains confirm
    is_val = np.concatenate([np.full(len(seqs[i]), i in val_chains) for i in range(len(seqs))])
    is_test = ~is_train & ~is_val
    thr = threshold_groups(codes, Y, names, is_train, is_val, min_precision=args.min_precision,
                           min_fires=args.min_fires)  # fmt: skip
    regions = {}
    for j, name in enumerate(names):
        g = groups[name]
        tg = score_group(
            codes[torch.from_numpy(is_test)], Yt[torch.from_numpy(is_test), j], thr[name]
        )
        regions[name] = {
            "thr_recall": round(tg["recall"], 4),
            "thr_precision": round(tg["precision"], 4),
            "thr_auroc": round(tg["auroc"], 4),
            "thr_size": len(thr[name]),
            "group_recall": round(g["recall"], 4),
            "group_precision": round(g["precision"], 4),
            "group_auroc": round(g["auroc"], 4),
            "group_size": g["n_features"],
            "best_single_auroc": round(
                best_single_train_test(codes[tr], Yt[tr, j], codes[te], Yt[te, j]), 4
            ),
            "held_out_positives": g["n_pos"],
        }
    ce_chains = [seqs[i] for i in perm[: args.ce_chains]]
    t2 = time.perf_counter()
    ce_plain = cross_entropies(model, tok, sae, ce_chains, args.layer, masked=False)
    ce_mask = cross_entropies(model, tok, sae, ce_chains, args.layer, masked=True, seed=args.seed)
    t_ce = time.perf_counter() - t2
    warnings = untrained_model_warnings(
        variance_explained=1 - fvu,
        ce_clean=ce_plain["clean"],
        ce_zero=ce_plain["zero"],
        vocab_size=len(tok),
    )
    rnd = lambda d: {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}  # noqa: E731
    return {
        "fvu": round(fvu, 4),
        "variance_explained": round(1 - fvu, 4),
        "dead_latents_pct": round(100 * float((codes.max(0).values <= 0).float().mean()), 2),
        "ce_unmasked": rnd(ce_plain),
        "ce_masked_15pct": rnd(ce_mask),
        "ln_vocab": round(float(np.log(len(tok))), 4),
        "regions": regions,
        "best_single_auroc_max": max(r["best_single_auroc"] for r in regions.values()),
        "guards": [w.to_dict() for w in warnings],
        "rows": {"train": int(is_train.sum()), "held_out": int((~is_train).sum())},
        "seconds": {
            "extract": round(t_extract, 1),
            "train": round(t_train, 1),
            "ce": round(t_ce, 1),
        },
    }


def sae_and_config(d_in: int, n_train: int, args):
    """The SAE and TrainingConfig for ``--settings``: ``old`` = the library defaults at ``--lr``;
    ``recipe`` = the rendered antiberty recipe's training settings (its spec through
    generator/knobs.py: survival settings, AuxK, LR rule, schedule, warmup as train.py's
    fit_plan shortens it, clipping), at the same latents, top-k, batch and epochs."""
    run = dict(n_epochs=args.epochs, batch_size=512, device="cpu", show_progress=False,
               log_interval=1000)  # fmt: skip
    if args.settings == "old":
        return TopKSAE(d_in, args.latents, args.top_k), TrainingConfig(lr=args.lr, **run)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from generator import knobs, spec

    resolved = spec.load("antiberty")[1]
    v = {k.name: knobs.value(k, resolved) for k in knobs.KNOBS if (k.spec or "").startswith("sae.")}
    model_kw = ("normalize_input", "auxk", "auxk_coef", "dead_tokens_threshold", "aggregate_loss")
    train_kw = ("lr", "lr_min", "lr_schedule", "max_grad_norm", "lr_scale_with_latents",
                "lr_reference_hidden_dim", "unit_norm_latents", "project_decoder_grad",
                "dead_tokens_fraction", "detach_loss_variance", "encoder_init")  # fmt: skip
    steps = args.epochs * (n_train // 512)
    warmup = v["warmup_steps"]
    if warmup >= 0.1 * steps:  # train.py's fit_plan: 5% of the steps (WARMUP_SHARE)
        warmup = max(1, round(0.05 * steps))
    sae = TopKSAE(d_in, args.latents, args.top_k, **{k: v[k] for k in model_kw})
    cfg = TrainingConfig(
        **{k: v[k] for k in train_kw}, warmup_steps=warmup,
        pre_bias_init="geometric_median" if v["init_pre_bias"] else "none", **run,
    )  # fmt: skip
    return sae, cfg


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layer", type=int, default=4)
    p.add_argument(
        "--chains", type=int, default=None, help="first N chains of the set (default all)"
    )
    p.add_argument("--latents", type=int, default=1024)
    p.add_argument("--top-k", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-precision", type=float, default=0.9)
    p.add_argument("--min-fires", type=int, default=20, help="train fires a group latent needs")
    p.add_argument("--ce-chains", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="science")
    p.add_argument(
        "--settings",
        choices=("old", "recipe"),
        default="old",
        help="old: library defaults at --lr; recipe: the antiberty recipe's training settings",
    )
    p.add_argument(
        "--control",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train on the random-initialised copy",
    )
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    records, labels = load_set(args.chains)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_science_") as tmp:
        kinds = (("real", False), ("random_init", True))[: 2 if args.control else 1]
        for kind, random_init in kinds:
            folder = build_antiberty_folder(
                Path(tmp) / kind, random_init=random_init, seed=args.seed
            )
            results[kind] = run_model(folder, records, labels, args)
            print(kind, results[kind]["fvu"], results[kind]["regions"]["CDR3"], flush=True)
    figures = {
        "what": "TopK SAE on AntiBERTy layer activations vs a random-initialised copy; antibody heavy-chain "
        "regions (IMGT) as labels; held-out chains",
        "data": f"recipegen/data/antibody_heavy.fasta ({len(records)} chains)",
        "settings": vars(args),
        "cdr3_group_recall": {k: v["regions"]["CDR3"]["group_recall"] for k, v in results.items()},
        "cdr3_threshold_group": {
            k: {
                m: v["regions"]["CDR3"][f"thr_{m}"]
                for m in ("recall", "precision", "auroc", "size")
            }
            for k, v in results.items()
        },
        "results": results,
        "total_seconds": round(time.perf_counter() - t0, 1),
        "load_average_at_start_end": load_average(),
    }
    write_result(args.name, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
