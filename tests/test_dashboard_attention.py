"""AppTest of the Attention page and the attention additions to the Sample, Robustness and Export pages,
against the fixture run with a constructed ``attention_measures.parquet``; values checked against epam_core."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from test_dashboard_fixture import make_run
from test_dashboard_pages import app, metric, plotly_specs, values

from epam_core.analysis import attention_measures as am
from epam_core.runs.attention_measures_file import (
    ATTENTION_MEASURES,
    measures_frame,
    write_attention_measures,
)
from epam_core.runs.format import read_run


def constructed_measures(run_dir: Path, seed: int = 0) -> None:
    """Measures with known values: the uniform variant is the RGB logits with noise, none is all zeros."""
    run = read_run(run_dir)
    rng = np.random.default_rng(seed)
    rows = []
    for i, sample_id in enumerate(run.sample_ids):
        chance = rng.uniform(0.01, 0.08, len(am.PARTS))
        mass = chance * rng.uniform(0.5, 3.0, len(am.PARTS))
        row = {"sample_id": sample_id, "on_body": mass.sum(), "on_body_chance": chance.sum()}
        for p, part in enumerate(am.PARTS):
            row[f"{part}_mass"], row[f"{part}_chance"] = mass[p], chance[p]
        row["temporal_motion_corr"] = rng.uniform(-1, 1) if i % 7 else np.nan
        row["motion"] = rng.random(8)
        row["rgb_uniform_logits"] = run.logits("rgb")[i] + rng.normal(0, 1.0, run.num_classes)
        row["rgb_none_logits"] = np.zeros(run.num_classes)
        rows.append(row)
    write_attention_measures(run_dir, measures_frame(rows))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("att_runs")
    make_run(root)
    constructed_measures(root / "run")
    return root


@pytest.fixture(autouse=True)
def isolated(runs, monkeypatch):
    monkeypatch.setenv("EPAM_RUNS_DIR", str(runs))
    st.cache_data.clear()
    st.cache_resource.clear()


def test_attention_page_shows_the_run_and_class_aggregates(runs):
    run = read_run(runs / "run")
    frame = pd.read_parquet(runs / "run" / ATTENTION_MEASURES)
    section = am.attention_section(frame, run.labels, run.logits("rgb"))
    at = app("attention", sample_id="S003")
    assert not at.error
    assert metric(at, "attention on the body") == f"{section['on_body'] * 100:.1f} %"
    assert metric(at, "RGB top-1 with the attention") == f"{section['rgb_top1']['model'] * 100:.1f} %"
    assert metric(at, "RGB top-1, uniform attention") == f"{section['rgb_top1']['uniform'] * 100:.1f} %"
    assert metric(at, "RGB top-1, no attention") == f"{section['rgb_top1']['none'] * 100:.1f} %"
    assert metric(at, "temporal vs motion (mean r)") == f"{section['temporal_motion_corr']:+.2f}"
    heatmap = next(s for s in plotly_specs(at) if "per class and body part" in s["layout"]["title"]["text"])
    expected = am.class_part_table(frame, run.labels, run.class_names)
    log_ratio = np.log2(expected[[f"{r}_ratio" for r in ("body", *am.PARTS)]].to_numpy())
    np.testing.assert_allclose(values(heatmap["data"][0]["z"]).reshape(log_ratio.shape), log_ratio, rtol=1e-9)
    gain = next(d.value for d in at.dataframe if "gain_vs_none" in d.value.columns)
    table = am.attention_gain_table(am.variant_logits(frame, run.logits("rgb")), run.labels, run.class_names)
    np.testing.assert_allclose(gain["gain_vs_uniform"], table["gain_vs_uniform"])
    motion = next(
        s for s in plotly_specs(at) if "Temporal attention and motion" in s["layout"]["title"]["text"]
    )
    np.testing.assert_allclose(values(motion["data"][1]["y"]), frame["motion"][3], rtol=1e-6)
    # 2 figures x 3 formats, 3 tables x (CSV, LaTeX)
    assert len(at.get("download_button")) == 2 * 3 + 3 * 2
    at.button(key="att_open").click().run()
    assert at.session_state["sample_id"] == "S003"


def test_attention_page_without_measures_says_how_to_get_them(runs):
    bare = runs.parent / f"{runs.name}-bare"
    if not bare.exists():
        shutil.copytree(runs / "run", bare)
        (bare / ATTENTION_MEASURES).unlink()
    at = app("attention", custom_run=str(bare))
    assert any(f"epam attention --run {bare}" in i.value for i in at.info)


def test_a_stale_measures_file_is_named_and_the_sample_page_still_works(runs):
    stale = runs.parent / f"{runs.name}-stale"
    if not stale.exists():
        shutil.copytree(runs / "run", stale)
        frame = pd.read_parquet(stale / ATTENTION_MEASURES)
        frame.iloc[1:].to_parquet(stale / ATTENTION_MEASURES, index=False)
    at = app("attention", custom_run=str(stale))
    assert any(ATTENTION_MEASURES in e.value and "other samples" in e.value for e in at.error)
    at = app("sample", custom_run=str(stale), sample_id="S001")
    assert any(ATTENTION_MEASURES in w.value for w in at.warning)
    assert metric(at, "true class")  # the rest of the page is there


def test_sample_page_shows_the_three_rgb_score_bars(runs):
    run = read_run(runs / "run")
    frame = pd.read_parquet(runs / "run" / ATTENTION_MEASURES)
    at = app("sample", sample_id="S001")
    spec = next(
        s for s in plotly_specs(at) if "with and without the attention" in s["layout"]["title"]["text"]
    )
    i = 1
    logits = {
        "model": run.logits("rgb")[i],
        "uniform": frame["rgb_uniform_logits"][i],
        "none": frame["rgb_none_logits"][i],
    }
    expected = am.variant_scores(logits, run.class_names, 5)
    assert [trace["name"] for trace in spec["data"]] == [am.VARIANT_LABELS[v] for v in am.VARIANTS]
    for trace, variant in zip(spec["data"], am.VARIANTS, strict=True):
        np.testing.assert_allclose(values(trace["x"]), expected[variant][::-1], rtol=1e-6)
        assert list(trace["y"]) == expected["class"][::-1].tolist()


def test_robustness_page_says_how_far_the_attention_moved(runs):
    at = app("robustness", sample_id="S000")
    assert not at.error
    assert metric(at, "attention moved (TV distance)") == "0.000"  # level 0: the clean pass itself
    assert metric(at, "centre of attention moved") == "0.00 cells"
    at.selectbox(key="noise_type").set_value("joint_dropout").run()
    at.slider(key="noise_level").set_value(0.9).run()
    assert float(metric(at, "attention moved (TV distance)")) > 0.0
    clean_to_noisy = metric(at, "on the (clean) body: clean → noisy")
    assert clean_to_noisy.endswith(" %") and "→" in clean_to_noisy


def test_export_page_offers_the_attention_figures_and_tables(runs):
    at = app("export")
    names = [m.value for m in at.markdown]
    assert any("attention_parts" in n for n in names) and any("attention_gain" in n for n in names)
    # the fixture run's export (tests/test_dashboard_pages.py) plus 2 attention figures x 3 formats and
    # 3 attention tables x (CSV, LaTeX)
    figures_per_run = 3 + 3 + 2 + 1 + 2
    tables_per_run = 3 + 4 + 3
    assert len(at.get("download_button")) == figures_per_run * 3 + tables_per_run * 2
