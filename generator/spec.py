"""Model specs: find, load (YAML or HF config.json), override, validate, resolve a size + layer."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import GeneratorError, Problem, SpecError
from .hfconfig import from_hf_config, missing_sizes
from .rawspec import RawSpec
from .schema import NAME_RE, SCHEMA, SIZE_SCHEMA, Field
from .validate import check_size, validate
from .yamlload import load_yaml, parse_scalar

MAX_SPEC_BYTES = 1_000_000


# ---------------------------------------------------------------- finding and loading


def _models_dir():
    return resources.files("recipegen.generator").joinpath("models")


def builtin_models() -> list[str]:
    """Names of the specs shipped in the package."""
    return sorted(
        p.name[: -len(".yaml")] for p in _models_dir().iterdir() if p.name.endswith(".yaml")
    )


def load_builtin(model: str) -> RawSpec:
    """The shipped spec `model`; unknown names list the known ones."""
    known = builtin_models()
    if model not in known:
        raise GeneratorError(
            f"unknown model {model!r}; known models: {', '.join(known)} "
            "(or pass your own spec with --spec FILE.yaml / --spec config.json)"
        )
    text = _models_dir().joinpath(f"{model}.yaml").read_text(encoding="utf-8")
    return _from_yaml_text(text, f"{model}.yaml (builtin)", "builtin")


def load_spec_file(path: str | Path) -> RawSpec:
    """A user spec: YAML, or an HF `config.json` (shortcut for HF-native models)."""
    p = Path(path)
    if not p.is_file():
        raise GeneratorError(
            f"--spec {str(path)!r}: no such file (fix: pass a spec .yaml or an HF config.json)"
        )
    if p.stat().st_size > MAX_SPEC_BYTES:
        raise GeneratorError(
            f"--spec {str(path)!r}: larger than {MAX_SPEC_BYTES} bytes; not a spec"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GeneratorError(f"--spec {str(path)!r}: cannot read it as UTF-8 text: {exc}") from None
    if p.suffix == ".json":
        return from_hf_config(text, str(p))
    return _from_yaml_text(text, str(p), str(path))


def _from_yaml_text(text: str, file: str, source: str) -> RawSpec:
    data, lines = load_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    file, 1, "(top level)", "a spec must be a YAML mapping", "see docs/contracts.md"
                )
            ]
        )
    return RawSpec(data, file, source, {k: (file, v) for k, v in lines.items()})


# ---------------------------------------------------------------- overrides


def parse_override(item: str) -> tuple[tuple, Any]:
    """`sae.top_k=64` -> (("sae", "top_k"), 64); the value is a YAML scalar (safe)."""
    where = f"--set {item if len(item) <= 80 else item[:77] + '...'}"
    if "=" not in item:
        raise SpecError(
            [Problem(where, None, item, "expected key=value", "e.g. --set sae.top_k=64")]
        )
    key, _, text = item.partition("=")
    key = key.strip()
    parts = key.split(".")
    if parts[0] == "sizes" and len(parts) >= 3:
        path = ("sizes", ".".join(parts[1:-1]), parts[-1])
        leaf = SIZE_SCHEMA.get(parts[-1])
    else:
        path = tuple(parts)
        node: Any = SCHEMA
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        leaf = node
    if not isinstance(leaf, Field):
        raise SpecError(
            [
                Problem(
                    where,
                    None,
                    key or "(empty)",
                    "unknown key (or a whole section)",
                    "use a dotted leaf key, e.g. sae.top_k or sizes.8M.default_layer "
                    "(see `recipegen show MODEL`)",
                )
            ]
        )
    return path, parse_scalar(text, where, ".".join(path))


def apply_overrides(raw: RawSpec, overrides: list[str]) -> RawSpec:
    """A copy of `raw` with each `key=value` set; origins point at the --set flag."""
    out = RawSpec(copy.deepcopy(raw.data), raw.file, raw.source, dict(raw.origins))
    for item in overrides:
        path, value = parse_override(item)
        node = out.data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise SpecError(
                    [
                        Problem(
                            f"--set {item}",
                            None,
                            ".".join(path),
                            "parent is not a mapping",
                            "fix the spec",
                        )
                    ]
                )
            node = child
        node[path[-1]] = value
        out.origins[path] = (f"--set {item}", None)
    return out


# ---------------------------------------------------------------- resolution


def spec_sha256(spec: dict) -> str:
    """Content hash of a normalized spec (key order independent)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def resolve(spec: dict, raw: RawSpec, size: str | None = None, layer: int | None = None) -> dict:
    """The template context `spec`: `size`, `model` (checkpoint filled in) and `layer` added."""
    label = size or spec["default_size"]
    if label not in spec["sizes"]:
        raise GeneratorError(
            f"--size {label!r} is not a size of {spec['name']}; known sizes: {', '.join(spec['sizes'])}"
        )
    entry = dict(spec["sizes"][label])
    n_layers = entry["n_layers"]
    chosen = entry["default_layer"] if layer is None else layer
    if isinstance(chosen, bool) or not isinstance(chosen, int) or not 1 <= chosen <= n_layers:
        raise GeneratorError(
            f"--layer {chosen!r} is out of range for {spec['name']} {label} "
            f"(fix: use a layer in 1..{n_layers}; layer L = hidden_states[L], the output of block L)"
        )
    template = entry.pop("checkpoint") or spec["extraction"]["checkpoint"]
    entry["checkpoint"] = template.replace("{size}", label).replace("{n_layers}", str(n_layers))
    entry["label"] = label
    problems = check_size(spec, raw, entry["hidden_dim"], label)
    if problems:
        raise SpecError(problems)
    out = copy.deepcopy(spec)
    out.update(size=label, model=entry, layer=chosen)
    return out


def load(
    model: str | None = None,
    spec_path: str | None = None,
    overrides: list[str] | tuple = (),
) -> tuple[RawSpec, dict]:
    """Find, override and validate a spec: (raw, normalized)."""
    if spec_path:
        raw = load_spec_file(spec_path)
        if model and Path(spec_path).suffix == ".json":
            if not NAME_RE.match(model):
                raise GeneratorError(
                    f"model name {model!r} is not valid (fix: use [a-z][a-z0-9_]{{0,39}})"
                )
            raw.data["name"] = model
        elif model and raw.data.get("name") != model:
            raise GeneratorError(
                f"MODEL {model!r} does not match name {raw.data.get('name')!r} in {spec_path} "
                "(fix: omit MODEL when using --spec, or make them agree)"
            )
    elif model:
        raw = load_builtin(model)
    else:
        raise GeneratorError("give a MODEL (see `recipegen list`) or --spec FILE")
    raw = apply_overrides(raw, list(overrides))
    if spec_path and Path(spec_path).suffix == ".json":
        problems = missing_sizes(raw)
        if problems:
            raise SpecError(problems)
    return raw, validate(raw)


__all__ = [
    "RawSpec",
    "apply_overrides",
    "builtin_models",
    "load",
    "load_builtin",
    "load_spec_file",
    "parse_override",
    "resolve",
    "spec_sha256",
    "validate",
]
