"""Atlas files interchange with the reference library: its readers take ours, ours take its.

The reference runs in its own virtualenv (`scripts/reference_venv.sh`); the reference dashboard's
DuckDB queries run here with the duckdb package against our files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from analysis_helpers import analyze, make_run  # noqa: E402
from sae.dashboard import build_dashboard  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REF = REPO.parent / "shared" / "reference" / "bionemo-sae"
FILES = ("features_atlas.parquet", "feature_metadata.parquet", "feature_examples.parquet")


@pytest.fixture(scope="module")
def ref_python() -> str:
    if not (REF / "pyproject.toml").is_file():
        pytest.skip(f"{REF} not present (fresh clone without ../shared)")
    r = subprocess.run(["bash", str(REPO / "scripts" / "reference_venv.sh")], cwd=REPO,
                       capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return str(REPO / r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both(tmp_path_factory, ref_python):
    tmp = tmp_path_factory.mktemp("interop")
    fasta, cache, ckpt, *_ = make_run(tmp, 1)
    analyze("esm2_sae", tmp, fasta, cache, ckpt)
    ours = tmp / "analysis"
    r = subprocess.run([ref_python, str(Path(__file__).parent / "ref_side.py"), str(ours), str(tmp)],
                       capture_output=True, text=True, timeout=600, cwd=tmp)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return ours, tmp / "ref", json.loads(r.stdout.strip().splitlines()[-1])


def test_our_files_have_every_reference_column_with_its_type(both):
    ours, ref, _ = both
    for name in FILES:
        theirs = pq.read_schema(ref / name)
        mine = pq.read_schema(ours / name)
        for field in theirs:
            assert field.name in mine.names, f"{name}: column {field.name} missing"
            got = mine.field(field.name).type
            # a column that is all-null in their file is typed null there
            assert got == field.type or field.type == pa.null(), (
                f"{name}.{field.name}: {got} != {field.type}"
            )
        assert mine.names[: len(theirs.names)] == theirs.names, name


def test_the_reference_launch_dashboard_takes_our_atlas(both):
    _, _, report = both
    assert report["copied"] == sorted(FILES) and report["identical"]
    assert report["server_error"] is None or "npm" in report["server_error"]


def test_the_reference_dashboard_queries_run_on_our_files(both):
    duckdb = pytest.importorskip("duckdb")
    ours, _, _ = both
    con = duckdb.connect()
    for table, name in (
        ("features", FILES[0]),
        ("feature_metadata", FILES[1]),
        ("feature_examples", FILES[2]),
    ):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{ours / name}')")
    con.execute("UPDATE features SET cluster_id = NULL WHERE cluster_id < 0")
    cols = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE features)").fetchall())
    assert {"x", "y", "log_frequency", "max_activation", "activation_freq", "label"} <= set(cols)
    fid = con.execute(
        "SELECT feature_id FROM feature_examples ORDER BY max_activation DESC LIMIT 1"
    ).fetchone()[0]
    rows = con.execute(
        f"SELECT * FROM feature_examples WHERE feature_id = {fid} ORDER BY example_rank"
    ).fetchall()
    names = [d[0] for d in con.description]
    tokens = json.loads(rows[0][names.index("tokens_json")])
    assert {"token", "activation"} <= set(tokens[0]) and max(t["activation"] for t in tokens) > 0
    assert (
        con.execute(f"SELECT x, y FROM features WHERE feature_id = {fid} LIMIT 1").fetchone()
        is not None
    )
    meta = con.execute("SELECT * FROM feature_metadata ORDER BY feature_id").fetchall()
    assert len(meta) == con.execute("SELECT COUNT(*) FROM features").fetchone()[0]
    assert con.execute("SELECT COUNT(*) FROM features WHERE label ILIKE '%feature%'").fetchone()[
        0
    ] == len(meta)


def test_our_dashboard_shows_the_reference_files(both, tmp_path):
    _, ref, _ = both
    site = build_dashboard(tmp_path / "site", ref / "features_atlas.parquet")
    atlas = (site / "data" / "atlas.js").read_text()
    assert atlas.startswith("SAE_DASHBOARD.loadAtlas(")
    examples = pq.read_table(ref / "feature_examples.parquet").to_pylist()
    first = examples[0]
    chunk = site / "data" / "chunks" / f"c{first['feature_id'] // 64:05d}.js"
    payload = json.loads(chunk.read_text().split(", ", 1)[1].rsplit(");", 1)[0])
    shown = payload[str(first["feature_id"])]["examples"]
    assert shown[0]["tokens"] == json.loads(first["tokens_json"])


def test_analyze_on_the_reference_runtime_says_it_skips(ref_python, tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    cmd = [ref_python, str(REPO / "recipes" / "esm2_sae" / "analyze.py"), "--sae-checkpoint", str(ckpt),
           "--eval-cache", str(cache), "--input", str(fasta), "--output-dir", str(tmp_path / "a"),
           "--dashboard-dir", str(tmp_path / "d")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0 and "analyze: skipped" in r.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()
