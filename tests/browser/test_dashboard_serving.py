"""Serving and reading the dashboard in headless Chromium (Selenium): a busy port never shows
another dashboard, and the map has axes and a cluster legend, the histogram a y-axis, codons
separators. Dashboards are built from real scans of a small SAE (no demo run needed).

Skips where Debian's chromium + chromium-driver (or selenium) are not installed; `.ci/run`
installs them (scripts/test.sh). Set DASHBOARD_SCREENSHOT_DIR=dir to keep the screenshots.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        "no chromium + chromedriver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
pytest.importorskip("selenium")
torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

import numpy as np  # noqa: E402
from sae.analysis import (  # noqa: E402
    Segments,
    compute_cluster_centroids,
    compute_feature_map,
    save_cluster_labels,
    scan_activations,
    write_scan_atlas,
)
from sae.architectures import TopKSAE  # noqa: E402
from sae.dashboard import build_dashboard  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900",
)  # fmt: skip
CODONS = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"]


def _dashboard(root: Path, title: str, n_latents: int, codons: bool) -> Path:
    torch.manual_seed(n_latents)
    sae = TopKSAE(8, n_latents, 4).eval()
    n_seq, length = 12, 30
    x = torch.randn(n_seq * length, 8).numpy()
    scan = scan_activations(
        sae.encode,
        n_latents,
        lambda: [x],
        Segments(np.full(n_seq, length), np.arange(n_seq)),
        top_k=3,
        window=4,
        show_progress=False,
    )
    geometry = compute_feature_map(sae, n_clusters=4, method="pca")
    out = root / "analysis"
    if codons:
        write_scan_atlas(
            scan, geometry, out, lambda s, a, b: [CODONS[(s * 7 + i) % 64] for i in range(a, b)],
            unit="codon", chars_per_token=3,
        )  # fmt: skip
    else:
        write_scan_atlas(
            scan, geometry, out, lambda s, a, b: ["ACDEFGHIKL"[i % 10] for i in range(a, b)]
        )
    clusters = compute_cluster_centroids(geometry)
    save_cluster_labels(
        clusters, [f"theme {c.cluster_id}" for c in clusters], out / "cluster_labels.json"
    )
    return build_dashboard(root / "dashboard", out / "features_atlas.parquet", title=title)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    return {
        "codon": _dashboard(root / "codon", "CODON dashboard", 96, codons=True),
        "protein": _dashboard(root / "protein", "PROTEIN dashboard", 64, codons=False),
    }


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _serve(site: Path, *args: str):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sae.dashboard", str(site), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert " at http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() else "")
    return proc, line.split(" at ", 1)[1].split()[0]


def _stop(proc):
    proc.terminate()
    proc.wait(20)


def _open(driver, url):
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )


def _shot(driver, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000
    return path


def test_a_busy_port_never_shows_another_dashboard(sites, browser):
    first, url = _serve(sites["protein"])
    try:
        port = url.rstrip("/").rsplit(":", 1)[1]
        run = subprocess.run(
            [sys.executable, "-m", "sae.dashboard", str(sites["codon"]), "--port", port],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in run.stderr
        assert "http://" not in run.stdout + run.stderr  # no URL that would show the other one
        # the port still shows the first dashboard, and says so
        _open(browser, url)
        assert browser.find_element(By.ID, "title").text == "PROTEIN dashboard"
        # without --port the second dashboard gets its own, real URL
        second, url2 = _serve(sites["codon"])
        try:
            assert url2 != url
            _open(browser, url2)
            assert browser.find_element(By.ID, "title").text == "CODON dashboard"
        finally:
            _stop(second)
    finally:
        _stop(first)


def _rgb(css: str) -> tuple[int, int, int]:
    nums = css[css.index("(") + 1 : css.index(")")].split(",")
    return tuple(int(float(v)) for v in nums[:3])


def test_map_axes_legend_histogram_axis_and_codon_separators(sites, browser, tmp_path):
    site = sites["codon"]
    atlas = pq.read_table(site.parent / "analysis" / "features_atlas.parquet").to_pylist()
    proc, url = _serve(site)
    try:
        _open(browser, url)
        # legend: one entry per cluster, with its size and label, coloured like its points
        items = browser.find_elements(By.CSS_SELECTOR, "#legend .legend-item")
        sizes = {}
        for r in atlas:
            sizes[r["cluster_id"]] = sizes.get(r["cluster_id"], 0) + 1
        shown = {int(i.get_attribute("data-cluster")): i for i in items}
        assert set(shown) == set(sizes) and len(shown) == 4
        for cid, item in shown.items():
            assert f"({sizes[cid]})" in item.text and f"theme {cid}" in item.text
        assert "PCA of the decoder directions" in browser.find_element(By.ID, "maplegend").text
        points = browser.execute_script(
            "return [...Array(arguments[0]).keys()].map(i => SAE_DASHBOARD.pointOf(i))",
            len(atlas),
        )
        rect = browser.find_element(By.ID, "map").rect
        checked = 0
        for cid, item in shown.items():
            # the member point farthest from every other cluster's points: its pixel is this colour
            def clearance(i, cid=cid):
                p = points[i]
                return min(
                    ((p["x"] - q["x"]) ** 2 + (p["y"] - q["y"]) ** 2
                     for j, q in enumerate(points) if atlas[j]["cluster_id"] != cid),
                    default=1e9,
                )  # fmt: skip

            members = [i for i, r in enumerate(atlas) if r["cluster_id"] == cid]
            best = max(members, key=clearance)
            if clearance(best) < 8**2:
                continue  # every point of it overlaps another cluster's
            p = points[best]
            pixel = browser.execute_script(
                "const c = document.getElementById('map'), d = window.devicePixelRatio || 1;"
                "return Array.from(c.getContext('2d').getImageData(arguments[0] * d, arguments[1] * d, 1, 1).data)",
                p["x"] - rect["x"],
                p["y"] - rect["y"],
            )
            swatch = _rgb(
                item.find_element(By.CSS_SELECTOR, ".sw").value_of_css_property("background-color")
            )
            checked += 1
            assert all(abs(a - b) <= 3 for a, b in zip(pixel[:3], swatch, strict=True)), (
                cid,
                pixel,
                swatch,
            )
        assert checked >= 2, checked
        # axes: ticks and titles drawn on the canvas (the PCA map is titled PC 1 / PC 2)
        drawn = browser.execute_script(
            "const c = document.getElementById('map'), d = window.devicePixelRatio || 1, ctx = c.getContext('2d');"
            "const col = ctx.getImageData(0, 0, 40 * d, c.height).data, row = ctx.getImageData(0, c.height - 30 * d, c.width, 30 * d).data;"
            "const ink = (a) => { let n = 0; for (let i = 3; i < a.length; i += 4) if (a[i] > 0) n++; return n; };"
            "return [ink(col), ink(row)]"
        )
        assert drawn[0] > 200 and drawn[1] > 200, drawn  # tick labels + axis titles, both axes

        # feature card: histogram y-axis and codon separators
        fid = max(range(len(atlas)), key=lambda f: atlas[f]["activation_freq"])
        browser.find_element(By.ID, "search").send_keys(str(fid))
        browser.find_element(By.CSS_SELECTOR, ".latent-row").click()
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.ID, "card").get_attribute("data-loaded") == "1"
        )
        hist = browser.find_element(By.ID, "histogram")
        ticks = [
            int(t.get_attribute("data-value"))
            for t in hist.find_elements(By.CSS_SELECTOR, ".y-axis .tick")
        ]
        assert ticks[0] == 0 and len(ticks) >= 2 and ticks == sorted(ticks), ticks
        assert hist.find_element(By.CSS_SELECTOR, ".y-title").text == "tokens"
        assert "activation" in hist.find_element(By.CSS_SELECTOR, ".x-title").text
        bars = hist.find_elements(By.CSS_SELECTOR, "rect")
        tallest = max(float(b.get_attribute("height")) for b in bars)
        assert tallest == pytest.approx(90) and ticks[-1] <= max(
            int(
                b.find_element(By.TAG_NAME, "title")
                .get_attribute("textContent")
                .rsplit(": ", 1)[1]
                .split()[0]
            )
            for b in bars
        )
        seq = browser.find_element(By.CSS_SELECTOR, ".example .seq")
        assert "sep" in seq.get_attribute("class").split()
        toks = seq.find_elements(By.CSS_SELECTOR, ".tok")
        assert all(len(t.text) == 3 for t in toks)
        assert toks[1].value_of_css_property("border-left-style") == "solid"
        gap = toks[1].rect["x"] - (toks[0].rect["x"] + toks[0].rect["width"])
        assert toks[1].rect["x"] > toks[0].rect["x"] and gap >= -0.5
        assert int(toks[1].value_of_css_property("padding-left").rstrip("px")) >= 2
        _shot(browser, "dashboard_codon_card.png", tmp_path)
    finally:
        _stop(proc)


def test_residue_sequences_stay_unseparated(sites, browser, tmp_path):
    proc, url = _serve(sites["protein"])
    try:
        _open(browser, url)
        browser.find_element(By.CSS_SELECTOR, ".latent-row").click()
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.ID, "card").get_attribute("data-loaded") == "1"
        )
        seqs = browser.find_elements(By.CSS_SELECTOR, ".example .seq")
        assert seqs and all("sep" not in s.get_attribute("class").split() for s in seqs)
        _shot(browser, "dashboard_protein_card.png", tmp_path)
    finally:
        _stop(proc)
