"""Every spec and training knob, declared once.

A `Knob` is one setting a user can change: its name, type, default, allowed values, one line of
help, the spec key that sets it (if any), the script flag that takes it and the `launch.sh`
variable that overrides it. Everything else is generated from `KNOBS`: the spec schema's `sae`,
`data`, `launch` and `smoke` sections (`schema.py`), `train.py`'s argparse, `launch.sh`'s usage
text, `D_*` defaults, smoke overrides and pass-through flags, the rendered README's knob table and
the knob reference in the skill's `references/specs.md` (`recipegen skill gen-specs`). The value
checks (ranges, choices, `top_k` below the number of latents, ...) are `knobcheck.check_knobs`,
run by the spec validator and, rendered, by every `train.py`.

Adding a knob: one `Knob(...)` below, then pass `args.<name>` to the library call that uses it in
`templates/train.py.j2` (its flag, default, help, env variable and docs follow).
Importable without torch (stdlib only).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from . import knobcheck

INT_MAX = 2**31 - 1

# Spec sections holding knobs (schema.py builds `sae`, `data`, `launch` from KNOBS, and
# `extraction.dtype`; the rest of `extraction` is per extraction kind).
SECTIONS = ("extraction", "sae", "data", "launch")
# train.py argparse groups, in --help order.
GROUPS = ("data", "SAE", "opt-in training switches", "optimisation", "run")


@dataclass(frozen=True)
class Smoke:
    """What `launch.sh --smoke` uses instead of the knob's value."""

    value: Any
    key: str | None = None  # the spec's `smoke.<key>` that sets it (None: fixed in launch.sh)
    max: float | None = None  # a tighter upper bound for the smoke key (default: the knob's)
    nullable: bool | None = None  # whether the smoke key may be null (default: the knob's)


@dataclass(frozen=True)
class Knob:
    """One knob. `spec` is where its value comes from in a resolved spec (`sae.top_k`, `layer`);
    knobs without one take `default`. `script` is the script whose flag takes it."""

    name: str
    type: str  # "int" | "float" | "bool" | "str"
    help: str
    default: Any = None
    spec: str | None = None
    script: str | None = "train"  # "train" | "extract" | "eval" | None (spec or launcher only)
    flag_name: str | None = None  # default: --name-with-dashes
    group: str = "run"  # train.py argparse group
    env: str | None = None  # launch.sh variable
    # how launch.sh passes it: "flag" (generated `--flag "$ENV"` / switch) or "manual"
    # (launch.sh's own logic); "usage" lists the variable only (launch.sh sets it by hand)
    launch: str = "flag"
    env_help: str | None = None  # launch.sh usage text, when it differs from `help`
    env_none: str = ""  # the variable's value for None (auxk: "0" disables AuxK)
    env_shown: str = ""  # the usage text's default for None (max_sequences: "all")
    env_off: str = "0"  # the variable's value for False (dead_count_global: "auto")
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    required: bool = False
    smoke: Smoke | None = None
    extra: dict = field(default_factory=dict)  # schema-only Field options (pattern, hint)

    @property
    def flag(self) -> str | None:
        if self.script is None:
            return None
        return self.flag_name or "--" + self.name.replace("_", "-")

    @property
    def section(self) -> str | None:
        """The spec section that declares it (sae, data, launch), or None."""
        head = (self.spec or "").split(".")[0]
        return head if head in SECTIONS and "." in (self.spec or "") else None

    @property
    def key(self) -> str | None:
        return self.spec.split(".")[-1] if self.section else None


def _bool(name, help, default, **kw):
    return Knob(name, "bool", help, default, **kw)


_PROJECT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

