"""Helpers shared by rules (pure functions of facts) and the example snippets they reuse."""

from __future__ import annotations

from pathlib import PurePosixPath

from recipegen.validators.facts_shell import Invocation, ShellFacts, Word


def int_of(facts: ShellFacts, word: Word | None) -> tuple[int | None, bool]:
    """(integer value or None, whether it is a variable the environment can change)."""
    if word is None:
        return None, False
    value, overridable = facts.expand(word.raw)
    variable = "$" in word.raw and (overridable or value is None)
    try:
        return int(value) if value is not None else None, variable
    except ValueError:
        return None, variable


def script_name(inv: Invocation) -> str:
    return PurePosixPath(inv.script.text).name if inv.script is not None else ""


def is_training(inv: Invocation, target) -> bool:
    if inv.script is None:
        return False
    if target is not None:
        return target.is_training_script
    return "train" in script_name(inv) or inv.flag("--dp-size") is not None


def training_launches(ctx):
    """(invocation, target facts or None, flag uses) for every launch of a training script."""
    for inv in ctx.facts.invocations:
        target = ctx.target(inv)
        if is_training(inv, target):
            yield inv, target, inv.flags(bool_flags(target))


def bool_flags(target) -> set[str]:
    if target is None:
        return set()
    out = set()
    for f in target.flags:
        if not f.takes_value:
            out.update(f.options)
            if f.boolean_optional:
                out.update("--no-" + o[2:] for o in f.options if o.startswith("--"))
    return out


def nproc_word(inv: Invocation) -> Word | None:
    return inv.launcher_opts.get("--nproc-per-node")


WIRED_TRAIN = """\
import argparse
from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.training import Trainer, TrainingConfig


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--normalize-input", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--aggregate-loss", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--dead-count-global", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--init-pre-bias", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--mix-shards", type=int, default=1)
    p.add_argument("--presample-shards", type=int, default=1)
    p.add_argument("--lr-schedule", choices=["constant", "cosine", "linear"], default="cosine")
    p.add_argument("--lr-decay-steps", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--dp-size", type=int, default=1)
    p.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--wandb-entity", default=None)
    p.add_argument("--run-name", default="sae")
    return p.parse_args()


def build_model(args, dim):
    return TopKSAE(dim, dim * 8, 32, normalize_input=args.normalize_input,
                   aggregate_loss=args.aggregate_loss, dead_count_global=args.dead_count_global)


def main():
    args = parse_args()
    store = ActivationStore(args.cache_dir)
    model = build_model(args, store.hidden_dim)
    if args.init_pre_bias:
        model.init_pre_bias_from_data(store.sample(50_000, seed=0, num_shards=args.presample_shards))
    mix = args.mix_shards
    loader = store.get_streaming_dataloader(4096, True, 0, 0, 1, None, mix_shards=mix)
    config = TrainingConfig(lr_schedule=args.lr_schedule, lr_decay_steps=args.lr_decay_steps,
                            max_steps=args.max_steps)
    Trainer(model, config).fit(loader)


if __name__ == "__main__":
    main()
"""


def flag_pos(facts: ShellFacts, inv: Invocation, token: str) -> tuple[int, int]:
    """(line, column) of `token` inside a (possibly multi-line) command; the command otherwise."""
    for ln in range(inv.command.line, min(inv.command.end_line, len(facts.lines)) + 1):
        col = facts.lines[ln - 1].find(token)
        if col >= 0:
            return ln, col + 1
    return inv.line, 1


def flag_line(facts: ShellFacts, inv: Invocation, token: str) -> int:
    return flag_pos(facts, inv, token)[0]
