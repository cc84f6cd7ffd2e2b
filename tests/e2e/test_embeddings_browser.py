"""The Embeddings page in a real browser: a box dragged on the WebGL map lists exactly the clips inside it."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import start_server
from playwright.sync_api import Page, expect
from test_dashboard_browser import wait_for_app_run
from test_dashboard_fixture import CLASSES, NUM_SAMPLES, make_run

from epam_core.analysis.embedding_map import cached_maps, load_or_compute_maps
from epam_core.analysis.embeddings import Embeddings, write_embeddings
from epam_core.runs.format import read_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def embeddings_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("emb-runs")
    run = read_run(make_run(root))
    rng = np.random.default_rng(0)
    feats = (
        rng.normal(size=(len(CLASSES), 216))[run.labels] * 3 + rng.normal(size=(NUM_SAMPLES, 216))
    ).astype(np.float16)
    write_embeddings(run.path, Embeddings(run.sample_ids, feats[:, :144], feats[:, 144:]))
    load_or_compute_maps(run, "pca")
    proc, url, _ = start_server(root, tmp_path_factory.mktemp("logs") / "streamlit.log")
    try:
        yield url, run.path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_box_selection_lists_the_clips_inside(page: Page, embeddings_server: tuple[str, Path]) -> None:
    url, run_path = embeddings_server
    page.goto(f"{url}/embeddings")
    wait_for_app_run(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Projection").click()
    page.get_by_role("option", name="PCA", exact=True).click()
    wait_for_app_run(page)
    plot = page.locator(".js-plotly-plot").first
    expect(plot).to_be_visible()
    plot.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').click()
    drag = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x0, y0 = drag["x"] + 0.15 * drag["width"], drag["y"] + 0.2 * drag["height"]
    x1, y1 = drag["x"] + 0.7 * drag["width"], drag["y"] + 0.85 * drag["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    wait_for_app_run(page)
    # the box in data coordinates, as plotly.js converts the pixels
    box = plot.evaluate(
        """(gd, px) => {
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.querySelector('.nsewdrag')
                .getBoundingClientRect();
            return [xa.p2d(px[0] - r.left), xa.p2d(px[2] - r.left), ya.p2d(px[1] - r.top), ya.p2d(px[3] - r.top)];
        }""",
        [x0, y0, x1, y1],
    )
    xy = cached_maps(read_run(run_path), "pca").xy["rgb"]
    (bx0, bx1), (by0, by1) = sorted(box[:2]), sorted(box[2:])
    inside = (xy[:, 0] >= bx0) & (xy[:, 0] <= bx1) & (xy[:, 1] >= by0) & (xy[:, 1] <= by1)
    assert 0 < inside.sum() < NUM_SAMPLES
    expect(page.get_by_text(re.compile(rf"^{inside.sum()} clips selected"))).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").first
    for sample_id in read_run(run_path).sample_ids[inside][:7]:  # the rows the grid draws without scrolling
        expect(grid).to_contain_text(sample_id)
    page.get_by_role("button", name=re.compile("on the Sample page")).click()
    wait_for_app_run(page)
    expect(page.locator("h1").first).to_have_text("Sample")
