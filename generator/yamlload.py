"""Safe YAML loading that remembers the line of every key (for errors that name a line).

Only the YAML core types are accepted (map, seq, str, int, float, bool, null); any other tag,
e.g. `!!python/object`, is refused before anything is constructed. Duplicate keys are errors.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import Problem, SpecError

Path_ = tuple[str, ...]

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = {_CORE + t for t in ("map", "seq", "str", "int", "float", "bool", "null")}


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse `text`; return (data, {key path: 1-based line}). Raises SpecError naming the line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Path_, int] = {}
        _check(node, (), lines, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise SpecError(
            [Problem(file, line, "(yaml)", f"malformed YAML: {msg}", "fix the YAML syntax there")]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(
            [Problem(file, None, "(yaml)", f"malformed YAML: {exc}", "fix the YAML syntax")]
        ) from None
    finally:
        loader.dispose()
    return data, lines


def _field(path: Path_) -> str:
    return ".".join(path) or "(top level)"


def _check(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    line = node.start_mark.line + 1
    if node.tag not in ALLOWED_TAGS:
        raise SpecError(
            [
                Problem(
                    file,
                    line,
                    _field(path),
                    f"YAML tag {node.tag!r} is not allowed",
                    "use plain YAML values (strings, numbers, booleans, null, maps, lists)",
                )
            ]
        )
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _CORE + "str":
                raise SpecError(
                    [
                        Problem(
                            file,
                            key_line,
                            _field(path),
                            f"key {getattr(key_node, 'value', '?')!r} is not a string",
                            'quote the key, e.g. "8M":',
                        )
                    ]
                )
            key = key_node.value
            if key in seen:
                raise SpecError(
                    [
                        Problem(
                            file,
                            key_line,
                            _field(path + (key,)),
                            "duplicate key",
                            "keep one entry per key",
                        )
                    ]
                )
            seen.add(key)
            lines[path + (key,)] = key_line
            _check(value_node, path + (key,), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (str(i),)] = item.start_mark.line + 1
            _check(item, path + (str(i),), lines, file)


def parse_scalar(text: str, where: str) -> Any:
    """Parse one `--set` value as a YAML scalar (same safety rules as a spec file)."""
    data, _ = load_yaml(text, where) if text.strip() else ("", {})
    if isinstance(data, (dict, list)):
        raise SpecError(
            [Problem(where, None, "(value)", "expected a single value", "pass a scalar value")]
        )
    return data
