"""Precision and recall of `recipegen lint` on the realistic corpus (tests/lint/corpus).

Each finding is matched against the corpus manifest (expected.json) by (file, rule, line); each
top-level corpus directory is one recipe, linted with its own pyproject.toml. Precision = matched
/ reported, recall = matched / expected, overall and per rule. With `--baseline REF` the same
corpus is also linted by the validators of git revision REF (extracted to a temporary directory
and run in a subprocess), for a before/after comparison. Wall time is the median of `--repeat`
runs, interleaved with the baseline's. Writes bench/results/lint_precision.json.

    python bench/bench_lint_precision.py [--baseline REF] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lint"))

from corpus_runner import corpus_files, expected, lint_corpus, score  # noqa: E402

_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
from corpus_runner import lint_corpus
t = time.perf_counter()
fs = lint_corpus()
print(json.dumps({"s": time.perf_counter() - t, "f": [[f.path, f.code, f.line] for f in fs]}))
"""


def _extract(ref: str, dest: Path) -> Path:
    """The `validators/` of git revision `ref`, importable as `recipegen.validators`."""
    archive = dest / "v.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", ref, "validators"], cwd=ROOT, stdout=fh, check=True)
    pkg = dest / "recipegen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    with tarfile.open(archive) as tar:
        tar.extractall(pkg, filter="data")
    return dest


class _F:
    def __init__(self, path: str, code: str, line: int) -> None:
        self.path, self.code, self.line = path, code, line


def _per_rule(findings: list, want: dict) -> dict:
    exp = Counter(code for items in want.values() for code, _, _ in items)
    keys = {(p, c, ln) for p, items in want.items() for c, ln, _ in items}
    got, tp = Counter(), Counter()
    for f in {(f.path, f.code, f.line) for f in findings}:
        got[f[1]] += 1
        tp[f[1]] += f in keys
    return {
        code: {"expected": exp[code], "reported": got[code], "true_positives": tp[code]}
        for code in sorted(set(exp) | set(got))
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="git revision whose validators to compare against")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    want = expected()
    times: dict[str, list[float]] = {"current": [], "baseline": []}
    base_findings = None
    with tempfile.TemporaryDirectory() as tmp:
        base_root = _extract(args.baseline, Path(tmp)) if args.baseline else None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            findings = lint_corpus()
            times["current"].append(time.perf_counter() - t0)
            if base_root is not None:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(base_root), str(ROOT / "tests" / "lint")],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                data = json.loads(out.stdout)
                times["baseline"].append(data["s"])
                base_findings = [_F(*f) for f in data["f"]]
    s = score(findings, want)
    result = {
        "benchmark": "lint precision/recall on the realistic corpus",
        "corpus_files": len(corpus_files()),
        "expected_findings": s["expected"],
        "reported": s["reported"],
        "true_positives": s["true_positives"],
        "precision": round(s["precision"], 4),
        "recall": round(s["recall"], 4),
        "false_positives": [list(x) for x in s["false_positives"]],
        "missed": [list(x) for x in s["missed"]],
        "per_rule": _per_rule(findings, want),
        "lint_s_median": round(statistics.median(times["current"]), 3),
        "lint_s_spread": round(max(times["current"]) - min(times["current"]), 3),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "note": "shared machine (8 helpers on 2 cores); times are indicative only",
        "python": platform.python_version(),
        "repeat": args.repeat,
    }
    if base_findings is not None:
        b = score(base_findings, want)
        result["baseline"] = {
            "ref": args.baseline,
            "reported": b["reported"],
            "true_positives": b["true_positives"],
            "precision": round(b["precision"], 4),
            "recall": round(b["recall"], 4),
            "lint_s_median": round(statistics.median(times["baseline"]), 3),
            "note": "the baseline reads no [tool.recipegen] sae target (it did not exist)",
        }
    out = ROOT / "bench" / "results" / "lint_precision.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_rule"}, indent=2))


if __name__ == "__main__":
    main()
