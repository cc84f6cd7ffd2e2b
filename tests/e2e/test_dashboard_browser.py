"""The dashboard in a real browser (Playwright + Debian Chromium) against `streamlit run`."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_dashboard_fixture import CLASSES, make_run

from epam_core.analysis import confusion
from epam_core.runs.format import read_run

pytestmark = pytest.mark.browser
PAGES = [
    "overview",
    "confusion",
    "sample",
    "statistics",
    "slices",
    "calibration",
    "embeddings",
    "robustness",
    "attention",
    "export",
]
URLS = {"overview": "", "slices": "slices?run=slices_ntu"}  # the default page lives at the root URL


def wait_for_app_run(page: Page, timeout: int = 180_000) -> None:
    """Until the script has finished its rerun (Streamlit's own e2e helper, as in the dashboard notes).

    The generous timeout is for a page's first run on a busy 2-core machine (imports torch and Captum, loads
    the model, decodes the clip): once seen taking over a minute while a training job shared the cores.
    """
    page.wait_for_timeout(300)
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


def save_screenshot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside the app, so the viewport is made as tall as the content."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 900), 6000)})
    page.wait_for_timeout(1500)  # let plotly redraw at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    wait_for_app_run(page)


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_exception(page: Page, server: str, screenshots: Path | None, name: str) -> None:
    open_page(page, f"{server}/{URLS.get(name, name)}")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect(page.locator("h1").first).to_have_text(name.capitalize())
    if screenshots is not None:
        save_screenshot(page, screenshots / f"{name}.png")


def test_noise_slider_changes_scores(page: Page, server: str) -> None:
    open_page(page, f"{server}/robustness")
    deltas = page.get_by_test_id("stMetricDelta")
    before = deltas.all_inner_texts()
    page.get_by_test_id("stSelectbox").filter(has_text="Noise type").click()
    page.get_by_role("option", name="joint_dropout", exact=True).click()
    wait_for_app_run(page)
    slider = page.get_by_test_id("stSlider").filter(has_text="Level").get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")
    wait_for_app_run(page)
    expect(page.locator(".gtitle").filter(has_text="joint_dropout = 1")).to_have_count(1)
    assert deltas.all_inner_texts() != before


def test_click_confusion_cell_lists_its_samples(page: Page, server: str, runs_dir: Path) -> None:
    run = read_run(runs_dir / "run")
    preds = run.logits("fused").argmax(1)
    k = len(CLASSES)
    true_id, pred_id = next(
        (t, p) for t in range(k) for p in range(k) if t != p and ((run.labels == t) & (preds == p)).any()
    )
    members = confusion.cell_samples(run.sample_ids, run.labels, preds, true_id, pred_id)
    open_page(page, f"{server}/confusion")
    page.locator(".js-plotly-plot").first.wait_for()
    # WebGL markers have no DOM nodes: click where plotly.js's own axes put the cell (x = predicted, y =
    # true position in the shown order, which is the class index for 5 classes)
    x, y = page.evaluate(
        """([x, y]) => {
            const gd = document.querySelector('.js-plotly-plot'), L = gd._fullLayout;
            const box = gd.getBoundingClientRect();
            return [box.left + L._size.l + L.xaxis.d2p(x), box.top + L._size.t + L.yaxis.d2p(y)];
        }""",
        [pred_id, true_id],
    )
    page.mouse.click(x, y)
    wait_for_app_run(page)
    text = f"{len(members)} samples of {CLASSES[true_id]} predicted as {CLASSES[pred_id]}"
    expect(page.get_by_text(re.compile(re.escape(text)))).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").last
    for sample_id in members:
        expect(grid).to_contain_text(sample_id)


def test_pdf_download_is_a_pdf(page: Page, server: str, tmp_path: Path) -> None:
    open_page(page, f"{server}/export")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="PDF").first.click()
    path = tmp_path / "figure.pdf"
    info.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF-")
    assert info.value.suggested_filename.endswith("_accuracy.pdf")


def test_slices_page_lists_a_slice(page: Page, server: str, runs_dir: Path) -> None:
    open_page(page, f"{server}/slices?run=slices_ntu")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".js-plotly-plot .gtitle").filter(has_text="by setup and class")).to_have_count(1)
    listed = page.get_by_test_id("stMarkdown").filter(has_text="samples with setup = 1")
    expect(listed).to_have_count(1)


def _computed(log: Path) -> list[str]:
    """The server's log lines of the run summary being computed (``analysis_cache._run_summary``)."""
    return [line for line in log.read_text().splitlines() if "accuracies of" in line]


def _wait_for_line(log: Path, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_first_session_gets_the_warmed_overview(page: Page, start_own_server, tmp_path: Path) -> None:
    """Once the warm-up is done, the first session's Overview computes nothing: the one summary was computed
    by the warm-up thread."""
    runs = tmp_path / "runs"
    make_run(runs)
    url, log = start_own_server(runs)
    _wait_for_line(log, "warm-up done")
    open_page(page, url)
    expect(page.get_by_text("Fusion weight", exact=True)).to_be_visible()
    computed = _computed(log)
    assert len(computed) == 1 and "[epam-warm-up]" in computed[0], log.read_text()
    assert "Traceback" not in log.read_text()


def test_session_arriving_mid_warm_up_waits_for_it(page: Page, start_own_server, tmp_path: Path) -> None:
    """A session opened as soon as the server answers (the warm-up still importing or computing) draws the
    Overview and the summary is computed once in all, whichever thread got there first."""
    runs = tmp_path / "runs"
    make_run(runs)
    url, log = start_own_server(runs)
    open_page(page, url)
    expect(page.get_by_text("Fusion weight", exact=True)).to_be_visible()
    _wait_for_line(log, "warm-up done")
    assert len(_computed(log)) == 1, log.read_text()
    assert "Traceback" not in log.read_text()
