"""AppTest for every dashboard page against the fixture run: values checked against epam_core.analysis."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest
from test_dashboard_fixture import CLASSES, make_run

from epam_core.analysis import confusion, fusion, metrics
from epam_core.checkpoint import save_checkpoint
from epam_core.runs.format import read_run

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    make_run(root)
    return root


@pytest.fixture(autouse=True)
def isolated(runs, monkeypatch):
    monkeypatch.setenv("EPAM_RUNS_DIR", str(runs))
    st.cache_data.clear()
    st.cache_resource.clear()


def app(page: str | None = None, timeout: float = 90, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(array: list | dict) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64)}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_overview_metrics_and_fusion_slider(runs):
    run = read_run(runs / "run")
    at = app()
    assert not at.error
    summary = metrics.stream_summary(run).set_index("stream")
    for stream, label in (("rgb", "RGB"), ("pose", "Pose"), ("fused", "Fused")):
        assert metric(at, f"{label} top-1") == f"{summary.loc[stream, 'top1'] * 100:.1f} %"
        assert metric(at, f"{label} mean class") == f"{summary.loc[stream, 'mean_class'] * 100:.1f} %"
    at.slider(key="alpha").set_value(0.8).run()
    fused = fusion.fuse(run.logits("rgb"), run.logits("pose"), (0.8, 0.2))
    assert metric(at, "fused top-1 at α") == f"{metrics.topk_accuracy(fused, run.labels) * 100:.1f} %"
    best, _ = fusion.best_weight(fusion.weight_sweep(run.logits("rgb"), run.logits("pose"), run.labels))
    assert metric(at, "best α") == f"{best:.2f}"
    helps = at.dataframe[0].value
    expected = metrics.per_class_table(run).nlargest(5, "fusion_gain")
    assert helps["class"].tolist() == expected["class"].tolist()


def test_confusion_cell_lists_its_samples(runs):
    run = read_run(runs / "run")
    at = app("confusion")
    spec = plotly_specs(at)[0]
    # drawn as the figure says (no Streamlit theme): the name pictures sit in margins sized for them
    assert at.get("plotly_chart")[0].proto.theme == ""
    preds = run.logits("fused").argmax(1)
    cm = metrics.confusion_matrix(run.labels, preds, len(CLASSES))
    drawn = values(spec["data"][0]["customdata"]).reshape(-1, 3)  # (cells, (true, pred, count))
    assert sorted(map(tuple, drawn[:, :2].astype(int).tolist())) == sorted(zip(*np.nonzero(cm), strict=True))
    assert [cm[t, p] for t, p, _ in drawn.astype(int)] == drawn[:, 2].astype(
        int
    ).tolist()  # empty cells blank
    true_id, pred_id = next(
        (int(t), int(p)) for t, p in zip(*np.nonzero(cm - np.diag(np.diag(cm))), strict=True)
    )
    at.session_state["cm_cell"] = (true_id, pred_id)
    at.run()
    members = confusion.cell_samples(run.sample_ids, run.labels, preds, true_id, pred_id)
    assert any(f"**{len(members)} samples**" in m.value for m in at.markdown)
    listing = next(d.value for d in at.dataframe if "sample_id" in d.value)
    assert listing["sample_id"].tolist() == members.tolist()
    pairs = confusion.top_confused_pairs(cm, CLASSES, 10)
    table = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert table["count"].tolist() == pairs["count"].tolist()
    at.text_input(key="cm_query").set_value("A").run()  # wave, clap, squat
    shown = [CLASSES.index(c) for c in ("wave", "clap", "squat")]
    assert len(values(plotly_specs(at)[0]["data"][0]["x"])) == np.count_nonzero(cm[np.ix_(shown, shown)])
    at.button(key="cm_open").click().run()
    assert at.session_state["sample_id"] == members[0]


def test_sample_page_scores_frames_and_attributions(runs):
    run = read_run(runs / "run")
    at = app("sample", sample_id="S001")
    assert not at.error
    row = run.predictions.set_index("sample_id").loc["S001"]
    assert metric(at, "true class") == CLASSES[row["label"]]
    assert metric(at, "Pose prediction") == CLASSES[row["pose_pred"]]
    assert len(at.get("image")) >= 1
    assert [b.proto.label for b in at.get("download_button")] == ["PDF", "SVG", "PNG"]
    temporal = next(s for s in plotly_specs(at) if "Temporal" in s["layout"]["title"]["text"])
    np.testing.assert_allclose(
        values(temporal["data"][0]["y"]), run.attention.for_sample("S001")[1], atol=1e-6
    )
    at.button(key="attr_go").click().run()
    joints = next(s for s in plotly_specs(at) if "Per-joint" in s["layout"]["title"]["text"])
    assert len(values(joints["data"][0]["y"])) == 17


def test_sample_without_video_shows_the_file_and_the_stored_attention(runs):
    run = read_run(runs / "run")
    at = app("sample", sample_id="S010")
    assert any("S010" in e.value and "no video" in e.value for e in at.error)
    assert metric(at, "true class") == CLASSES[0]  # the run's scores still show
    assert len(at.get("image")) == 1  # the stored spatial maps on their own grid
    temporal = next(s for s in plotly_specs(at) if "Temporal" in s["layout"]["title"]["text"])
    np.testing.assert_allclose(
        values(temporal["data"][0]["y"]), run.attention.for_sample("S010")[1], atol=1e-6
    )


def test_robustness_slider_changes_scores(runs):
    at = app("robustness", sample_id="S000")
    assert not at.error
    before = [m.value for m in at.metric] + [m.delta for m in at.metric]
    at.selectbox(key="noise_type").set_value("joint_dropout").run()
    at.slider(key="noise_level").set_value(0.9).run()
    after = [m.value for m in at.metric] + [m.delta for m in at.metric]
    assert before != after
    title = next(
        s["layout"]["title"]["text"] for s in plotly_specs(at) if "Top-" in s["layout"]["title"]["text"]
    )
    assert "joint_dropout = 0.9" in title
    at.selectbox(key="noise_type").set_value("jitter_px").run()
    curves = metrics.robustness_curves(read_run(runs / "run").robustness, "jitter_px")
    spec = next(s for s in plotly_specs(at) if "under jitter_px" in s["layout"]["title"]["text"])
    fused = curves[curves["stream"] == "fused"].sort_values("level")
    np.testing.assert_allclose(values(spec["data"][2]["y"]), fused["top1"] * 100)


def test_robustness_subset_sweep_on_demand(runs):
    at = app("robustness", sample_id="S000")
    at.selectbox(key="noise_type").set_value("frame_dropout").run()
    at.number_input(key="subset_n").set_value(3).run()
    at.button(key="subset_go").click().run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "top1_std" in d.value.columns)
    assert set(table["stream"]) == {"rgb", "pose", "fused"} and table["samples"].max() == 3


def test_export_offers_every_figure_and_table(runs):
    at = app("export")
    buttons = at.get("download_button")
    figures_per_run = (
        3 + 3 + 2 + 1
    )  # accuracy, fusion, per-class; 3 confusions; reliability, confidence; 1 noise
    tables_per_run = 3 + 4  # summary, per-class, pairs; statistics, paired, calibration, likely label errors
    assert len(buttons) == figures_per_run * 3 + tables_per_run * 2
    assert len(at.get("image")) == 1


def _broken(runs: Path, name: str) -> Path:
    dst = runs.parent / f"{runs.name}-{name}"
    if not dst.exists():
        shutil.copytree(runs / "run", dst)
    return dst


def test_bad_runs_show_a_message_naming_the_file(runs):
    partial = _broken(runs, "partial")
    (partial / "predictions.parquet").unlink(missing_ok=True)
    at = app(custom_run=str(partial))
    assert any("predictions.parquet" in e.value and "missing" in e.value for e in at.error)
    at.switch_page("app_pages/export.py").run()
    assert not at.exception and at.error

    nan = _broken(runs, "nan")
    frame = pd.read_parquet(nan / "predictions.parquet")
    frame.at[3, "pose_logits"] = [float("nan")] * len(CLASSES)
    frame.to_parquet(nan / "predictions.parquet")
    at = app(custom_run=str(nan))
    assert any("NaN" in e.value and "S003" in e.value for e in at.error)

    foreign = runs.parent / "foreign"
    foreign.mkdir(exist_ok=True)
    at = app(custom_run=str(foreign))
    assert any("manifest.json is missing" in e.value for e in at.error)


def test_mismatched_checkpoint_is_reported(runs, tmp_path):
    import torch

    from epam_core.checkpoint import save_checkpoint
    from epam_core.models.epam_net import build_model

    other = _broken(runs, "mismatch")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "other.pt", build_model("demo", 3), class_names=["a", "b", "c"])
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["model"]["checkpoint"] = str(tmp_path / "other.pt")
    (other / "manifest.json").write_text(json.dumps(manifest))
    at = app("sample", custom_run=str(other), sample_id="S000")
    assert any("other.pt" in e.value and "3 classes" in e.value for e in at.error)


def test_label_free_run(tmp_path, monkeypatch):
    make_run(tmp_path, labelled=False)
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    at = app()
    assert any("no labels" in i.value for i in at.info)
    at = app("confusion")
    assert any("no labels" in i.value for i in at.info)
    at = app("sample", sample_id="S000")
    assert not at.error and metric(at, "true class") == "unknown"
    at = app("robustness", sample_id="S000")
    assert not at.error and any("no labels" in i.value for i in at.info)


def test_compare_two_runs(tmp_path, monkeypatch):
    make_run(tmp_path)
    make_run(tmp_path / "b", seed=1)
    (tmp_path / "b" / "run").rename(tmp_path / "run_b")
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    a, b = (metrics.stream_summary(read_run(tmp_path / n)).set_index("stream") for n in ("run", "run_b"))
    at = app(_run_name="run", _compare_name="run_b")
    delta = next(m.delta for m in at.metric if m.label == "Fused top-1")
    assert delta == f"{a.loc['fused', 'top1'] * 100 - b.loc['fused', 'top1'] * 100:+.1f} pp"
    at.switch_page("app_pages/confusion.py").run()
    at.radio(key="cm_view").set_value("difference of two runs").run()
    spec = plotly_specs(at)[0]
    assert spec["layout"]["title"]["text"] == "run − run_b (Fused)"
    expected = confusion.difference(
        metrics.stream_confusion(read_run(tmp_path / "run"), "fused"),
        metrics.stream_confusion(read_run(tmp_path / "run_b"), "fused"),
    )
    cells = values(spec["data"][0]["customdata"]).reshape(-1, 3)[:, :2].astype(int)  # (drawn, (true, pred))
    np.testing.assert_allclose(values(spec["data"][0]["marker"]["color"]), expected[cells[:, 0], cells[:, 1]])
    assert set(zip(*np.nonzero(expected), strict=True)) <= set(
        map(tuple, cells.tolist())
    )  # no value left out
    picture = spec["data"][1]  # the heatmap: the difference in the shown order (5 classes: by index)
    assert picture["type"] == "heatmap"
    np.testing.assert_allclose(values(picture["z"]).reshape(expected.shape), expected, atol=1e-6)


def test_demo_videos_are_regenerated_on_first_use(tmp_path, monkeypatch):
    import epam_core.data.synth

    run = make_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["dataset"]["synth"] = {"num_classes": 5, "per_class": 6, "seed": 0}
    manifest["dataset"]["annotation"] = "../data/synthactions.pkl"  # the layout generate_synthactions writes
    (run / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "data" / "ann.pkl").rename(tmp_path / "data" / "synthactions.pkl")
    shutil.move(tmp_path / "data", tmp_path / "pristine")
    calls = []

    def fake_generate(out_dir, **kwargs):
        calls.append((Path(out_dir), kwargs))
        shutil.copytree(tmp_path / "pristine", out_dir, dirs_exist_ok=True)

    monkeypatch.setattr(epam_core.data.synth, "generate_synthactions", fake_generate)
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    at = app("sample", sample_id="S001")
    assert not at.error and len(at.get("image")) >= 1
    assert calls == [((tmp_path / "data").resolve(), {"num_classes": 5, "per_class": 6, "seed": 0,
                                                      "overwrite": True, "progress": False})]  # fmt: skip


def test_sample_link_by_query_parameter(runs):
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["sample"] = "S002"
    at.run()
    at.switch_page("app_pages/sample.py").run()
    assert not at.exception
    assert at.session_state["sample_id"] == "S002"
    assert metric(at, "true class") == CLASSES[2]


def test_live_caches_follow_the_run_and_its_checkpoint(tmp_path):
    """Re-evaluating into the same run directory, or replacing its checkpoint, must not serve the old forward
    pass: the cache key of every forward/attribution changes with the run's files and the checkpoint file."""
    import os

    from dashboard import live_cache, loaders
    from epam_core.checkpoint import load_checkpoint

    run_dir = make_run(tmp_path)
    run = loaders.load_run(run_dir)
    key = loaders.live_key(run)
    clip, model, config = loaders.load_clip(run, "S000")
    first = live_cache.forward(key, "S000", None, 0.0, 0, clip, model, config)

    ckpt = tmp_path / "model.pt"
    other = load_checkpoint(ckpt).model
    with torch.no_grad():
        other.pose_cls_head.fc_cls.weight.mul_(-1)
    save_checkpoint(ckpt, other, class_names=CLASSES)
    os.utime(ckpt, (ckpt.stat().st_atime, ckpt.stat().st_mtime + 5))
    changed = loaders.live_key(loaders.load_run(run_dir))
    assert changed != key
    _, model2, _ = loaders.load_clip(run, "S000")
    second = live_cache.forward(changed, "S000", None, 0.0, 0, clip, model2, config)
    assert not np.allclose(second.pose_logits, first.pose_logits)

    before = loaders.run_key(run)
    make_run(tmp_path / "again", seed=1)  # a re-evaluation written over the same directory
    shutil.rmtree(run_dir)
    shutil.copytree(tmp_path / "again" / "run", run_dir)
    os.utime(run_dir, (run_dir.stat().st_atime, run_dir.stat().st_mtime + 10))
    rerun = loaders.load_run(run_dir)
    assert loaders.run_key(rerun) != before and rerun is not run
    np.testing.assert_array_equal(rerun.logits("rgb"), read_run(tmp_path / "again" / "run").logits("rgb"))


