"""train.py's plan: corpus-sized defaults (warmup, dead threshold, batch for tiny corpora) scaled
when they do not fit, values the user set kept and warned about (rendered train.py, no torch)."""

from __future__ import annotations

import pytest
from test_extract_units import load_rendered

CACHE = ["--cache-dir", "c"]


@pytest.fixture
def train(tmp_path, monkeypatch):
    for env in ("WARMUP_STEPS", "DEAD_TOKENS_THRESHOLD", "BATCH_SIZE"):
        monkeypatch.delenv(env, raising=False)
    return load_rendered("esm2", tmp_path, "train.py")


def test_a_163k_token_corpus_gets_defaults_that_fit_and_says_so(train):
    args = train.parse_args(CACHE)
    lines = train.fit_plan(args, 163_840, 1)
    assert (args.batch_size, args.warmup_steps) == (512, 16)  # 320 steps, 5% warmup
    assert args.dead_tokens_threshold == 163_840 // 4
    plan = lines[0]
    assert "163,840 tokens" in plan and "320 steps per epoch" in plan and "= 320 steps" in plan
    assert (
        "warmup 16 steps" in plan
        and f"peak LR {args.lr:.3g}" in plan
        and "never reached" not in plan
    )
    # the threshold AuxK uses: 5% of the 163,840 tokens seen (--dead-tokens-fraction 0.05)
    assert (
        "dead = idle for 8,192 tokens (--dead-tokens-fraction 0.05 of the run; "
        "--dead-tokens-threshold 40,960)" in plan
    )
    fitted = "\n".join(lines[1:])
    assert "--batch-size 4,096 -> 512" in fitted and "--warmup-steps 1,000 -> 16" in fitted
    assert "--dead-tokens-threshold 10,000,000 -> 40,960" in fitted and "warning" not in fitted


def test_values_the_user_set_are_kept_with_a_warning(train, monkeypatch):
    monkeypatch.setenv("WARMUP_STEPS", "1000")  # launch.sh variable set: the user's, even at 1000
    args = train.parse_args([*CACHE, "--batch-size", "4096", "--dead-tokens-threshold", "5000000"])
    lines = train.fit_plan(args, 163_840, 1)
    assert (args.batch_size, args.warmup_steps, args.dead_tokens_threshold) == (
        512,
        1000,
        5_000_000,
    )
    text = "\n".join(lines)
    peak = args.lr * 320 / 1000  # 320 of 1000 warmup steps
    assert f"peak LR {peak:.3g} (of {args.lr:.3g}: never reached)" in text
    assert "warning: --warmup-steps 1,000 kept (set by you)" in text
    assert "warning: --dead-tokens-threshold 5,000,000 kept (set by you)" in text
    # --batch-size 4096 equals the default and BATCH_SIZE is unset: the recipe's, so scaled
    assert "--batch-size 4,096 -> 512" in text


def test_no_fit_corpus_keeps_everything_and_warns(train):
    args = train.parse_args([*CACHE, "--no-fit-corpus"])
    lines = train.fit_plan(args, 163_840, 1)
    assert (args.batch_size, args.warmup_steps) == (4096, 1000)
    assert sum(line.startswith("warning:") for line in lines) == 3
    assert "kept (--no-fit-corpus)" in lines[1] and "= 40 steps" in lines[0]


def test_a_large_corpus_keeps_the_defaults_silently(train):
    args = train.parse_args(CACHE)
    lines = train.fit_plan(args, 2_000_000_000, 8)
    assert len(lines) == 1 and (args.batch_size, args.warmup_steps) == (4096, 1000)
    assert args.dead_tokens_threshold == 10_000_000


def test_the_plan_prints_the_lr_the_optimizer_gets_when_it_scales_with_latents(train):
    args = train.parse_args([*CACHE, "--lr-scale-with-latents"])
    lines = train.fit_plan(args, 163_840, 1, 64)
    scaled = args.lr * (args.lr_reference_hidden_dim / (64 * args.expansion_factor)) ** 0.5
    assert scaled != args.lr and train.scaled_lr(args, 64) == scaled
    assert (
        f"peak LR {scaled:.3g} (--lr {args.lr:g} scaled to {scaled:.3g} for the latents)"
        in lines[0]
    )


def test_plan_states_the_fixed_threshold_where_the_fraction_does_not_apply(train):
    """The reference runtime (or --tensor-parallel) has no --dead-tokens-fraction: the plan
    states --dead-tokens-threshold itself, as training will use it."""
    args = train.parse_args(CACHE)
    plan = train.fit_plan(args, 163_840, 1, None, False)[0]
    assert plan.endswith("; dead = idle for 40,960 tokens")
    args = train.parse_args([*CACHE, "--dead-tokens-fraction", "0"])
    args.dead_tokens_fraction = None  # main() maps 0 to None (fixed threshold)
    assert train.fit_plan(args, 163_840, 1)[0].endswith("; dead = idle for 40,960 tokens")


def test_the_fraction_never_raises_the_threshold(train):
    args = train.parse_args([*CACHE, "--dead-tokens-threshold", "1000"])
    plan = train.fit_plan(args, 163_840, 1)[0]
    assert plan.endswith("; dead = idle for 1,000 tokens")  # 5% of the run would be 8,192
