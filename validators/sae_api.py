"""The facts about the `sae` library API that the linter relies on, in one place.

Everything here agrees with the signatures of the shared `sae` library (our runtime is a drop-in
for it); `tests/lint/test_sae_api.py` pins these tables against `inspect.signature` of the
installed runtime and against the reference source when it is available.
"""

from __future__ import annotations

# The five opt-in switches: CLI flag -> (feature, library call, keyword it feeds).
OPT_IN: dict[str, tuple[str, str]] = {
    "--normalize-input": ("TopKSAE", "normalize_input"),
    "--aggregate-loss": ("TopKSAE", "aggregate_loss"),
    "--dead-count-global": ("TopKSAE", "dead_count_global"),
    "--mix-shards": ("get_streaming_dataloader", "mix_shards"),
    "--presample-shards": ("sample", "num_shards"),
}

# Latent-survival settings of our runtime's TrainingConfig (the shared library has none of them):
# CLI flag -> the TrainingConfig keyword it feeds. Scripts that define a flag must pass it on
# (SAE105); scripts that pass any of them must pass unit_norm_latents too (SAE106).
SURVIVAL: dict[str, str] = {
    "--unit-norm-latents": "unit_norm_latents",
    "--project-decoder-grad": "project_decoder_grad",
    "--dead-tokens-fraction": "dead_tokens_fraction",
    "--detach-loss-variance": "detach_loss_variance",
    "--encoder-init": "encoder_init",
    "--lr-scale-with-latents": "lr_scale_with_latents",
    "--lr-reference-hidden-dim": "lr_reference_hidden_dim",
}

# Positional order of the parameters the rules read (a prefix of each signature, `self` omitted).
POSITIONAL: dict[str, list[str]] = {
    "TopKSAE": [
        "input_dim",
        "hidden_dim",
        "top_k",
        "normalize_input",
        "auxk",
        "auxk_coef",
        "dead_tokens_threshold",
        "aggregate_loss",
        "dead_count_global",
    ],
    "sample": ["n", "seed", "num_shards"],
    "get_streaming_dataloader": [
        "batch_size",
        "shuffle",
        "seed",
        "rank",
        "world_size",
        "max_shards",
        "mix_shards",
    ],
}

# Where each call of POSITIONAL lives: (module, class, attribute) for the signature test.
SIGNATURE_OWNERS: dict[str, tuple[str, str, str]] = {
    "TopKSAE": ("sae.architectures", "TopKSAE", "__init__"),
    "sample": ("sae.activation_store", "ActivationStore", "sample"),
    "get_streaming_dataloader": (
        "sae.activation_store",
        "ActivationStore",
        "get_streaming_dataloader",
    ),
}

# Launch flags that take no value (a recipe's train.py defines them as booleans); each feeds the
# boolean keyword named here, or None for recipe-level switches with no library keyword.
BOOL_FLAGS: dict[str, str | None] = {
    "--normalize-input": "normalize_input",
    "--aggregate-loss": "aggregate_loss",
    "--dead-count-global": "dead_count_global",
    "--init-pre-bias": None,
    "--wandb": None,
    "--smoke": None,
}

# TrainingConfig's LR schedule when none is given (the decay-horizon rules only matter for cosine).
DEFAULT_LR_SCHEDULE = "constant"

# Names whose call marks a file as using the `sae` API even without a visible import.
API_NAMES = frozenset({"TopKSAE", "ActivationStore", "TrainingConfig", "Trainer"})
# Top-level package of the library.
PACKAGE = "sae"

# Features (named by their CLI flag without dashes) and the release that introduced them:
# `aggregate_loss`, `dead_count_global`, `mix_shards` and `sample(num_shards=...)` arrived
# together; scripts pinned to an older release are not asked for them. The newest release has
# every feature.
FEATURE_SINCE: dict[str, tuple[int, ...]] = {
    "normalize-input": (0, 0, 0),
    "presample-shards": (0, 1, 0),
    "mix-shards": (0, 1, 0),
    "aggregate-loss": (0, 1, 0),
    "dead-count-global": (0, 1, 0),
}
ALL_FEATURES = frozenset(FEATURE_SINCE)


def feature_of(flag: str) -> str:
    """'--mix-shards' -> 'mix-shards'."""
    return flag.lstrip("-")


def parse_version(text: str) -> tuple[int, ...]:
    """'0.0.9' -> (0, 0, 9); ValueError naming the value when it is not dotted integers."""
    parts = text.strip().split(".")
    if not text.strip() or not all(p.isdigit() for p in parts):
        raise ValueError(f"sae-version {text!r} is not a version like '0.1.0'")
    return tuple(int(p) for p in parts)


def features_for_version(text: str) -> frozenset[str]:
    """The features a given `sae` release offers."""
    v = parse_version(text)
    pad = max(len(v), 3)
    v = v + (0,) * (pad - len(v))
    return frozenset(f for f, since in FEATURE_SINCE.items() if since <= v)
