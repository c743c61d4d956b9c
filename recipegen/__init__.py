"""recipegen: generate and lint SAE recipes for biological foundation models."""

from pathlib import Path as _Path

__version__ = "0.1.0"

# In a source checkout the sub-packages live in sibling folders (generator/, validators/, ...),
# mapped under `recipegen.` by pyproject's package-dir. When this folder is imported straight from
# the checkout (the repository root on sys.path), map them the same way so imports still resolve.
_root = _Path(__file__).resolve().parent.parent
if (_root / "generator" / "models").is_dir() and (_root / "validators" / "registry.py").is_file():
    __path__.append(str(_root))  # noqa: F821  (module __path__ of this package)
