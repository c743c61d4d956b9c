"""Lint the realistic corpus (tests/lint/corpus) the way a team would: each top-level directory is
one recipe, linted with its own pyproject.toml when it has one (its `[tool.recipegen]` sae
target), and compare the findings with the manifest `expected.json`."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

from recipegen.validators.config import LintConfig, load_config
from recipegen.validators.engine import lint_paths

CORPUS = Path(__file__).resolve().parent / "corpus"


def expected() -> dict[str, list[tuple[str, int, str]]]:
    data = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    data.pop("_doc", None)
    return {path: [tuple(item) for item in items] for path, items in data.items()}


@contextmanager
def _cwd(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def recipe_dirs() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


def lint_corpus() -> list:
    """Every finding on the corpus, paths relative to the corpus root."""
    out = []
    with _cwd(CORPUS):
        for d in recipe_dirs():
            rel = Path(d.name)
            cfg = load_config(start=rel) if (rel / "pyproject.toml").is_file() else LintConfig()
            cfg.root = rel.resolve()
            out.extend(lint_paths([rel], cfg).findings)
    return out


def corpus_files() -> list[str]:
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix in (".py", ".sh", ".sbatch")
    )


def score(findings: list, want: dict) -> dict:
    """Precision and recall of `findings` against the manifest (code, path, line)."""
    exp = {(path, code, line) for path, items in want.items() for code, line, _ in items}
    got = {(f.path, f.code, f.line) for f in findings}
    tp = len(exp & got)
    return {
        "expected": len(exp),
        "reported": len(got),
        "true_positives": tp,
        "false_positives": sorted(got - exp),
        "missed": sorted(exp - got),
        "precision": tp / len(got) if got else 1.0,
        "recall": tp / len(exp) if exp else 1.0,
    }
