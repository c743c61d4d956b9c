"""The dashboard of a real `recipegen demo` run, driven in headless Chromium (Selenium).

Skips where Debian's chromium + chromium-driver (or selenium) are not installed; `.ci/run`
installs them (scripts/test.sh). Set DASHBOARD_SCREENSHOT=path to keep the feature-card shot.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
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
pytest.importorskip("torch")
pytest.importorskip("transformers")
pq = pytest.importorskip("pyarrow.parquet")

from sae import launch_dashboard  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900",
)  # fmt: skip


def read_fasta(path: Path) -> list[str]:
    seqs, parts = [], []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            if parts:
                seqs.append("".join(parts))
            parts = []
        elif line.strip():
            parts.append(line.strip())
    return seqs + (["".join(parts)] if parts else [])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", "demo", "--workdir", str(work), "--keep"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    dashboard = work / "work" / "dashboard"
    assert f"dashboard        : {dashboard / 'index.html'}" in proc.stdout
    assert f"-m sae.dashboard {dashboard}" in proc.stdout  # the one command that serves it
    return work


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


@pytest.fixture(scope="module")
def served(demo):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = launch_dashboard(demo / "work" / "dashboard", port=port)
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(10)


def wait_ready(driver):
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )


def wait_card(driver, fid: int):
    def loaded(d):
        card = d.find_element(By.ID, "card")
        return (
            card.get_attribute("data-feature") == str(fid)
            and card.get_attribute("data-loaded") == "1"
        )

    WebDriverWait(driver, 30).until(loaded)


def test_search_open_card_and_check_highlights_against_the_atlas(demo, browser, served):
    analysis = demo / "work" / "analysis"
    atlas = pq.read_table(analysis / "features_atlas.parquet").to_pylist()
    examples = pq.read_table(analysis / "feature_examples.parquet").to_pylist()
    sequences = read_fasta(demo / "standin" / "input.fasta")  # the demo's bundled input
    # the latent with the most examples, then the highest frequency
    count = {}
    for r in examples:
        count[r["feature_id"]] = count.get(r["feature_id"], 0) + 1
    fid = max(count, key=lambda f: (count[f], atlas[f]["activation_freq"]))
    mine = sorted((r for r in examples if r["feature_id"] == fid), key=lambda r: r["example_rank"])

    browser.get(served)
    wait_ready(browser)
    box = browser.find_element(By.ID, "search")
    box.send_keys(str(fid))
    rows = browser.find_elements(By.CSS_SELECTOR, ".latent-row")
    assert [r.get_attribute("data-id") for r in rows] == [str(fid)]
    rows[0].click()
    wait_card(browser, fid)
    card = browser.find_element(By.ID, "card")
    if atlas[fid]["best_label"]:
        assert atlas[fid]["best_label"] in card.find_element(By.ID, "best-label").text
    assert card.find_elements(By.CSS_SELECTOR, "#histogram rect")
    shown = card.find_elements(By.CSS_SELECTOR, ".example")
    assert len(shown) == len(mine) > 0
    for el, row in zip(shown, mine, strict=True):
        assert el.get_attribute("data-seq") == str(row["text_idx"])
        toks = el.find_elements(By.CSS_SELECTOR, ".tok")
        tokens = json.loads(row["tokens_json"])
        assert [t.text for t in toks] == [t["token"] for t in tokens]
        # every highlighted position is one where the atlas says the latent fires, and vice versa
        on = [
            int(t.get_attribute("data-pos"))
            for t in toks
            if "on" in t.get_attribute("class").split()
        ]
        want = [row["window_start"] + j for j, t in enumerate(tokens) if t["activation"] > 0]
        assert on == want and row["position"] in on
        peak = el.find_element(By.CSS_SELECTOR, ".tok.peak")
        assert int(peak.get_attribute("data-pos")) == row["position"]
        # positions map back to the input sequence (residues)
        seq = sequences[row["text_idx"]]
        assert peak.text == seq[row["position"]]
        assert (
            "".join(t.text for t in toks)
            == seq[row["window_start"] : row["window_start"] + len(toks)]
        )
    shot = Path(os.environ.get("DASHBOARD_SCREENSHOT") or demo / "feature_card.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    # nothing was fetched from anywhere but the dashboard's own server
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert urls and all(u.startswith(served) for u in urls), urls


def test_sort_by_probing_score_and_click_on_the_map(demo, browser, served):
    atlas = pq.read_table(demo / "work" / "analysis" / "features_atlas.parquet").to_pylist()
    browser.get(served)
    wait_ready(browser)
    Select(browser.find_element(By.ID, "sort")).select_by_value("score")
    first = browser.find_element(By.CSS_SELECTOR, ".latent-row")
    best = max(atlas, key=lambda r: (r["best_label_f1"], -r["feature_id"]))
    assert first.get_attribute("data-id") == str(best["feature_id"])

    # the most isolated point on the map, so a click on it cannot hit a neighbour
    def gap(r):
        return min((r["x"] - o["x"]) ** 2 + (r["y"] - o["y"]) ** 2 for o in atlas if o is not r)

    target = max(atlas, key=gap)["feature_id"]
    point = browser.execute_script(f"return SAE_DASHBOARD.pointOf({target})")
    canvas = browser.find_element(By.ID, "map")
    rect = canvas.rect
    ActionChains(browser).move_to_element_with_offset(
        canvas,
        int(point["x"] - rect["x"] - rect["width"] / 2),
        int(point["y"] - rect["y"] - rect["height"] / 2),
    ).click().perform()
    wait_card(browser, target)


def test_the_page_also_works_opened_from_disk(demo, browser):
    browser.get((demo / "work" / "dashboard" / "index.html").as_uri())
    wait_ready(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".latent-row")) > 10
