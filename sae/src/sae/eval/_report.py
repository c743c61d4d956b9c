"""One-line ``repr`` of an evaluation result dataclass, from a format template of its fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


def summary_repr(template: str) -> Callable[[object], str]:
    """A ``__repr__`` filling ``template`` (``str.format`` fields named after the dataclass's)."""

    def __repr__(self) -> str:
        return template.format(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    return __repr__
