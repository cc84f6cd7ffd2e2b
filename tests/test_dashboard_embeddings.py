"""AppTest of the Embeddings page on the fixture run with embeddings added (values checked against
epam_core.analysis), and the message for a run without embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_dashboard_fixture import CLASSES, NUM_SAMPLES, make_run
from test_dashboard_pages import app, plotly_specs, values

from dashboard import embeddings_cache
from epam_core.analysis.embedding_map import (
    cached_maps,
    colour_groups,
    drawn_rows,
    load_or_compute_maps,
    rows_in_selection,
)
from epam_core.analysis.embeddings import Embeddings, nearest_neighbours, predicted_classes, write_embeddings
from epam_core.runs.format import read_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """The fixture run with clustered embeddings (by true class) and its PCA map; a copy without embeddings."""
    root = tmp_path_factory.mktemp("runs")
    run = read_run(make_run(root))
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(CLASSES), 144 + 72)) * 3
    feats = (centres[run.labels] + rng.normal(size=(NUM_SAMPLES, 216))).astype(np.float16)
    write_embeddings(run.path, Embeddings(run.sample_ids, feats[:, :144], feats[:, 144:]))
    load_or_compute_maps(run, "pca")
    make_run(root / "bare")
    return root


@pytest.fixture(autouse=True)
def isolated(runs, monkeypatch):
    monkeypatch.setenv("EPAM_RUNS_DIR", str(runs))
    st.cache_data.clear()
    st.cache_resource.clear()


def embeddings_page(**state) -> AppTest:
    return app("embeddings", timeout=300, **state)


def scatter(at: AppTest) -> dict:
    return plotly_specs(at)[0]


def test_map_selection_listing_and_neighbours(runs):
    run = read_run(runs / "run")
    maps = cached_maps(run, "pca")
    at = embeddings_page(emb_method="pca")
    assert not at.error
    spec = scatter(at)
    assert all(t["type"] == "scattergl" for t in spec["data"])
    codes, groups = colour_groups("true class", run.labels, predicted_classes(run), CLASSES)
    assert [t["name"] for t in spec["data"]] == [
        f"{g} ({(codes == i).sum()})" for i, g in enumerate(groups[:5])
    ]
    first = spec["data"][0]
    assert first["text"][0].startswith(f"<b>{run.sample_ids[0]}</b><br>true {CLASSES[run.labels[0]]}")
    at.toggle(key="emb_hover").set_value(False).run()
    brief = scatter(at)["data"][0]
    assert brief["text"][0] == run.sample_ids[0] and "fullData.name" in brief["hovertemplate"]
    at.toggle(key="emb_hover").set_value(True).run()
    # colour by RGB right/wrong: two groups with the right counts
    at.selectbox(key="emb_colour").set_value("right / wrong").run()
    at.selectbox(key="emb_stream").set_value("rgb").run()
    right = int((predicted_classes(run)["rgb"] == run.labels).sum())
    assert [t["name"] for t in scatter(at)["data"]] == [f"right ({right})", f"wrong ({NUM_SAMPLES - right})"]
    # a box over part of the RGB map lists exactly the clips inside it
    xy = maps.xy["rgb"]
    x0, x1 = np.quantile(xy[:, 0], [0.1, 0.6])
    y0, y1 = np.quantile(xy[:, 1], [0.0, 0.8])
    at.session_state["emb_selection"] = {"box": [{"x": [x0, x1], "y": [y0, y1]}], "map": ("pca", "rgb")}
    at.run()
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    expected = run.sample_ids[inside]
    assert 0 < len(expected) < NUM_SAMPLES
    listing = next(
        d.value for d in at.dataframe if "fused prediction" in d.value.columns and "cosine" not in d.value
    )
    assert listing["sample_id"].tolist() == expected.tolist()
    assert listing["true"].tolist() == [CLASSES[label] for label in run.labels[inside]]
    assert any(f"**{inside.sum():,} clips**" in m.value for m in at.markdown)
    # the nearest neighbours of the first selected clip, per space, as numpy finds them
    emb_ids = run.sample_ids
    nn_tables = [d.value for d in at.dataframe if "cosine" in d.value.columns]
    assert at.text_input(key="emb_nn_id").value == expected[0]
    from epam_core.analysis.embeddings import read_embeddings

    emb = read_embeddings(run)
    for table, space in zip(nn_tables, ("rgb", "pose", "concat"), strict=True):
        rows, sim = nearest_neighbours(emb, space, emb.index_of(expected[0]), 10)
        assert table["sample_id"].tolist() == emb_ids[rows].tolist()
        np.testing.assert_allclose(table["cosine"].to_numpy(), sim, atol=1e-6)
    # a selection made on another map does not apply here
    at.selectbox(key="emb_space").set_value("pose").run()
    assert not any("clips** selected" in m.value for m in at.markdown)
    at.selectbox(key="emb_space").set_value("rgb").run()
    at.button(key="emb_open").click().run()
    assert at.session_state["sample_id"] == expected[0]


def test_lasso_selection_matches_the_library(runs):
    run = read_run(runs / "run")
    xy = cached_maps(run, "pca").xy["concat"]
    lo, hi = xy.min(0), xy.max(0)
    lasso = {"x": [lo[0], hi[0], lo[0]], "y": [lo[1], lo[1], hi[1]]}  # the lower-left half of the map
    at = embeddings_page(emb_method="pca", emb_space="concat")
    at.session_state["emb_selection"] = {"lasso": [lasso], "map": ("pca", "concat")}
    at.run()
    expected = run.sample_ids[rows_in_selection(xy, {"lasso": [lasso]})]
    assert 0 < len(expected) < NUM_SAMPLES
    listing = next(d.value for d in at.dataframe if "fused prediction" in d.value.columns)
    assert listing["sample_id"].tolist() == expected.tolist()


def test_above_the_limit_a_sample_is_drawn_and_a_box_selects_undrawn_clips_too(runs, monkeypatch):
    monkeypatch.setattr(embeddings_cache, "DRAW_MAX", 10)  # the 30-clip run as if it were a large one
    monkeypatch.setattr(embeddings_cache, "DRAW_CHOICES", (10, 20, 50))
    run = read_run(runs / "run")
    xy = cached_maps(run, "pca").xy["rgb"]
    at = embeddings_page(emb_method="pca")
    assert [str(o) for o in at.selectbox(key="emb_draw").options] == ["10", "20", "all 30"]
    codes, groups = colour_groups("true class", run.labels, predicted_classes(run), CLASSES)
    expected = drawn_rows(codes, 10)
    assert len(expected) == 10 and set(codes[expected]) == set(codes)
    traces = scatter(at)["data"]
    rows = np.concatenate([values(t["customdata"]) for t in traces])  # the points' rows in the run
    np.testing.assert_array_equal(np.sort(rows), expected)
    np.testing.assert_allclose(np.concatenate([values(t["x"]) for t in traces]), xy[rows, 0], atol=1e-5)
    assert traces[0]["text"][0].startswith(f"<b>{run.sample_ids[rows[0]]}</b><br>true")
    assert [t["name"] for t in traces] == [f"{g} ({(codes == i).sum()})" for i, g in enumerate(groups[:5])]
    assert any("**10 of 30 clips**" in c.value for c in at.caption)
    # a box over most of the map lists every clip inside, the undrawn ones too
    x0, x1 = np.quantile(xy[:, 0], [0.05, 0.95])
    at.session_state["emb_selection"] = {"box": [{"x": [x0, x1], "y": [-1e9, 1e9]}], "map": ("pca", "rgb")}
    at.run()
    inside = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1))
    assert len(np.setdiff1d(inside, expected)) > 10
    listing = next(
        d.value for d in at.dataframe if "fused prediction" in d.value.columns and "cosine" not in d.value
    )
    assert listing["sample_id"].tolist() == run.sample_ids[inside].tolist()
    # another colouring, another stratified sample of the same size; "all" draws every clip
    at.selectbox(key="emb_colour").set_value("right / wrong").run()
    rw, _ = colour_groups("right / wrong", run.labels, predicted_classes(run), CLASSES)
    shown = np.concatenate([values(t["customdata"]) for t in scatter(at)["data"]])
    np.testing.assert_array_equal(np.sort(shown), drawn_rows(rw, 10))
    at.selectbox(key="emb_draw").set_value("all").run()
    shown = np.concatenate([values(t["customdata"]) for t in scatter(at)["data"]])
    assert sorted(shown.tolist()) == list(range(NUM_SAMPLES))
    assert not any("of 30 clips" in c.value for c in at.caption)


def test_small_runs_draw_every_clip_without_a_choice(runs):
    at = embeddings_page(emb_method="pca")
    assert not any(s.key == "emb_draw" for s in at.selectbox)
    assert sum(len(values(t["customdata"])) for t in scatter(at)["data"]) == NUM_SAMPLES


def test_uncomputed_map_is_computed_once_on_demand(runs):
    run = read_run(runs / "run")
    assert cached_maps(run, "tsne") is None
    at = embeddings_page(emb_method="tsne")
    assert any("not computed yet" in i.value for i in at.info)
    assert not at.get("plotly_chart") and at.get("button")
    at.button(key="emb_compute").click().run()
    assert not at.exception
    maps = cached_maps(run, "tsne")  # now cached in the run
    assert maps is not None
    shown = scatter(at)["data"]
    rows = np.concatenate([values(t["customdata"]) for t in shown])
    xs = np.concatenate([values(t["x"]) for t in shown])
    np.testing.assert_allclose(xs, maps.xy["rgb"][rows, 0], atol=1e-5)
    assert sorted(rows.tolist()) == list(range(NUM_SAMPLES))
    assert not embeddings_page(emb_method="tsne").get("button")  # reopened: read from the cache


def test_run_without_embeddings_says_so(runs):
    at = embeddings_page(custom_run=str(runs / "bare" / "run"))
    assert any("no clip embeddings" in i.value and "--embeddings" in i.value for i in at.info)
    assert not at.get("plotly_chart")
