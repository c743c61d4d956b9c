"""Validate a raw spec against the schema: types, ranges, choices, patterns, unknown keys and
cross-field rules; every problem names file, line, field and fix."""

from __future__ import annotations

import math
import re
from typing import Any

from . import knobs
from .errors import Problem, SpecError
from .knobcheck import check_knobs, limit_problem
from .rawspec import RawSpec
from .schema import (
    KIND_KEYS,
    KIND_REQUIRED,
    SCHEMA,
    SIZE_LABEL_RE,
    SIZE_SCHEMA,
    TOP_LEVEL_ORDER,
    Field,
)

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS = ("size", "n_layers")
MAX_STR = 500


class _Validator:
    def __init__(self, raw: RawSpec):
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, path: tuple, message: str, fix: str) -> None:
        file, line = self.raw.where(path)
        self.problems.append(Problem(file, line, ".".join(path), message, fix))

    def leaf(self, path: tuple, spec: Field, present: bool, value: Any) -> Any:
        if not present:
            if spec.required:
                self.problem(path, "required key is missing", f"add `{path[-1]}:` to the spec")
            return spec.default
        if value is None:
            if spec.nullable:
                return None
            self.problem(path, "must not be null", f"give a {spec.type} value")
            return spec.default
        value = self._typed(path, spec, value)
        if value is None:
            return spec.default
        if not spec.knob:  # a knob's limits are checked by check_knobs (_cross_checks)
            bounded = spec.type in ("int", "float")
            problem = limit_problem(
                value, spec.min if bounded else None, spec.max if bounded else None, spec.choices
            )
            if problem is not None:
                self.problem(path, *problem)
        if spec.type == "str":
            self._string(path, spec, value)
        return value

    def _typed(self, path: tuple, spec: Field, value: Any) -> Any:
        kind = spec.type
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "float" and not isinstance(value, bool):
            if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
                try:
                    value = float(value)
                except ValueError:
                    pass
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value) and abs(value) < 1e300:
                    return float(value)
                self.problem(path, f"{value!r} is not a finite number", "use a finite number")
                return None
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "charmap" and isinstance(value, dict):
            return self._charmap(path, value)
        self.problem(
            path,
            f"wrong type: expected {kind}, got {type(value).__name__} {value!r}",
            f"write a {kind}" + (' (quote it: "...")' if kind == "str" else ""),
        )
        return None

    def _charmap(self, path: tuple, value: dict) -> dict | None:
        """A mapping of single printable characters to single printable characters."""
        bad = [
            (k, v)
            for k, v in value.items()
            if not (isinstance(k, str) and isinstance(v, str) and len(k) == 1 and len(v) == 1)
            or _CONTROL_RE.search(k + v)
            or k.isspace()
        ]
        if bad:
            k, v = bad[0]
            self.problem(
                path + (str(k),),
                f"{k!r}: {v!r} is not a single character mapped to a single character",
                'write one character on each side, quoted if YAML could read it otherwise, e.g. {U: X, "N": X}',
            )
            return None
        return dict(value)

    def _string(self, path: tuple, spec: Field, value: str) -> None:
        if spec.max is not None and len(value) > spec.max:
            self.problem(path, f"longer than {spec.max:.0f} characters", "shorten it")
        elif _CONTROL_RE.search(value):
            self.problem(
                path,
                "contains a control character (newline, tab, NUL, ...)",
                "use one line of text",
            )
        elif len(value) > MAX_STR:
            self.problem(path, f"longer than {MAX_STR} characters", "shorten it")
        elif spec.pattern is not None and not spec.pattern.match(value):
            self.problem(
                path, f"{value!r} is not a valid value", f"use {spec.hint or spec.pattern.pattern}"
            )

    def section(self, path: tuple, schema: dict, data: Any) -> dict:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem(
                path, f"must be a mapping, got {type(data).__name__}", "indent keys under it"
            )
            data = {}
        for key in data:
            if key not in schema:
                self.problem(
                    path + (key,),
                    "unknown key",
                    f"remove it; known keys here: {', '.join(schema)}",
                )
        out = {}
        for key, spec in schema.items():
            if isinstance(spec, dict):
                out[key] = self.section(path + (key,), spec, data.get(key))
            else:
                out[key] = self.leaf(path + (key,), spec, key in data, data.get(key))
        return out

    def sizes(self, data: Any) -> dict:
        path = ("sizes",)
        if not isinstance(data, dict) or not data:
            self.problem(
                path, "at least one size is required", "add e.g. `sizes: {8M: {n_layers: 6, ...}}`"
            )
            return {}
        out = {}
        for label, entry in data.items():
            if not SIZE_LABEL_RE.match(label):
                self.problem(
                    path + (label,),
                    f"size label {label!r} is not valid",
                    "use letters, digits, . _ -",
                )
                continue
            resolved = self.section(path + (label,), SIZE_SCHEMA, entry)
            n_layers = resolved["n_layers"]
            if resolved["default_layer"] is None:
                resolved["default_layer"] = n_layers
            elif isinstance(n_layers, int) and resolved["default_layer"] > n_layers:
                self.problem(
                    path + (label, "default_layer"),
                    f"layer {resolved['default_layer']} is out of range 1..{n_layers}",
                    f"use a layer in 1..{n_layers}",
                )
            out[label] = resolved
        return out


