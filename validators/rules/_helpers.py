"""Helpers shared by rules (pure functions of facts) and the example snippets they reuse."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from recipegen.validators.lazy_re import compile_lazy

if TYPE_CHECKING:  # a Python-only run never loads the shell facts
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
    if inv.flag(*DP_FLAGS) is not None:
        return True
    # the script cannot be read: a name like train*.py alone is not enough, it must also be
    # launched with flags of an sae training recipe
    return "train" in script_name(inv) and inv.flag(*RECIPE_FLAGS) is not None


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


DP_FLAGS = ("--dp-size", "--dp_size")
RECIPE_FLAGS = (
    "--cache-dir",
    "--expansion-factor",
    "--top-k",
    "--normalize-input",
    "--aggregate-loss",
    "--dead-count-global",
    "--mix-shards",
    "--presample-shards",
)


def nproc_word(inv: Invocation) -> Word | None:
    return inv.launcher_opts.get("--nproc-per-node")


# --- world size, symbolically: (integer factor, sorted variable names) -------------------------
Product = tuple[int, tuple[str, ...]]
_SLURM = {  # Slurm identities: the number of tasks is nodes x tasks per node
    "SLURM_NTASKS": (1, ("SLURM_NNODES", "SLURM_NTASKS_PER_NODE")),
    "SLURM_NPROCS": (1, ("SLURM_NNODES", "SLURM_NTASKS_PER_NODE")),
    "SLURM_JOB_NUM_NODES": (1, ("SLURM_NNODES",)),
    "SLURM_GPUS_PER_NODE": (1, ("SLURM_GPUS_ON_NODE",)),
}
_VAR_WORD = compile_lazy(r"^\$\{?(\w+)(?::?[-=][^}]*)?\}?$")


def _mul(a: Product | None, b: Product | None) -> Product | None:
    if a is None or b is None:
        return None
    return a[0] * b[0], tuple(sorted(a[1] + b[1]))


def product_of(facts: ShellFacts, raw: str, depth: int = 0) -> Product | None:
    """`raw` as a product of an integer and variables: "8", "$NPROC", "$((NNODES*NPROC))",
    "${WORLD}" (followed through a single assignment); None when it is anything else.

    A variable the environment may override (`NPROC="${NPROC:-8}"`) stays a variable, so the
    same variable is the same value wherever it is used."""
    raw = raw.strip()
    if depth > 10:
        return None
    if re.fullmatch(r"\d+", raw):
        return int(raw), ()
    m = re.fullmatch(r"\$\(\((.*)\)\)", raw, re.S)
    if m:
        out: Product | None = (1, ())
        for atom in m.group(1).split("*"):
            atom = atom.strip().lstrip("$").strip("{}")
            if re.fullmatch(r"\d+", atom):
                out = _mul(out, (int(atom), ()))
            elif re.fullmatch(r"[A-Za-z_]\w*", atom):
                out = _mul(out, _var_product(facts, atom, depth + 1))
            else:
                return None
        return out
    m = _VAR_WORD.match(raw)
    if m:
        return _var_product(facts, m.group(1), depth + 1)
    return None


def _var_product(facts: ShellFacts, name: str, depth: int) -> Product | None:
    if name in _SLURM:
        return _SLURM[name]
    assigns = facts.assignments.get(name)
    if not assigns or len(assigns) > 1 or assigns[0].conditional:
        return 1, (name,)
    raw = assigns[0].raw
    m = _VAR_WORD.match(raw)
    if m and m.group(1) == name:  # NAME="${NAME:-default}": the environment decides
        return 1, (name,)
    return product_of(facts, raw, depth) or (1, (name,))


def world_size(facts: ShellFacts, inv: Invocation) -> Product | None:
    """Processes a launch starts: nnodes x nproc_per_node for torchrun (one torchrun per node),
    the Slurm task count for `srun python`, 1 for plain python; None when unknown."""
    if inv.program == "torchrun":
        nw, nnw = nproc_word(inv), inv.launcher_opts.get("--nnodes")
        n = product_of(facts, nw.raw) if nw is not None else (1, ())
        nn = product_of(facts, nnw.raw) if nnw is not None else (1, ())
        return _mul(n, nn)
    if inv.program == "python":
        return _srun_tasks(facts, inv) if inv.wrapper == "srun" else (1, ())
    return None


def _srun_tasks(facts: ShellFacts, inv: Invocation) -> Product:
    """Tasks `srun` starts: `-n`, else nodes x tasks per node (each from srun's own options
    when given, else from the allocation's SLURM_* variables)."""
    opts = inv.wrapper_opts

    def given(name: str, default: str) -> Product | None:
        w = opts.get(name)
        return product_of(facts, w.raw) if w is not None else _SLURM.get(default, (1, (default,)))

    if opts.get("--ntasks") is not None:
        n = product_of(facts, opts["--ntasks"].raw)
    elif "--nodes" in opts or "--ntasks-per-node" in opts:
        n = _mul(
            given("--nodes", "SLURM_NNODES"), given("--ntasks-per-node", "SLURM_NTASKS_PER_NODE")
        )
    else:
        n = None
    return n if n is not None else _SLURM["SLURM_NTASKS"]


def show_product(p: Product, labels: dict[str, str]) -> str:
    names = [labels.get(v, "$" + v) for v in p[1]]
    parts = ([str(p[0])] if p[0] != 1 or not names else []) + names
    return " x ".join(parts)


def show(facts: ShellFacts, raw: str) -> str:
    """A word as the user wrote it (Python expressions for launches assembled in Python)."""
    labels = getattr(facts, "labels", {})
    if not labels:
        return raw
    return re.sub(
        r"\$\{(\w+)\}|\$\(\((.*?)\)\)",
        lambda m: (
            labels.get(m.group(1) or "", m.group(0))
            if m.group(1)
            else " * ".join(labels.get(a, a) for a in m.group(2).split("*"))
        ),
        raw,
    )


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
    pat = re.compile(r"(?<![\w-])" + re.escape(token) + r"(?![\w-])")
    for ln in range(inv.command.line, min(inv.command.end_line, len(facts.lines)) + 1):
        m = pat.search(facts.lines[ln - 1])
        if m:
            return ln, m.start() + 1
    return inv.line, 1


def flag_line(facts: ShellFacts, inv: Invocation, token: str) -> int:
    return flag_pos(facts, inv, token)[0]
