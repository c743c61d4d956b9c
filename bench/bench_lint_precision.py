"""Precision and recall of `recipegen lint` on the realistic corpus (tests/lint/corpus).

Each finding is matched against the corpus manifest (expected.json) by (file, rule, line); each
top-level corpus directory is one recipe, linted with its own pyproject.toml. Precision = matched
/ reported, recall = matched / expected, overall and per rule. With `--baseline REF` the same
corpus is also linted by the validators of git revision REF (extracted to a temporary directory
and run in a subprocess), for a before/after comparison. Wall time is the median of `--repeat`
runs, interleaved with the baseline's. Writes bench/results/lint_precision.json.

    python bench/bench_lint_precision.py [--baseline REF] [--repeat N]

`--held-out` lints real SAE code nobody here wrote instead: the installed `sparsify` and
`sae_lens` packages of the peer benchmark (~/.cache/recipegen-bench-peers, made by
bench_peers.py) and every tree under ../shared/reference, each with the CLI in a fresh process
(its own pyproject.toml decides its config). Every finding is matched to a verdict judged by
hand (`HELD_OUT_VERDICTS`: file, rule and the line's text, so a verdict survives line shifts);
a finding without one is listed as unjudged. Writes bench/results/lint_heldout.json.
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


# (tree, path in the tree, rule, the finding's line stripped) -> (verdict, why), judged by hand
HELD_OUT_VERDICTS: dict[tuple[str, str, str, str], tuple[str, str]] = {
    (
        "sae_lens",
        "loading/pretrained_sae_loaders.py",
        "SAE306",
        "weights = torch.load(file_path, map_location=device)",
    ): ("TP", "a file downloaded from the hub, unpickled; no torch>=2.6 pin"),
    (
        "sae_lens",
        "loading/pretrained_sae_loaders.py",
        "SAE306",
        "raw_state_dict = torch.load(sae_path, map_location=device)",
    ): ("TP", "a hub download, unpickled; no torch>=2.6 pin"),
    (
        "sae_lens",
        "loading/pretrained_sae_loaders.py",
        "SAE306",
        "state_dict_loaded = torch.load(sae_path, map_location=device)",
    ): ("TP", "a hub download (two loaders, same line text), unpickled; no torch>=2.6 pin"),
    (
        "sae_lens",
        "loading/pretrained_sae_loaders.py",
        "SAE306",
        'encoder = torch.load(encoder_path, map_location="cpu")',
    ): ("TP", "a hub download, unpickled; no torch>=2.6 pin"),
    ("sae_lens", "training/sae_trainer.py", "SAE306", "state_dict = torch.load("): (
        "TP",
        "trainer state (tensors and numbers) loads with weights_only=True; bare load unpickles",
    ),
    (
        "bionemo-sae",
        "src/sae/parallel/checkpoint.py",
        "SAE306",
        'shards = [torch.load(os.path.join(out_dir, f"shard_{r:03d}.pt"), map_location="cpu")'
        " for r in range(world_size)]",
    ): ("TP", "tensor shards unpickled; the project pins torch>=2.0, not >=2.6"),
    (
        "bionemo-sae",
        "src/sae/training.py",
        "SAE306",
        "checkpoint = torch.load(path, map_location=self.config.device, weights_only=False)",
    ): (
        "TP",
        "an explicit weights_only=False: reported by design, to be acknowledged with a noqa",
    ),
}


_RUN_CLI = "import sys; from recipegen.cli import main; sys.argv[0] = 'recipegen'; main()"


def held_out_trees() -> dict[str, Path]:
    """{name: folder} of the held-out code present on this machine."""
    trees: dict[str, Path] = {}
    peers = Path.home() / ".cache" / "recipegen-bench-peers"
    for pkg in ("sparsify", "sae_lens"):
        for found in sorted(peers.glob(f"*/lib/python3*/site-packages/{pkg}")):
            trees.setdefault(pkg, found)
    reference = ROOT.parent / "shared" / "reference"
    for tree in sorted(reference.iterdir()) if reference.is_dir() else ():
        if tree.is_dir():
            trees[tree.name] = tree
    return trees


def _lint_tree(tree: Path, cli: list[str], cwd: str) -> tuple[list[dict], int]:
    proc = subprocess.run(
        [*cli, "lint", "--output-format", "json", str(tree)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lint failed on {tree}: {proc.stderr}")
    files = sum(
        1
        for p in tree.rglob("*")
        if p.suffix in (".py", ".sh", ".sbatch") and not set(p.parts) & {"__pycache__", ".git"}
    )
    return json.loads(proc.stdout), files


def held_out(baseline: str | None) -> None:
    trees = held_out_trees()
    if not trees:
        raise SystemExit("no held-out code here (run bench/bench_peers.py; ../shared/reference)")
    cli = [sys.executable, "-c", _RUN_CLI]
    runs = {"current": (cli, tempfile.gettempdir())}  # this checkout's (installed) recipegen
    with tempfile.TemporaryDirectory() as tmp:
        if baseline:  # run from its extracted tree, which shadows the installed package
            archive = subprocess.run(
                ["git", "archive", baseline], cwd=ROOT, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            runs["baseline"] = (cli, tmp)
        result: dict = {"benchmark": "lint precision on held-out real SAE code", "trees": {}}
        for label, (cli, cwd) in runs.items():
            judged, rows, total_files = Counter(), [], 0
            for name, tree in trees.items():
                findings, files = _lint_tree(tree, cli, cwd)
                total_files += files
                result["trees"][name] = {"path": str(tree), "files": files}
                for f in findings:
                    path = Path(f["filename"])
                    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                    row = f["location"]["row"]
                    text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
                    rel = str(path.relative_to(tree))
                    verdict, why = HELD_OUT_VERDICTS.get(
                        (name, rel, f["code"], text), ("unjudged", "")
                    )
                    judged[verdict] += 1
                    rows.append([name, rel, row, f["code"], verdict, why])
            tp, fp = judged["TP"], judged["FP"]
            result[label] = {
                "files": total_files,
                "findings": len(rows),
                "true_positives": tp,
                "false_positives": fp,
                "unjudged": judged["unjudged"],
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                "table": rows,
            }
        if baseline:
            result["baseline"]["ref"] = baseline
    result["python"] = platform.python_version()
    out = ROOT / "bench" / "results" / "lint_heldout.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for label in runs:
        r = result[label]
        print(
            f"{label}: {r['findings']} findings in {r['files']} files: {r['true_positives']} TP, "
            f"{r['false_positives']} FP, {r['unjudged']} unjudged; precision {r['precision']}"
        )
        for row in r["table"]:
            print("   ", *row)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="git revision whose validators to compare against")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--held-out", action="store_true", help="lint held-out real SAE code")
    args = ap.parse_args()
    if args.held_out:
        held_out(args.baseline)
        return
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
