"""`RawSpec`: a spec as read, before validation (the loaders make it, the validator reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RawSpec:
    """A spec as read: plain data plus where each key came from (file, line)."""

    data: dict
    file: str
    source: str  # "builtin" or the path given to --spec
    origins: dict[tuple, tuple[str, int | None]] = field(default_factory=dict)

    def where(self, path: tuple) -> tuple[str, int | None]:
        """(file, line) of `path`, falling back to its nearest ancestor, then the file."""
        while path:
            if path in self.origins:
                return self.origins[path]
            path = path[:-1]
        return (self.file, None)
