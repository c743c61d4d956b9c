"""The model-spec schema: every key with its type, default and allowed values (docs/contracts.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import yaml

from . import knobs
from .render import KINDS_DIR, TemplateSource, kinds

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SIZE_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
DOTTED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ADAPTER_RE = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
)
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLURM_TIME_RE = re.compile(r"^([0-9]{1,4}-)?[0-9]{1,5}(:[0-9]{2}){0,2}$")
SLURM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Field:
    """One leaf key: python type(s), default, bounds / choices / pattern, and a fix hint."""

    type: str  # "str" | "int" | "float" | "bool" | "charmap" (single character -> single character)
    default: Any = None
    required: bool = False
    nullable: bool = False
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    pattern: re.Pattern | None = None
    hint: str = ""
    knob: str = ""  # the knob it is (generator/knobs.py): its limits are checked by check_knobs


def _int(default, lo=1, hi=INT_MAX, nullable=False):
    return Field("int", default, min=lo, max=hi, nullable=nullable)


def _float(default, lo=0.0, hi=1e6):
    return Field("float", default, min=lo, max=hi)


def _bool(default):
    return Field("bool", default)


def _knob_field(knob: knobs.Knob, default: Any, hi: float | None) -> Field:
    extra = dict(knob.extra)
    if "pattern" in extra:
        extra["pattern"] = re.compile(extra["pattern"])
    return Field(
        knob.type,
        default,
        required=knob.required,
        nullable=knob.nullable,
        choices=knob.choices,
        min=knob.min,
        max=hi,
        knob=knob.name,
        **extra,
    )


def _knob_fields(section: str) -> dict[str, Field]:
    """A spec section built from the knobs it declares (generator/knobs.py)."""
    return {k.key: _knob_field(k, k.default, k.max) for k in knobs.in_section(section)}


def _smoke_fields() -> dict[str, Field]:
    """`smoke.<key>`: the values `launch.sh --smoke` uses instead of a knob's."""
    out = {}
    for k in knobs.smoke_knobs(in_spec=True):
        hi = k.smoke.max if k.smoke.max is not None else k.max
        nullable = k.nullable if k.smoke.nullable is None else k.smoke.nullable
        field = _knob_field(k, k.smoke.value, hi)
        out[k.smoke.key] = replace(field, knob="", nullable=nullable)
    return out


# The sections and their leaf keys, in the order of docs/contracts.md.
SCHEMA: dict[str, Any] = {
    "name": Field("str", required=True, pattern=NAME_RE, hint="lower-case letters, digits, _"),
    "description": Field("str", ""),
    "extraction": {
        "kind": Field("str", required=True),  # choices: the kind folders (kind_schemas below)
        "checkpoint": Field("str", required=True),
        "token_unit": Field("str", "aa", choices=("aa", "codon", "nt", "kmer")),
        "drop_special_tokens": _bool(True),
        "dtype": _knob_fields("extraction")["dtype"],
        # + every kind's own keys (templates/kinds/<kind>/schema.yaml), see kind_schemas
    },
    "default_size": Field("str", None, nullable=True),
    "sae": _knob_fields("sae"),
    "data": _knob_fields("data"),
    "launch": _knob_fields("launch"),
    "slurm": {
        "nodes": _int(1, 1, 100_000),
        "gpus_per_node": _int(None, 1, 1024, nullable=True),
        "time": Field(
            "str", "04:00:00", pattern=SLURM_TIME_RE, hint="Slurm time, e.g. 04:00:00 or 1-12:00:00"
        ),
        "partition": Field(
            "str", None, nullable=True, pattern=SLURM_NAME_RE, hint="letters, digits, . _ -"
        ),
        "account": Field(
            "str", None, nullable=True, pattern=SLURM_NAME_RE, hint="letters, digits, . _ -"
        ),
        "port": _int(29500, 1, 65535),
    },
    "smoke": _smoke_fields(),
}


def _kind_field(spec: Any, where: str) -> Field | dict:
    """A Field (or a section of them) from a kind's schema.yaml entry. A key the kind requires
    (`required: true`) is optional and nullable here: validate.py requires it for that kind only
    (KIND_REQUIRED)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping")
    if "type" not in spec:
        return {key: _kind_field(sub, f"{where}.{key}") for key, sub in spec.items()}
    pattern = spec.get("pattern")
    if pattern is not None and pattern not in KIND_PATTERNS:
        raise ValueError(f"{where}: pattern {pattern!r} is not one of {', '.join(KIND_PATTERNS)}")
    return Field(
        spec["type"],
        spec.get("default"),
        nullable=bool(spec.get("nullable", False) or spec.get("required", False)),
        choices=tuple(spec.get("choices", ())),
        min=spec.get("min"),
        max=spec.get("max"),
        pattern=KIND_PATTERNS.get(pattern),
        hint=spec.get("hint", ""),
    )


def kind_schemas() -> tuple[dict[str, dict[str, Any]], dict[str, frozenset]]:
    """({kind: {key: Field or section}}, {kind: required keys}): every extraction kind folder and
    the spec keys it adds under `extraction:` (its schema.yaml; only that kind accepts them)."""
    source = TemplateSource()
    keys, required = {}, {}
    for kind in kinds(source):
        name = f"{KINDS_DIR}/{kind}/schema.yaml"
        data = (yaml.safe_load(source.read(name)) if source.is_file(name) else None) or {}
        keys[kind] = {key: _kind_field(v, f"{name}: {key}") for key, v in data.items()}
        required[kind] = frozenset(k for k, v in data.items() if v.get("required"))
    return keys, required


KIND_PATTERNS = {"adapter": ADAPTER_RE, "dotted": DOTTED_RE}
KIND_KEYS, KIND_REQUIRED = kind_schemas()
SCHEMA["extraction"]["kind"] = Field("str", required=True, choices=tuple(KIND_KEYS))
for _keys in KIND_KEYS.values():
    SCHEMA["extraction"].update(_keys)

# Entries under `sizes.<label>`.
SIZE_SCHEMA: dict[str, Field] = {
    "n_layers": Field("int", required=True, min=1, max=10_000),
    "hidden_dim": Field("int", required=True, min=1, max=1_000_000),
    "context_length": Field("int", required=True, min=1, max=100_000_000),
    "default_layer": Field("int", None, nullable=True, min=1, max=10_000),
    "checkpoint": Field("str", None, nullable=True),
}

TOP_LEVEL_ORDER = ("name", "description", "extraction", "sizes", "default_size", "sae", "data")
TOP_LEVEL_ORDER += ("launch", "slurm", "smoke")
