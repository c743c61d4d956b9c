"""The realistic corpus lints to exactly the findings its manifest lists (code, file, line) and
each finding carries the manifest's message fragment."""

from __future__ import annotations

from .corpus_runner import corpus_files, expected, lint_corpus, recipe_dirs, score


def test_corpus_is_large_and_varied():
    files = corpus_files()
    assert len(files) >= 40, files
    assert len(recipe_dirs()) >= 8
    assert any(f.endswith(".sbatch") for f in files)


def test_corpus_findings_are_exactly_the_expected_ones():
    want = expected()
    findings = lint_corpus()
    s = score(findings, want)
    assert not s["false_positives"] and not s["missed"], s
    by_key = {(f.path, f.code, f.line): f for f in findings}
    for path, items in want.items():
        for code, line, fragment in items:
            f = by_key[(path, code, line)]
            assert fragment in f.message, (path, code, line, f.message)


def test_manifest_names_existing_files():
    files = set(corpus_files())
    assert set(expected()) <= files