KNOBS: tuple[Knob, ...] = (
    # ---- data: what train.py reads
    Knob("cache_dir", "str", "ActivationStore written by extract.py", required=True, group="data"),
    Knob("output_dir", "str", "checkpoints and metrics go here", "./sae_out", group="data"),
    Knob(
        "model_name",
        "str",
        "model name; must match the cache's model_name",
        spec="name",
        group="data",
        env="MODEL_NAME",
    ),
    Knob(
        "layer",
        "int",
        "layer (hidden_states index = output of block L, 1-based); must match the cache's layer",
        spec="layer",
        group="data",
        env="LAYER",
    ),
    # ---- the spec's `sae` section, in schema order
    Knob(
        "expansion_factor",
        "int",
        "latents = expansion factor x hidden_dim",
        8,
        "sae.expansion_factor",
        group="SAE",
        env="EXPANSION_FACTOR",
        min=1,
        max=1024,
        smoke=Smoke(4, "expansion_factor"),
    ),
    Knob(
        "top_k",
        "int",
        "active latents per token (TopK); below the number of latents",
        32,
        "sae.top_k",
        group="SAE",
        env="TOP_K",
        min=1,
        max=1_000_000,
        smoke=Smoke(8, "top_k"),
    ),
    Knob(
        "auxk",
        "int",
        "AuxK latents (revive dead latents); below the number of latents; "
        "0 (spec: null) disables AuxK",
        64,
        "sae.auxk",
        group="SAE",
        env="AUXK",
        env_none="0",
        min=1,
        max=1_000_000,
        nullable=True,
        smoke=Smoke(16, "auxk"),
    ),
    Knob(
        "auxk_coef",
        "float",
        "weight of the AuxK loss",
        0.03125,
        "sae.auxk_coef",
        group="SAE",
        env="AUXK_COEF",
        min=0.0,
        max=100.0,
    ),
    Knob(
        "dead_tokens_threshold",
        "int",
        "a latent idle for this many training tokens is dead",
        10_000_000,
        "sae.dead_tokens_threshold",
        group="SAE",
        env="DEAD_TOKENS_THRESHOLD",
        min=1,
        max=10**12,
    ),
    Knob(
        "lr",
        "float",
        "peak learning rate (at lr_reference_hidden_dim latents with lr_scale_with_latents)",
        2.0e-4,
        "sae.lr",
        group="optimisation",
        env="LR",
        min=1e-12,
        max=10.0,
    ),
    Knob(
        "lr_min",
        "float",
        "learning rate at the end of the decay (at most lr)",
        0.0,
        "sae.lr_min",
        group="optimisation",
        env="LR_MIN",
        min=0.0,
        max=10.0,
    ),
    Knob(
        "lr_schedule",
        "str",
        "learning-rate decay after the warmup",
        "cosine",
        "sae.lr_schedule",
        group="optimisation",
        env="LR_SCHEDULE",
        choices=("constant", "cosine", "linear"),
    ),
    Knob(
        "warmup_steps",
        "int",
        "linear learning-rate warmup steps",
        1000,
        "sae.warmup_steps",
        group="optimisation",
        env="WARMUP_STEPS",
        min=0,
        max=INT_MAX,
        smoke=Smoke(2, "warmup_steps", max=1_000_000),
    ),
    Knob(
        "batch_size",
        "int",
        "activation rows per batch (each process)",
        4096,
        "sae.batch_size",
        group="optimisation",
        env="BATCH_SIZE",
        min=1,
        max=10_000_000,
        smoke=Smoke(64, "batch_size", max=1_000_000),
    ),
    Knob(
        "n_epochs",
        "int",
        "passes over the training cache",
        1,
        "sae.n_epochs",
        group="optimisation",
        env="N_EPOCHS",
        min=1,
        max=100_000,
        smoke=Smoke(2, "n_epochs", max=1000),
    ),
    _bool(
        "fit_corpus",
        "fit the defaults train.py owns (warmup, dead threshold, batch) to the corpus when they "
        "would not (e.g. a warmup of a tenth of the steps or more); values you set are kept, warned",
        True,
        spec="sae.fit_corpus",
        group="optimisation",
        env="FIT_CORPUS",
    ),
    Knob(
        "max_grad_norm",
        "float",
        "clip the gradient norm to this",
        1.0,
        "sae.max_grad_norm",
        group="optimisation",
        env="MAX_GRAD_NORM",
        min=1e-12,
        max=1e6,
    ),
    _bool(
        "init_pre_bias",
        "initialise the pre-bias to the geometric median of a data sample",
        True,
        spec="sae.init_pre_bias",
        group="SAE",
        env="INIT_PRE_BIAS",
    ),
    _bool(
        "normalize_input",
        "TopKSAE(normalize_input=...): normalise inputs (biggest dead-latent lever)",
        False,
        spec="sae.normalize_input",
        group="opt-in training switches",
        env="NORMALIZE_INPUT",
    ),
    _bool(
        "aggregate_loss",
        "TopKSAE(aggregate_loss=...): batch-level FVU/AuxK ratio instead of per token",
        False,
        spec="sae.aggregate_loss",
        group="opt-in training switches",
        env="AGGREGATE_LOSS",
    ),
    _bool(
        "dead_count_global",
        "TopKSAE(dead_count_global=...): count inactivity across ranks (no-op at 1 process)",
        False,
        spec="sae.dead_count_global",
        group="opt-in training switches",
        env="DEAD_COUNT_GLOBAL",
        launch="manual",
        env_off="auto",
        env_help="0 | 1 | auto (auto: on whenever NNODES x NPROC > 1)",
    ),
    _bool(
        "unit_norm_latents",
        "TrainingConfig(unit_norm_latents=...): keep each latent's decoder direction at unit "
        "norm (without it most latents die; off = the reference runtime's rule)",
        True,
        spec="sae.unit_norm_latents",
        group="opt-in training switches",
        env="UNIT_NORM_LATENTS",
    ),
    _bool(
        "project_decoder_grad",
        "TrainingConfig(project_decoder_grad=...): drop the gradient part along each "
        "latent's decoder direction (keeps unit-norm steps on the sphere)",
        True,
        spec="sae.project_decoder_grad",
        group="opt-in training switches",
        env="PROJECT_DECODER_GRAD",
    ),
    _bool(
        "detach_loss_variance",
        "TrainingConfig(detach_loss_variance=...): no gradient through the loss's variance "
        "denominator (else the pre-bias drifts off the data and latents die; off = the "
        "reference runtime's loss)",
        True,
        spec="sae.detach_loss_variance",
        group="opt-in training switches",
        env="DETACH_LOSS_VARIANCE",
    ),
    Knob(
        "encoder_init",
        "str",
        "TrainingConfig(encoder_init=...): uniform = sparsify's init (PyTorch's Linear init for "
        "the encoder, each decoder direction its row at unit norm); tied = the reference "
        "runtime's (encoder = decoder transpose)",
        "uniform",
        "sae.encoder_init",
        group="opt-in training switches",
        env="ENCODER_INIT",
        choices=("tied", "uniform"),
    ),
    Knob(
        "dead_tokens_fraction",
        "float",
        "TrainingConfig(dead_tokens_fraction=...): AuxK's dead threshold is at most this "
        "fraction of the run's tokens; 0 (spec: null) keeps --dead-tokens-threshold alone",
        0.05,
        "sae.dead_tokens_fraction",
        group="opt-in training switches",
        env="DEAD_TOKENS_FRACTION",
        env_none="0",
        min=1e-6,
        max=1.0,
        nullable=True,
    ),
    _bool(
        "lr_scale_with_latents",
        "TrainingConfig(lr_scale_with_latents=...): train at --lr x "
        "sqrt(--lr-reference-hidden-dim / latents)",
        True,
        spec="sae.lr_scale_with_latents",
        group="optimisation",
        env="LR_SCALE_WITH_LATENTS",
    ),
    Knob(
        "lr_reference_hidden_dim",
        "int",
        "latents at which --lr applies unscaled (with --lr-scale-with-latents)",
        16384,
        "sae.lr_reference_hidden_dim",
        group="optimisation",
        env="LR_REF_LATENTS",
        min=1,
        max=10**9,
    ),
    Knob(
        "mix_shards",
        "int",
        "get_streaming_dataloader(mix_shards=N): blend N shards per batch",
        1,
        "sae.mix_shards",
        group="opt-in training switches",
        env="MIX_SHARDS",
        min=1,
        max=100_000,
    ),
    Knob(
        "presample_shards",
        "int",
        "store.sample(num_shards=N) for the pre-bias init (needs --init-pre-bias)",
        1,
        "sae.presample_shards",
        group="opt-in training switches",
        env="PRESAMPLE_SHARDS",
        min=1,
        max=100_000,
    ),
    Knob(
        "tensor_parallel",
        "int",
        "ShardedTopKSAE: split the latents over N ranks that all see "
        "the same batches (WORLD_SIZE = --dp-size x N); 1 = the data-parallel TopKSAE",
        1,
        "sae.tensor_parallel",
        group="SAE",
        env="TENSOR_PARALLEL",
        min=1,
        max=1024,
        smoke=Smoke(1),
        env_help="ranks that share one SAE's latents (ShardedTopKSAE); --dp-size is the world "
        "size / TENSOR_PARALLEL",
    ),
    # ---- train.py only
    Knob(
        "presample_n",
        "int",
        "rows for the pre-bias sample",
        32768,
        group="SAE",
        env="PRESAMPLE_N",
        min=1,
    ),
    Knob(
        "lr_decay_steps",
        "int",
        "decay horizon; default: the whole run (epochs x batches per epoch)",
        group="optimisation",
        min=1,
        nullable=True,
    ),
    Knob(
        "max_steps",
        "int",
        "stop after this many steps",
        group="optimisation",
        min=1,
        nullable=True,
    ),
    Knob(
        "grad_accumulation_steps",
        "int",
        "batches per optimiser step",
        1,
        group="optimisation",
        min=1,
    ),
    Knob(
        "dp_size",
        "int",
        "data-parallel size: WORLD_SIZE (torchrun processes) / --tensor-parallel",
        1,
        min=1,
    ),
    Knob(
        "seed",
        "int",
        "random seed (init, data order, pre-bias sample; extract.py: the train/eval split)",
        0,
        env="SEED",
    ),
    Knob(
        "log_interval",
        "int",
        "log metrics every N steps",
        50,
        env="LOG_INTERVAL",
        min=1,
        smoke=Smoke(1),
    ),
    Knob("checkpoint_steps", "int", "also save a checkpoint every N steps", min=1, nullable=True),
    Knob("resume_from", "str", "checkpoint to resume from"),
    Knob("device", "str", "default: cuda:LOCAL_RANK if available, else cpu"),
    # ---- the spec's `data` section (extract.py and the README)
    _bool(
        "corpus_ordered",
        "the caches follow corpus order (e.g. all prokaryotes, then "
        "eukaryotes): mix shards and sample the pre-bias from several",
        False,
        spec="data.corpus_ordered",
        script=None,
    ),
    Knob(
        "shard_size",
        "int",
        "activation rows per parquet shard",
        100_000,
        "data.shard_size",
        script="extract",
        env="SHARD_SIZE",
        launch="manual",
        min=1,
        max=100_000_000,
        smoke=Smoke(2048),
    ),
    Knob(
        "eval_fraction",
        "float",
        "held-out share of the input sequences (eval only), disjoint from training",
        0.1,
        "data.eval_fraction",
        script="extract",
        env="EVAL_FRACTION",
        launch="manual",
        min=0.0,
        max=0.99,
    ),
    Knob(
        "max_sequences",
        "int",
        "first N input sequences only, before the split (null: all)",
        None,
        "data.max_sequences",
        script="extract",
        env="MAX_SEQUENCES",
        launch="manual",
        min=1,
        max=10**12,
        nullable=True,
        env_shown="all",
        smoke=Smoke(48, "n_sequences", max=100_000, nullable=False),
    ),
    # ---- the spec's `launch` section
    Knob(
        "nproc_per_node",
        "int",
        "training processes per node; --dp-size = NNODES x NPROC / TENSOR_PARALLEL",
        1,
        "launch.nproc_per_node",
        script=None,
        env="NPROC",
        launch="manual",
        min=1,
        max=1024,
        smoke=Smoke(1),
    ),
    _bool(
        "wandb",
        "log to Weights & Biases",
        False,
        spec="launch.wandb",
        env="WANDB",
        launch="manual",
        smoke=Smoke(False),
        env_help="log to Weights & Biases (0/1); 1 unsets WANDB_API_KEY (a leaked key logs to "
        "another account) and needs WANDB_ENTITY",
    ),
    Knob(
        "wandb_project",
        "str",
        "W&B project",
        "sae",
        "launch.wandb_project",
        env="WANDB_PROJECT",
        launch="manual",
        extra={"pattern": _PROJECT, "hint": "letters, digits, . _ -"},
    ),
    Knob(
        "wandb_entity",
        "str",
        "W&B user or team (required with WANDB=1)",
        env="WANDB_ENTITY",
        launch="usage",
    ),
    Knob(
        "run_name",
        "str",
        "run name (W&B)",
        env="RUN_NAME",
        launch="usage",
        env_shown="$MODEL_NAME-layer$LAYER",
    ),
    # ---- extract.py and eval.py settings launch.sh passes (their scripts define the flags)
    Knob(
        "dtype",
        "str",
        "activation dtype in the store (never bf16)",
        "float16",
        spec="extraction.dtype",
        script="extract",
        env="DTYPE",
        launch="manual",
        choices=("float16", "float32"),
    ),
    Knob(
        "extract_batch_size",
        "int",
        "sequences per extraction batch",
        32,
        script="extract",
        flag_name="--batch-size",
        env="EXTRACT_BATCH_SIZE",
        launch="manual",
        min=1,
    ),
    Knob(
        "max_tokens_per_batch",
        "int",
        "token budget per extraction batch",
        16384,
        script="extract",
        env="MAX_TOKENS_PER_BATCH",
        launch="manual",
        min=1,
    ),
    Knob(
        "labels",
        "str",
        "your labels for eval.py and analyze.py, keyed by the FASTA ids of INPUT: per residue "
        "('>id' + a label string, or id<TAB>position<TAB>label rows) or per sequence "
        "(id<TAB>label rows); empty: residue identity only",
        script="eval",
        env="LABELS",
        launch="manual",
        env_shown="none",
    ),
    Knob(
        "eval_max_sequences",
        "int",
        "held-out sequences eval.py scores",
        64,
        script="eval",
        flag_name="--max-sequences",
        env="EVAL_MAX_SEQUENCES",
        launch="manual",
        min=1,
    ),
)


