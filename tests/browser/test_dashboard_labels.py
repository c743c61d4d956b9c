"""Your labels in the dashboard, in headless Chromium: the badge names the label and its source,
the labels are drawn under every example (token underline + runs), sequences carry FASTA ids.

Skips where Debian's chromium + chromium-driver (or selenium) are not installed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip("no chromium + chromedriver", allow_module_level=True)
pytest.importorskip("selenium")
pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from analysis_helpers import analyze, make_run  # noqa: E402
from sae import launch_dashboard  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def test_badge_labels_and_fasta_ids(tmp_path):
    fasta, cache, ckpt, seqs, order, x, sae = make_run(tmp_path, 1)
    labels = tmp_path / "labels.fasta"  # first half of every sequence "N", the rest "C"
    labels.write_text(
        "#legend N=Nterm C=Cterm\n"
        + "".join(
            f">s{i}\n{'N' * (len(s) // 2)}{'C' * (len(s) - len(s) // 2)}\n"
            for i, s in enumerate(seqs)
        )
    )
    analyze("esm2_sae", tmp_path, fasta, cache, ckpt, "--labels", str(labels))
    atlas = pq.read_table(tmp_path / "analysis" / "features_atlas.parquet").to_pylist()
    feat = max((r for r in atlas if r["best_label"]), key=lambda r: r["best_label_f1"])
    examples = [
        r
        for r in pq.read_table(tmp_path / "analysis" / "feature_examples.parquet").to_pylist()
        if r["feature_id"] == feat["feature_id"]
    ]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = launch_dashboard(tmp_path / "dashboard", port=port)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        driver.get(f"http://127.0.0.1:{port}/#{feat['feature_id']}")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "card").get_attribute("data-loaded") == "1"
        )
        badge = driver.find_element(By.ID, "best-label").text
        assert f"best match: {feat['best_label']}" in badge
        assert "your labels (labels.fasta)" in badge
        boxes = driver.find_elements(By.CSS_SELECTOR, "#card .example")
        assert len(boxes) == len(examples)
        for box, ex in zip(boxes, sorted(examples, key=lambda r: r["example_rank"]), strict=True):
            assert box.find_element(By.CSS_SELECTOR, ".where").text.startswith(
                f"sequence s{ex['text_idx']} (#{ex['text_idx']})"
            )
            want = [t.get("label") for t in json.loads(ex["tokens_json"])]
            got = [
                t.get_attribute("data-label") for t in box.find_elements(By.CSS_SELECTOR, ".tok")
            ]
            assert got == want
            chips = [c.text for c in box.find_elements(By.CSS_SELECTOR, ".labels-line .lab-chip")]
            assert chips and all(c.split()[0] in ("Nterm", "Cterm") for c in chips)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        proc.terminate()
        proc.wait(10)
