"""AppTest for the Statistics, Slices and Calibration pages and the Overview's intervals: the values shown are
those of epam_core.analysis (the same functions `epam report` prints)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from test_dashboard_fixture import CLASSES, make_run
from test_dashboard_pages import app, metric, plotly_specs, values
from test_slices import make_ntu_run

from epam_core.analysis import calibration, label_errors, slices, statistics, tables
from epam_core.runs.format import read_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stat_runs")
    make_run(root)
    make_ntu_run(root / "ntu")
    return root


@pytest.fixture(autouse=True)
def isolated(runs, monkeypatch):
    monkeypatch.setenv("EPAM_RUNS_DIR", str(runs))
    st.cache_data.clear()
    st.cache_resource.clear()


def logits(run):
    return {s: run.logits(s) for s in ("rgb", "pose", "fused")}


def test_overview_shows_intervals_and_p_values(runs):
    run = read_run(runs / "run")
    at = app(_run_name="run")
    intervals = statistics.stream_intervals(logits(run), run.labels, run.num_classes).set_index("stream")
    captions = [c.value for c in at.caption]
    low, high = intervals.loc["pose", "top1_low"], intervals.loc["pose", "top1_high"]
    assert f"95 % CI {low * 100:.1f}–{high * 100:.1f} %" in captions
    right = {s: z.argmax(1) == run.labels for s, z in logits(run).items()}
    p = statistics.mcnemar_exact(right["fused"], right["rgb"]).p_value
    assert any(f"RGB: p = {p:.2g}" in c for c in captions)


def test_statistics_page_tables(runs):
    run = read_run(runs / "run")
    at = app("statistics", _run_name="run")
    assert not at.error
    intervals = statistics.stream_intervals(logits(run), run.labels, run.num_classes)
    shown = next(d.value for d in at.dataframe if "top5" in d.value.columns)
    assert shown["top1"].tolist() == tables.interval_table(intervals)["top1"].tolist()
    assert all(" ± " in cell for cell in shown["top1"])
    paired = next(d.value for d in at.dataframe if "only a right" in d.value.columns)
    right = {s: z.argmax(1) == run.labels for s, z in logits(run).items()}
    test = statistics.mcnemar_exact(right["fused"], right["pose"])
    row = paired[(paired["a"] == "Fused") & (paired["b"] == "Pose")].iloc[0]
    assert (row["only a right"], row["only b right"]) == (test.a_only, test.b_only)
    outcomes = label_errors.fusion_outcomes(run.sample_ids, run.labels, logits(run))
    rescues = (outcomes["outcome"] == "rescue").sum()
    assert any(h.value == f"Fusion rescues ({rescues})" for h in at.header)
    bars = next(s for s in plotly_specs(at) if "intervals" in s["layout"]["title"]["text"])
    assert values(bars["data"][2]["y"])[0] == pytest.approx(intervals["top1"].iloc[2] * 100)
    if rescues:
        at.button(key="rescues_open").click().run()
        assert at.session_state["sample_id"] == outcomes["sample_id"].iloc[0]


def test_statistics_page_compares_runs(runs):
    at = app("statistics", _run_name="ntu", _compare_name="run")
    assert any("has other classes" in w.value for w in at.warning)  # 6 vs 5 classes: not comparable


def test_likely_label_errors_listed_and_opened(tmp_path, monkeypatch):
    run_dir = make_ntu_run(tmp_path / "ntu", n=200)
    frame = pd.read_parquet(run_dir / "predictions.parquet")
    frame.loc[:4, "label"] = (frame.loc[:4, "fused_pred"] + 1) % 6  # 5 confident "mislabels"
    for stream in ("rgb", "pose", "fused"):
        frame.loc[:4, f"{stream}_logits"] = pd.Series(
            [np.eye(6, dtype=np.float32)[p] * (10 - i) for i, p in enumerate(frame.loc[:4, "fused_pred"])]
        )
        frame.loc[:4, f"{stream}_pred"] = frame.loc[:4, "fused_pred"]
    frame.to_parquet(run_dir / "predictions.parquet")
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    run = read_run(run_dir)
    expected = label_errors.likely_label_errors(run.sample_ids, run.labels, logits(run))
    assert expected["sample_id"].head(5).tolist() == run.sample_ids[:5].tolist()
    at = app("statistics")
    listed = next(d.value for d in at.dataframe if "min_prob" in d.value.columns)
    assert listed["sample_id"].tolist() == expected["sample_id"].tolist()
    at.button(key="errors_open").click().run()
    assert at.session_state["sample_id"] == run.sample_ids[0]


def test_slices_page_ntu_fields_heatmap_and_samples(runs):
    run = read_run(runs / "ntu")
    at = app("slices", _run_name="ntu")
    assert not at.error
    assert at.selectbox(key="_slice_field_widget").options == ["setup", "camera", "performer", "replication"]
    at.selectbox(key="_slice_field_widget").set_value("camera").run()
    meta = slices.run_metadata(run)
    expected = slices.slice_accuracy(meta["camera"], run.labels, slices.correct_by_stream(run))
    table = next(d.value for d in at.dataframe if "rgb_low" in d.value.columns)
    np.testing.assert_allclose(table["rgb"], expected["rgb"])
    assert table["n"].tolist() == expected["n"].tolist()
    heat = next(s for s in plotly_specs(at) if "by camera and class" in s["layout"]["title"]["text"])
    acc, _, _ = slices.slice_class_accuracy(
        meta["camera"], run.labels, slices.correct_by_stream(run)["fused"], 6
    )
    z = heat["data"][0]["z"]  # a typed array {"dtype", "bdata", "shape": "V, K"}
    shape = tuple(int(n) for n in str(z["shape"]).split(","))
    np.testing.assert_allclose(values(z).reshape(shape), acc * 100)
    at.session_state["slice_value"] = "2"
    at.run()
    members = (meta["camera"] == "2").to_numpy()
    assert any(f"**{members.sum()} samples** with camera = 2" in m.value for m in at.markdown)
    at.button(key="slice_open").click().run()
    assert at.session_state["sample_id"] == run.sample_ids[members][0]


def test_slices_page_upload(runs):
    at = app("slices", _run_name="run")
    assert any("No sample metadata" in i.value for i in at.info)
    ids = read_run(runs / "run").sample_ids
    csv = "sample_id,room\n" + "".join(f"{s},{'kitchen' if i < 10 else 'bath'}\n" for i, s in enumerate(ids))
    at.file_uploader(key="slice_upload").upload("rooms.csv", csv.encode(), "text/csv").run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "rgb_low" in d.value.columns)
    assert table["value"].tolist() == ["bath", "kitchen"] and table["n"].tolist() == [20, 10]
    at.file_uploader(key="slice_upload").upload("bad.csv", b"id,room\nx,y\n", "text/csv").run()
    assert any("bad.csv: has no sample_id column" in e.value for e in at.error)


def test_calibration_page_values(runs):
    run = read_run(runs / "run")
    at = app("calibration", _run_name="run")
    assert not at.error
    expected = calibration.stream_calibration(logits(run), run.labels, (1.0, 1.0)).set_index("stream")
    assert metric(at, "fused ECE") == f"{expected.loc['fused', 'ece']:.3f}"
    assert (
        metric(at, "fused top-1 with calibrated streams")
        == f"{expected.loc['fused_calibrated', 'top1'] * 100:.1f} %"
    )
    assert any("optimistic" in c.value for c in at.caption)
    shown = next(d.value for d in at.dataframe if "ece_calibrated" in d.value.columns).set_index("stream")
    np.testing.assert_allclose(shown.loc["rgb", "nll"], expected.loc["rgb", "nll"])
    at.selectbox(key="cal_stream").set_value("pose").run()
    spec = next(s for s in plotly_specs(at) if "Reliability" in s["layout"]["title"]["text"])
    conf, right = calibration.confidence_and_correct(run.logits("pose"), run.labels)
    bins = calibration.reliability(conf, right)
    np.testing.assert_allclose(values(spec["data"][1]["y"]), bins["accuracy"][bins["count"] > 0])
    at.toggle(key="cal_after").set_value(True).run()
    hist = next(s for s in plotly_specs(at) if "Confidence of" in s["layout"]["title"]["text"])
    assert "(scaled)" in hist["layout"]["title"]["text"]
    assert sum(values(hist["data"][0]["y"])) + sum(values(hist["data"][1]["y"])) == len(CLASSES) * 6


def test_pages_on_a_label_free_run(tmp_path, monkeypatch):
    make_run(tmp_path, labelled=False)
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    for page in ("statistics", "slices", "calibration"):
        at = app(page)
        assert any("no labels" in i.value for i in at.info), page
