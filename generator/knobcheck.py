"""The knob value rules, in one place: the spec validator calls `check_knobs`, and every rendered
train.py carries the same functions (rendered from this file's source, since a recipe runs
without recipegen installed) and calls them on its arguments.

Plain Python, no imports: the code between the markers is copied into train.py verbatim.
"""

from __future__ import annotations

from pathlib import Path

# --- rendered into train.py: begin


def limit_problem(value, lo, hi, choices):
    """(message, fix) when `value` is outside [lo, hi] or not one of `choices`, else None."""
    if choices and value not in choices:
        return f"{value!r} is not allowed", f"use one of: {', '.join(choices)}"
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if lo is not None and hi is not None else ""
        bound = bound or (f">= {lo}" if lo is not None else f"<= {hi}")
        return f"{value!r} is out of range", f"use a value {bound}"
    return None


def check_knobs(values, limits, name=str, hidden_dim=None, note=""):
    """Problems as (knob, message, fix) tuples, [] when all is well.

    `values` maps knob names to values (None: unset); `limits` maps names to (min, max, choices);
    `name(knob)` is how the caller spells a knob (`sae.top_k`, `--top-k`). Rules: each value
    within its limits; lr_min <= lr; given `hidden_dim`, top_k and auxk below the number of
    latents (expansion_factor x hidden_dim), which tensor_parallel must divide (`note` is
    appended to those messages, e.g. the model size)."""
    problems = []
    for knob, (lo, hi, choices) in limits.items():
        value = values.get(knob)
        if value is not None and not isinstance(value, bool):
            problem = limit_problem(value, lo, hi, choices)
            if problem is not None:
                problems.append((knob, *problem))
    bad = {p[0] for p in problems}
    if {"lr", "lr_min"} <= values.keys() and not bad & {"lr", "lr_min"}:
        if values["lr_min"] > values["lr"]:
            problems.append(
                (
                    "lr_min",
                    f"{values['lr_min']} exceeds {name('lr')} {values['lr']}",
                    f"use {name('lr_min')} <= {name('lr')}",
                )
            )
    if hidden_dim is None or "expansion_factor" in bad or "expansion_factor" not in values:
        return problems
    factor = values["expansion_factor"]
    n = factor * hidden_dim
    size = f"{n} = {name('expansion_factor')} {factor} x hidden_dim {hidden_dim}"
    for knob in ("top_k", "auxk"):
        value = values.get(knob)
        if knob not in bad and value is not None and value >= n:
            problems.append(
                (
                    knob,
                    f"{value} must be below the number of latents ({size}{note})",
                    f"use {name(knob)} < {n}, or raise {name('expansion_factor')}",
                )
            )
    tp = values.get("tensor_parallel")
    if tp is not None and "tensor_parallel" not in bad and n % tp:
        problems.append(
            (
                "tensor_parallel",
                f"{tp} ranks cannot split the {n} latents{note} evenly",
                f"use a divisor of {n}",
            )
        )
    return problems


# --- rendered into train.py: end


BEGIN = "# --- rendered into train.py: begin\n"
END = "# --- rendered into train.py: end"


def source() -> str:
    """The code between the markers above: what train.py carries."""
    text = Path(__file__).read_text(encoding="utf-8")
    begin = text.index(BEGIN) + len(BEGIN)
    return text[begin : text.index(END)].strip("\n") + "\n"