def get(name: str) -> Knob:
    """The knob called `name`."""
    for knob in KNOBS:
        if knob.name == name:
            return knob
    raise KeyError(name)


def for_script(script: str) -> list[Knob]:
    """Knobs whose flag `script` defines, in declaration order."""
    return [k for k in KNOBS if k.script == script]


def train_groups() -> list[tuple[str, list[Knob]]]:
    """train.py's argparse groups and their knobs, in --help order."""
    train = for_script("train")
    return [(g, [k for k in train if k.group == g]) for g in GROUPS]


def in_section(section: str) -> list[Knob]:
    return [k for k in KNOBS if k.section == section]


def env_knobs(launch: str | None = None) -> list[Knob]:
    """Knobs with a launch.sh variable (only those passed `launch` way, if given)."""
    return [k for k in KNOBS if k.env and (launch is None or k.launch == launch)]


def smoke_knobs(in_spec: bool | None = None) -> list[Knob]:
    """Knobs `--smoke` changes (in_spec: only those the spec's `smoke` section sets)."""
    out = [k for k in KNOBS if k.smoke is not None]
    if in_spec is not None:
        out = [k for k in out if (k.smoke.key is not None) == in_spec]
    return out


def value(knob: Knob, spec: dict) -> Any:
    """The knob's value in a resolved spec (its default when the spec does not set it)."""
    if knob.spec is None:
        return knob.default
    node: Any = spec
    for part in knob.spec.split("."):
        node = node[part]
    return node