def validate(raw: RawSpec) -> dict:
    """The normalized spec (defaults filled, schema order); raises SpecError listing every problem."""
    v = _Validator(raw)
    data = raw.data if isinstance(raw.data, dict) else {}
    for key in data:
        if key not in SCHEMA and key != "sizes":
            v.problem((key,), "unknown key", f"remove it; known keys: {', '.join(TOP_LEVEL_ORDER)}")
    spec = v.section((), SCHEMA, {k: x for k, x in data.items() if k in SCHEMA})
    spec["sizes"] = v.sizes(data.get("sizes"))
    _cross_checks(v, spec)
    if v.problems:
        raise SpecError(v.problems)
    return {key: spec[key] for key in TOP_LEVEL_ORDER}


def _section_set(schema: dict, section: dict) -> bool:
    """Whether any leaf of a (nested) kind section differs from its default; a null charmap
    becomes {} on the way."""
    is_set = False
    for leaf, sub in schema.items():
        if isinstance(sub, dict):
            is_set |= _section_set(sub, section[leaf])
            continue
        if sub.type == "charmap" and section[leaf] is None:
            section[leaf] = {}
        is_set |= section[leaf] != ({} if sub.type == "charmap" else sub.default)
    return is_set


def _cross_checks(v: _Validator, spec: dict) -> None:
    ext = spec["extraction"]
    owners: dict[str, list[str]] = {}  # kind-specific key -> the kinds that declare it
    for kind, keys in KIND_KEYS.items():
        for key in keys:
            owners.setdefault(key, []).append(kind)
    for key, kinds in owners.items():
        field = SCHEMA["extraction"][key]
        if isinstance(field, dict):  # a section: "set" when any leaf differs from its default
            is_set = _section_set(field, ext[key])
        else:
            is_set = ext[key] not in (None, field.default)
        if ext["kind"] in kinds:
            if key in KIND_REQUIRED[ext["kind"]] and ext[key] is None:
                v.problem(
                    ("extraction", key), f"required for kind {ext['kind']}", f"set extraction.{key}"
                )
        elif is_set:
            v.problem(
                ("extraction", key),
                f"only used by kind {' or '.join(kinds)} (this spec is kind {ext['kind']})",
                f"remove it (or set null): kind {ext['kind']} does not read it",
            )
    kmer = (ext.get("input_format") or {}).get("kmer") or {}
    if ext["token_unit"] == "kmer" and not kmer.get("k"):
        v.problem(
            ("extraction", "token_unit"),
            "kmer needs extraction.input_format.kmer.k (kind hf)",
            "set extraction.input_format.kmer: {k: 6, stride: 1} (DNABERT 6-mers), or another unit",
        )
    elif kmer.get("k") and ext["token_unit"] != "kmer":
        v.problem(
            ("extraction", "input_format", "kmer", "k"),
            f"k-mer input with token_unit {ext['token_unit']!r} (rows are k-mer tokens)",
            "set extraction.token_unit: kmer",
        )
    checkpoint = ext["checkpoint"]
    if isinstance(checkpoint, str):
        for name in _PLACEHOLDER_RE.findall(checkpoint):
            if name not in PLACEHOLDERS:
                v.problem(
                    ("extraction", "checkpoint"),
                    f"unknown placeholder {{{name}}}",
                    "use only {size} and {n_layers}",
                )
        if not checkpoint.strip():
            v.problem(("extraction", "checkpoint"), "is empty", "give an HF id or a path")
    sizes = spec["sizes"]
    if spec["default_size"] is None and sizes:
        spec["default_size"] = next(iter(sizes))
    elif sizes and spec["default_size"] not in sizes:
        v.problem(
            ("default_size",),
            f"{spec['default_size']!r} is not one of the sizes",
            f"use one of: {', '.join(sizes)}",
        )
    for knob, message, fix in check_knobs(knob_values(spec), knobs.limits(), knob_path):
        v.problem(tuple(knobs.get(knob).spec.split(".")), message, fix)


def knob_values(spec: dict) -> dict:
    """{knob name: value} for every knob the spec sets."""
    return {k.name: knobs.value(k, spec) for k in knobs.KNOBS if k.section}


def knob_path(name: str) -> str:
    """How a spec error names a knob: its dotted key."""
    return knobs.get(name).spec


def check_size(spec: dict, raw: RawSpec, hidden_dim: int, label: str) -> list[Problem]:
    """The knob rules that need the model size (latents), for the SAE and the smoke settings."""
    problems = []
    note = f" for size {label}"
    for knob, message, fix in check_knobs(
        knob_values(spec), knobs.limits(), knob_path, hidden_dim, note
    ):
        path = tuple(knobs.get(knob).spec.split("."))
        problems.append(Problem(*raw.where(path), ".".join(path), message, fix))
    smoke = {k.name: spec["smoke"][k.smoke.key] for k in knobs.smoke_knobs(in_spec=True)}
    smoke_name = {k.name: f"smoke.{k.smoke.key}" for k in knobs.smoke_knobs(in_spec=True)}
    for knob, message, fix in check_knobs(smoke, {}, smoke_name.get, hidden_dim, note):
        path = tuple(smoke_name[knob].split("."))
        problems.append(Problem(*raw.where(path), ".".join(path), message, fix))
    return problems
