"""Measure the dashboard's cold start and one robustness-slider step in a real browser, and optionally save a
screenshot of every page. Not a test; run it by hand and copy the numbers into benchmarks/RESULTS.md:

    .venv/bin/python tests/e2e/measure_latency.py [--runs checkpoints/runs] [--screenshots docs/screenshots]

cold start = `streamlit run` launched -> health check ok -> Overview fully rendered in Chromium (cold caches).
slider step = ArrowRight on the noise-level slider -> the rerun has finished (fragment rerun, new noise level).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from conftest import ARGS, CHROMIUM, start_server  # noqa: E402 - after the sys.path line
from test_dashboard_browser import PAGES, URLS, save_screenshot, wait_for_app_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=REPO / "checkpoints" / "runs")
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=5, help="slider steps to time")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    start = time.perf_counter()
    proc, url, healthy = start_server(args.runs.resolve(), log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            wait_for_app_run(page, timeout=300_000)
            cold = time.perf_counter() - start
            page.goto(f"{url}/robustness")
            wait_for_app_run(page, timeout=300_000)
            first_sample = time.perf_counter() - start - cold
            slider = page.get_by_test_id("stSlider").filter(has_text="Level").get_by_role("slider")
            steps = []
            for _ in range(args.steps):
                slider.focus()
                tic = time.perf_counter()
                page.keyboard.press("ArrowRight")
                wait_for_app_run(page)
                steps.append(time.perf_counter() - tic - 0.3)  # minus wait_for_app_run's fixed 0.3 s pause
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                save_screenshot(page, args.screenshots / "robustness.png")  # at the noise level reached
                for name in [p for p in PAGES if p != "robustness"]:
                    page.goto(f"{url}/{URLS.get(name, name)}")
                    wait_for_app_run(page, timeout=300_000)
                    save_screenshot(page, args.screenshots / f"{name}.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(json.dumps({
        "server_healthy_s": round(healthy, 2), "cold_start_s": round(cold, 2),
        "robustness_page_first_sample_s": round(first_sample, 2),
        "slider_step_s": {"median": round(statistics.median(steps), 3), "all": [round(s, 3) for s in steps]},
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
