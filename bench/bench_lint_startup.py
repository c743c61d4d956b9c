"""Start-up cost of the CLI: `recipegen --version`, `--help`, `recipegen lint` on one small
Python file and on one small shell script, against `ruff check --no-cache` on the same files and
a bare `python -c pass`, each a fresh process. Contenders run interleaved (round i runs every
contender once, in a rotated order) so load drifts hit them alike; reported per contender:
median, min, max and the inter-quartile range of wall time, the median CPU time (user+sys of
the child: on a loaded machine the closer estimate of an idle run), and the load average. The
modules are byte-compiled first (as `pip install` does) and PYTHONDONTWRITEBYTECODE is dropped
for the children. The shell parser's table cache is warmed once first (a first run builds it).
Writes bench/results/lint_startup.json.

    python bench/bench_lint_startup.py [--rounds N] [--baseline REF] [--installed BIN]

With `--baseline REF` the CLI of git revision REF (extracted to a temporary folder, byte-compiled,
run as `python -c "from recipegen.cli import main; main()"` from there) joins the rotation.
With `--installed BIN` another `recipegen` executable joins it too: a regular (non-editable)
install, which has no editable-install finder to load at start-up, e.g.

    python -m venv /tmp/rv && /tmp/rv/bin/pip install click bashlex jinja2 pyyaml
    git archive HEAD | (mkdir /tmp/src && tar -x -C /tmp/src) && /tmp/rv/bin/pip install --no-deps /tmp/src
    python bench/bench_lint_startup.py --installed /tmp/rv/bin/recipegen
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY_FILE = ROOT / "tests" / "lint" / "corpus" / "hydra_driver" / "launch_str.py"
SH_FILE = ROOT / "tests" / "lint" / "corpus" / "extract_guards" / "guard_ok.sh"


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"error: `{name}` not found (activate the project's venv)")
    return found


def contenders() -> dict[str, list[str]]:
    rg, ruff = _bin("recipegen"), _bin("ruff")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "recipegen --version": [rg, "--version"],
        "recipegen --help": [rg, "--help"],
        "recipegen lint <py>": [rg, "lint", str(PY_FILE)],
        "ruff check --no-cache <py>": [ruff, "check", "--no-cache", "--quiet", str(PY_FILE)],
        "recipegen lint <sh>": [rg, "lint", str(SH_FILE)],
    }


_RUN_CLI = "import sys; from recipegen.cli import main; sys.argv[0] = 'recipegen'; main()"


def baseline_contenders(ref: str, dest: Path) -> dict[str, list[str]]:
    """The CLI of git revision `ref`, extracted under `dest` (run with it as the cwd)."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    for folder in ("recipegen", "validators", "generator"):
        compileall.compile_dir(dest / folder, quiet=1)
    py = [sys.executable, "-c", _RUN_CLI]
    return {
        f"{ref} --version": [*py, "--version"],
        f"{ref} --help": [*py, "--help"],
        f"{ref} lint <py>": [*py, "lint", str(PY_FILE)],
        f"{ref} lint <sh>": [*py, "lint", str(SH_FILE)],
    }


def installed_contenders(binary: str) -> dict[str, list[str]]:
    """`binary` (another recipegen executable, e.g. a regular install) on the same files."""
    return {
        "installed --version": [binary, "--version"],
        "installed lint <py>": [binary, "lint", str(PY_FILE)],
        "installed lint <sh>": [binary, "lint", str(SH_FILE)],
    }


def _time(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd, check=False
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _summary(xs: list[float]) -> dict[str, float]:
    q = statistics.quantiles(xs, n=4)
    return {
        "median_s": round(statistics.median(xs), 4),
        "min_s": round(min(xs), 4),
        "max_s": round(max(xs), 4),
        "iqr_s": round(q[2] - q[0], 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--baseline", help="a git revision whose CLI joins the comparison")
    ap.add_argument("--installed", help="another recipegen executable (a regular install)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.baseline else None
    for folder in ("recipegen", "validators", "generator"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmds = contenders()
    cwds: dict[str, str | None] = dict.fromkeys(cmds)
    if tmp is not None:
        extra = baseline_contenders(args.baseline, Path(tmp.name))
        cmds.update(extra)
        cwds.update(dict.fromkeys(extra, tmp.name))
    if args.installed:
        extra = installed_contenders(args.installed)
        cmds.update(extra)
        cwds.update(dict.fromkeys(extra))
    for name, cmd in cmds.items():  # warm the page cache, .pyc files and the shell-table cache
        _time(cmd, env, cwds[name])
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    names = list(cmds)
    for i in range(args.rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            wall, used = _time(cmds[name], env, cwds[name])
            times[name].append(wall)
            cpu[name].append(used)
    load_after = os.getloadavg()
    res = {
        name: {**_summary(xs), "cpu_median_s": round(statistics.median(cpu[name]), 4)}
        for name, xs in times.items()
    }
    ruff_py = res["ruff check --no-cache <py>"]["median_s"]
    out = {
        "bench": "lint_startup",
        "files": {"py": str(PY_FILE.relative_to(ROOT)), "sh": str(SH_FILE.relative_to(ROOT))},
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "results": res,
        "ratio_lint_py_to_ruff": round(res["recipegen lint <py>"]["median_s"] / ruff_py, 2),
        "ratio_lint_py_to_ruff_cpu": round(
            res["recipegen lint <py>"]["cpu_median_s"]
            / res["ruff check --no-cache <py>"]["cpu_median_s"],
            2,
        ),
        "targets_s": {"--version": 0.1, "--help": 0.1, "lint one small file": 0.12},
    }
    if tmp is not None:
        out["baseline"] = args.baseline
        tmp.cleanup()
    if args.installed:
        out["installed"] = args.installed
    dest = ROOT / "bench" / "results" / "lint_startup.json"
    dest.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for name, r in res.items():
        print(
            f"{name:30s} median {r['median_s'] * 1000:7.1f} ms  IQR {r['iqr_s'] * 1000:6.1f} ms"
            f"  CPU {r['cpu_median_s'] * 1000:6.1f} ms"
        )
    print(f"load {load_before} -> {load_after}; wrote {dest}")


if __name__ == "__main__":
    main()
