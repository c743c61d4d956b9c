"""Benchmark P6: `recipegen lint` over >= 200 recipe files vs parsing the same files alone.

Parsing alone = `ast.parse` for Python plus `bashlex.parse` of each shell file (whole file; where
bashlex rejects a construct, the time it took to reject is counted, so this baseline is cheap on
scripts bashlex gives up on early). A second baseline uses the linter's own shell front end
(statement scanner + `words_of`: bashlex per statement, batched, with the plain-statement fast
path), i.e. the parse the linter must do anyway. Both ratios are reported; they come from one
run on one machine. The linter keeps no cache across files by content, so the identical copies
of the corpus are each parsed and checked in full. Writes bench/results/lint.json.

    python bench/bench_lint.py [--copies N] [--repeat R]
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import bashlex
from click.testing import CliRunner
from recipegen.validators import facts_shell, shell_scan
from recipegen.validators.config import LintConfig
from recipegen.validators.engine import discover, lint_paths

from recipegen.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "lint" / "fixtures"


def corpus(dest: Path, copies: int) -> list[Path]:
    """Rendered recipes (when the generator works) plus the lint fixtures, copied `copies` times."""
    src = dest / "_src"
    src.mkdir()
    for model in ("esm2", "codonfm", "evo2"):
        CliRunner().invoke(cli, ["new", model, "--out", str(src)])
    shutil.copytree(FIXTURES, src / "fixtures")
    for i in range(copies):
        shutil.copytree(src, dest / f"copy_{i:03d}")
    shutil.rmtree(src)
    return [p for p, _ in discover([dest], LintConfig())]


def parse_only(files: list[Path], own_shell: bool) -> float:
    t0 = time.perf_counter()
    for p in files:
        text = p.read_bytes().decode("utf-8")
        if p.suffix == ".py":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text)
        elif own_shell:  # exactly what facts_shell.build parses: one words_of call per file
            facts_shell.words_of([seg.text for seg in shell_scan.scan(text)[0]])
        else:
            try:
                bashlex.parse(text)
            except Exception:  # bashlex rejects [[ ]], arrays, case: count the time spent
                pass
    return time.perf_counter() - t0


def best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = corpus(root, args.copies)
        n_py = sum(p.suffix == ".py" for p in files)
        n_bytes = sum(p.stat().st_size for p in files)
        t_parse = best(lambda: parse_only(files, own_shell=False), args.repeat)
        t_parse_own = best(lambda: parse_only(files, own_shell=True), args.repeat)

        def lint() -> float:
            t0 = time.perf_counter()
            lint_paths([root], LintConfig())
            return time.perf_counter() - t0

        t_lint = best(lint, args.repeat)
        n_findings = len(lint_paths([root], LintConfig()).findings)
    result = {
        "benchmark": "P6 lint vs parse",
        "files": len(files),
        "python_files": n_py,
        "shell_files": len(files) - n_py,
        "bytes": n_bytes,
        "findings": n_findings,
        "parse_s": round(t_parse, 4),
        "parse_own_shell_frontend_s": round(t_parse_own, 4),
        "lint_s": round(t_lint, 4),
        "ratio_lint_over_parse": round(t_lint / t_parse, 2),
        "ratio_lint_over_parse_own_frontend": round(t_lint / t_parse_own, 2),
        "goal_ratio": 3.0,
        "files_per_s": round(len(files) / t_lint, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": args.repeat,
    }
    out = ROOT / "bench" / "results" / "lint.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