def smoke_value(knob: Knob, spec: dict) -> Any:
    return spec["smoke"][knob.smoke.key] if knob.smoke.key else knob.smoke.value


def env_value(knob: Knob, v: Any) -> str:
    """How launch.sh writes a value (booleans 0/1, None per knob)."""
    if v is None:
        return knob.env_none
    if isinstance(v, bool):
        return "1" if v else knob.env_off
    return str(v)


def limits(knobs: list[Knob] | None = None) -> dict[str, tuple]:
    """{name: (min, max, choices)} for `check_knobs`, for knobs with any bound."""
    out = {}
    for k in KNOBS if knobs is None else knobs:
        if k.type != "bool" and (k.min is not None or k.max is not None or k.choices):
            out[k.name] = (k.min, k.max, tuple(k.choices))
    return out


def shown(knob: Knob, v: Any) -> str:
    """A value as the docs show it (booleans on/off)."""
    if v is None:
        return knob.env_shown or "-"
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


def env_shown(knob: Knob, v: Any) -> str:
    """A launch.sh variable's value as the docs show it ("" for none)."""
    return env_value(knob, v) if v is not None else knob.env_shown


def env_text(knob: Knob) -> str:
    """What a launch.sh variable does."""
    return knob.env_help or (knob.help + (" (0/1)" if knob.type == "bool" else ""))


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|")