def test_live_caches_follow_the_data_the_clips_are_read_from(tmp_path):
    """Regenerating the annotation file a run names (outside the run directory) must not serve the old clip."""
    import os
    import pickle

    from dashboard import loaders

    run = loaders.load_run(make_run(tmp_path))
    key = loaders.live_key(run)
    clip, _, _ = loaders.load_clip(run, "S000")
    annotation = tmp_path / "data" / "ann.pkl"
    data = pickle.loads(annotation.read_bytes())
    for sample in data["annotations"]:
        sample["keypoint"] = sample["keypoint"] + np.float32(3)
    annotation.write_bytes(pickle.dumps(data))
    os.utime(annotation, (annotation.stat().st_atime, annotation.stat().st_mtime + 5))
    assert loaders.run_key(run) == key.run and loaders.live_key(run) != key
    moved, _, _ = loaders.load_clip(run, "S000")
    np.testing.assert_allclose(moved.keypoint, clip.keypoint + 3)


def test_the_dashboard_model_runs_on_the_interactive_thread_count_and_leaves_the_process_alone(tmp_path):
    """The thread policy lives in the model's ``CpuInferenceOptions``: loading the model does not change the
    process's intra-op thread count, and each forward pass runs on ``for_interactive_server().threads``."""
    from dashboard import live_cache, loaders
    from epam_core.fast import CpuInferenceOptions

    process = torch.get_num_threads()
    before = CpuInferenceOptions.for_interactive_server().threads + 1  # any count but the interactive one
    torch.set_num_threads(before)
    try:
        run = loaders.load_run(make_run(tmp_path))
        clip, model, config = loaders.load_clip(run, "S000")
        assert torch.get_num_threads() == before
        assert model.options == CpuInferenceOptions.for_interactive_server()
        during = []
        hook = model.pose_cls_head.register_forward_hook(lambda *_: during.append(torch.get_num_threads()))
        try:
            live_cache.forward(loaders.live_key(run), "S000", None, 0.0, 0, clip, model, config)
        finally:
            hook.remove()
        assert during == [model.options.threads] and torch.get_num_threads() == before
    finally:
        torch.set_num_threads(process)


