"""Screenshot one feature card of a dashboard in headless Chromium (the README's pictures).

    python scripts/screenshot_dashboard.py WORK/dashboard FEATURE OUT.png [--size 1400x860]

Needs Debian's chromium + chromium-driver and selenium (scripts/setup.sh installs them for the
tests). The dashboard is served on a free local port for the shot and stopped after it.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dashboard", type=Path, help="the dashboard folder analyze.py wrote")
    p.add_argument("feature", type=int, help="the latent whose card to show")
    p.add_argument("out", type=Path, help="PNG to write")
    p.add_argument("--size", default="1400x860", help="window WIDTHxHEIGHT (default 1400x860)")
    args = p.parse_args(argv)
    if not (args.dashboard / "index.html").is_file():
        print(f"error: {args.dashboard}: no index.html (run analyze.py first)", file=sys.stderr)
        return 2
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size {args.size!r}: expected WIDTHxHEIGHT, e.g. 1400x860", file=sys.stderr)
        return 2
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        print("error: chromium and chromedriver are needed (apt-get install chromium "
              "chromium-driver)", file=sys.stderr)  # fmt: skip
        return 2
    from sae import launch_dashboard
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = launch_dashboard(args.dashboard, port=port)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service(driver_bin))
    try:
        driver.get(f"http://127.0.0.1:{port}/#{args.feature}")
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "card").get_attribute("data-loaded") == "1"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.out))
        badge = driver.find_element(By.ID, "best-label").text
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        server.terminate()
        server.wait(10)
    print(f"wrote {args.out} (feature {args.feature}; {badge})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