def group(name: str) -> list[Knob]:
    """The train.py knobs of one argparse group."""
    return dict(train_groups())[name]


def usage(spec: dict, width: int = 100) -> str:
    """launch.sh usage lines for every knob with a variable: `NAME  help [default; smoke x]`."""
    lines = []
    for k in env_knobs():
        note = env_shown(k, value(k, spec))
        if k.smoke is not None:
            note = f"{note}; smoke {env_shown(k, smoke_value(k, spec))}"
        text = env_text(k) + (f" [{note}]" if note else "")
        head = f"  {k.env:<21} "
        wrapped = textwrap.wrap(text, width - len(head), break_on_hyphens=False)
        lines.append(head + wrapped[0])
        lines.extend(" " * len(head) + rest for rest in wrapped[1:])
    return "\n".join(lines)


def check_source() -> str:
    """The source of `knobcheck.check_knobs` (and its helper) that train.py carries."""
    return knobcheck.source()


def fingerprint() -> str:
    """Everything about the knobs that reaches a rendered file (part of the template hash)."""
    return repr(KNOBS) + knobcheck.source()


# ---------------------------------------------------------------- the knob reference (specs.md)

REFERENCE_BEGIN = "<!-- knobs: generated by `recipegen skill gen-specs` from generator/knobs.py -->"
REFERENCE_END = "<!-- knobs: end -->"