def test_sample_picker_narrows_by_class_and_takes_a_typed_id(runs):
    run = read_run(runs / "run")
    at = app("sample", sample_id="S007")
    label = int(run.labels[run.index_of("S007")])
    assert at.selectbox(key="sample_class").value == label  # follows the sample chosen elsewhere
    listed = at.selectbox(key="_sample_id_widget").options
    expected = [s for s, y in zip(run.sample_ids, run.labels, strict=True) if y == label]
    assert [o.split(" · ")[0] for o in listed] == expected
    at.text_input(key="sample_typed").set_value("S012").run()
    assert at.session_state["sample_id"] == "S012"
    assert at.selectbox(key="sample_class").value == int(run.labels[run.index_of("S012")])
    at.text_input(key="sample_typed").set_value("nope").run()
    assert any("no sample 'nope'" in w.value for w in at.warning)


def test_sample_page_reads_the_runs_crop_cache(runs, tmp_path, monkeypatch):
    from epam_core.config import build_config
    from epam_core.data.crop_cache import prepare_cache
    from epam_core.data.pyskl import load_annotations

    root = tmp_path / "runs"
    shutil.copytree(runs, root)
    anns = load_annotations(root / "data" / "ann.pkl")
    input_cfg = build_config("demo", len(CLASSES)).input
    prepare_cache([anns.sample("S001")], root / "data" / "videos", root / "cache", input_cfg)
    shutil.rmtree(root / "data" / "videos")  # the frames can only come from the cache now
    manifest_path = root / "run" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["dataset"]["crop_cache"] = "../cache"
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setenv("EPAM_RUNS_DIR", str(root))
    at = app("sample", sample_id="S001")
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("image")) >= 1


def test_live_forward_reuses_the_rgb_features_and_equals_a_full_pass(tmp_path):
    from dashboard import live_cache, loaders
    from epam_core.data.noise import NoiseSpec
    from epam_core.runs import single_clip

    run = loaders.load_run(make_run(tmp_path))
    clip, model, config = loaders.load_clip(run, "S000")
    key = loaders.live_key(run)
    for level in (0.0, 4.0):
        got = live_cache.forward(key, "S000", "jitter_px", level, 1, clip, model, config)
        full = single_clip.forward_clip(model, clip, config.input, [NoiseSpec("jitter_px", level)], 1)
        for stream in ("rgb", "pose", "fused"):
            np.testing.assert_allclose(got.logits(stream), full.logits(stream), rtol=1e-4, atol=1e-4)
    assert live_cache._rgb_features(key, "S000", clip, model, config) is live_cache._rgb_features(
        key, "S000", clip, model, config
    )  # computed once per clip and model
