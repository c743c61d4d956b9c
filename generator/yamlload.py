"""Safe YAML loading that remembers the line of every key (for errors that name a line).

Only the YAML core types are accepted (map, seq, str, int, float, bool, null); any other tag,
e.g. `!!python/object`, is refused before anything is constructed. Duplicate keys are errors.
Anchors and aliases are refused as they are parsed (specs have no use for them, and nested
aliases expand exponentially: a 500-byte "billion laughs" file), nesting is bounded by
MAX_DEPTH while composing (no RecursionError), and strings holding lone surrogates (`"\\ud800"`,
which cannot be written as UTF-8) are refused naming their field.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import Problem, SpecError, printable

Path_ = tuple[str, ...]

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = {_CORE + t for t in ("map", "seq", "str", "int", "float", "bool", "null")}
MAX_DEPTH = 32  # maps/lists inside each other; specs need 4 (recipe.yaml: resolved_spec.sizes.X.k)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(Exception):
    """Raised from inside the composer; turned into a SpecError naming file, line and field."""

    def __init__(self, mark, path: tuple[str, ...], message: str, fix: str):
        self.line = mark.line + 1 if mark is not None else None
        self.path, self.message, self.fix = path, message, fix


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases and bounds nesting while composing nodes."""

    def __init__(self, text: str):
        super().__init__(text)
        self._path: list[str] = []
        self._depth = 0  # collections being composed (mapping keys count too)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(parent, yaml.SequenceNode):
            step = str(index)
        elif isinstance(index, yaml.ScalarNode):
            step = str(index.value)
        else:
            step = None  # the document root, or a mapping key
        path = tuple(self._path) + ((step,) if step is not None else ())
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise _Refused(
                event.start_mark,
                path,
                f"YAML anchors and aliases are not allowed (found {sigil}{printable(event.anchor)})",
                "write the value out in full where it is used",
            )
        collection = not isinstance(event, yaml.ScalarEvent)
        if collection and self._depth >= MAX_DEPTH:
            raise _Refused(
                event.start_mark,
                path,
                f"nested more than {MAX_DEPTH} levels deep",
                "flatten the value; spec values are scalars inside a few mappings",
            )
        if step is not None:
            self._path.append(step)
        self._depth += collection
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= collection
            if step is not None:
                self._path.pop()


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse `text`; return (data, {key path: 1-based line}). Raises SpecError naming the line."""
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters already here
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Path_, int] = {}
        _check(node, (), lines, file)
        data = loader.construct_document(node)
    except _Refused as exc:
        raise SpecError([Problem(file, exc.line, _field(exc.path), exc.message, exc.fix)]) from None
    except RecursionError:  # not reachable with MAX_DEPTH; a named error all the same
        raise SpecError(
            [Problem(file, None, "(yaml)", "nested too deeply to parse", "flatten the YAML")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise SpecError(
            [Problem(file, line, "(yaml)", f"malformed YAML: {msg}", "fix the YAML syntax there")]
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise SpecError(
            [
                Problem(
                    file,
                    line,
                    "(yaml)",
                    f"character U+{exc.character:04X} is not allowed in YAML"
                    if isinstance(exc.character, int)
                    else "text is not valid YAML input",
                    "remove control characters; write text as plain UTF-8",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(
            [Problem(file, None, "(yaml)", f"malformed YAML: {exc}", "fix the YAML syntax")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _field(path: Path_) -> str:
    if len(path) > 8:
        path = path[:8] + ("...",)
    return ".".join(path) or "(top level)"


def _no_surrogates(node: yaml.ScalarNode, path: Path_, file: str) -> None:
    m = _SURROGATE.search(node.value)
    if m:
        raise SpecError(
            [
                Problem(
                    file,
                    node.start_mark.line + 1,
                    _field(path),
                    f"contains a lone surrogate {printable(m.group())} (not valid Unicode text)",
                    "remove the \\uD800-\\uDFFF escape; write the character itself",
                )
            ]
        )


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
            _no_surrogates(key_node, path + (key,), file)
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
    elif isinstance(node, yaml.ScalarNode):
        _no_surrogates(node, path, file)


def parse_scalar(text: str, where: str, field: str = "(value)") -> Any:
    """Parse one `--set` value as a YAML scalar (same safety rules as a spec file); problems
    name `field` (the key being set)."""
    try:
        data, _ = load_yaml(text, where) if text.strip() else ("", {})
    except SpecError as exc:
        raise SpecError(
            [Problem(p.file, None, field, p.message, p.fix) for p in exc.problems]
        ) from None
    if isinstance(data, (dict, list)):
        raise SpecError(
            [Problem(where, None, field, "expected a single value", "pass a scalar value")]
        )
    return data