def _allowed(knob: Knob, hi: float | None = None, nullable: bool | None = None) -> str:
    if knob.choices:
        text = " \\| ".join(f"`{c}`" for c in knob.choices)
    elif knob.type == "bool":
        text = "true \\| false"
    elif knob.min is not None or knob.max is not None:
        hi = knob.max if hi is None else hi
        text = f"{'' if knob.min is None else knob.min}..{'' if hi is None else hi}"
    else:
        text = knob.type
    nullable = knob.nullable if nullable is None else nullable
    return text + (" or null" if nullable else "")


def _default(knob: Knob) -> str:
    if knob.spec and not knob.section:
        return f"(`{knob.spec}`)"
    if knob.default is None:
        return "null" if knob.nullable or knob.section else "-"
    return str(knob.default).lower() if isinstance(knob.default, bool) else str(knob.default)


def reference() -> str:
    """The knob reference in skill/sae-recipe/references/specs.md, between its markers."""
    rows = [
        REFERENCE_BEGIN,
        "",
        "| spec key | default | allowed | flag | `launch.sh` | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k in KNOBS:
        flag = f"`{k.script}.py {k.flag}`" if k.flag else "-"
        env = f"`{k.env}`" if k.env else "-"
        key = f"`{k.spec}`" if k.section else "-"
        rows.append(f"| {key} | {_default(k)} | {_allowed(k)} | {flag} | {env} | {cell(k.help)} |")
    rows += [
        "",
        "`launch.sh --smoke` uses these instead (spec section `smoke`; the others are fixed):",
        "",
        "| smoke key | default | allowed | replaces |",
        "| --- | --- | --- | --- |",
    ]
    for k in smoke_knobs(in_spec=True):
        rows.append(
            f"| `smoke.{k.smoke.key}` | {k.smoke.value} | {_allowed(k, k.smoke.max, k.smoke.nullable)} | "
            f"`{k.spec or k.name}` |"
        )
    fixed = ", ".join(f"`{k.env}={env_value(k, k.smoke.value)}`" for k in smoke_knobs(False))
    rows += [
        "",
        f"Fixed under `--smoke`: {fixed}.",
        "",
        "Checked when a spec is loaded (`recipegen new`, `show`) and again by `train.py` on its "
        "flags, by the same function: each value within its range and choices; `lr_min` at most "
        "`lr`; `top_k` and `auxk` below the number of latents (`expansion_factor x hidden_dim` "
        "of the chosen size, smoke values included), which `tensor_parallel` must divide.",
        "",
        REFERENCE_END,
    ]
    return "\n".join(rows) + "\n"


def with_reference(text: str) -> str:
    """`text` (specs.md) with its knob reference replaced by a fresh one."""
    begin, end = text.find(REFERENCE_BEGIN), text.find(REFERENCE_END)
    if begin < 0 or end < begin:
        raise ValueError(
            f"no knob reference: the lines {REFERENCE_BEGIN!r} and {REFERENCE_END!r} (in this "
            "order) mark where it goes"
        )
    return text[:begin] + reference() + text[end + len(REFERENCE_END) :].removeprefix("\n")
