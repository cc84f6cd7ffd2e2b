"""The dashboard's "Analyze a video" page (AppTest, analyze_video replaced by a stand-in that writes a small
label-free run) and the helpers that name its run directory and keep its uploads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_dashboard_fixture import CLASSES, make_run

import epam_core.runs.own_video
from epam_core.data.dataset import find_video
from epam_core.errors import DataError
from epam_core.runs.format import new_manifest, predictions_frame, write_run
from epam_core.runs.own_video import analysis_run_dir, save_upload

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py")


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """A runs directory holding the fixture run (its data and model beside it, not listed as runs)."""
    make_run(tmp_path)
    monkeypatch.setenv("EPAM_RUNS_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return tmp_path


def fake_analyze(calls: list):
    """A stand-in for analyze_video: reports progress, then writes a one-sample run without a label whose
    sample is the video (the fixture's S001.webm, which has an annotation, so the Sample page can show it)."""

    def analyze_video(video, checkpoint, out_dir, *, progress=None, **kwargs):
        video, out_dir = Path(video), Path(out_dir)
        calls.append((video, Path(checkpoint), out_dir))
        for fraction, message in ((0.0, "pose extraction: frame 0 of 2"), (0.5, "running EPAM-Net")):
            progress(fraction, message)
        logits = np.eye(len(CLASSES), dtype=np.float32)[[2]] * 3  # "jump"
        manifest = new_manifest(
            source="stand-in",
            class_names=CLASSES,
            num_samples=1,
            model={"checkpoint": str(checkpoint)},
            dataset={
                "name": video.stem,
                "annotation": str(video.parents[1] / "ann.pkl"),
                "split": "test",
                "videos": str(video.parent),
            },
        )
        write_run(out_dir, manifest, predictions_frame([video.stem], np.array([-1]), logits, logits))
        progress(1.0, f"done: {CLASSES[2]}")
        return out_dir

    return analyze_video


def analyze_page(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/analyze.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_analysis_of_a_local_video_becomes_the_selected_run(runs, monkeypatch):
    calls = []
    monkeypatch.setattr(epam_core.runs.own_video, "analyze_video", fake_analyze(calls))
    video = runs / "data" / "videos" / "S001.webm"
    at = analyze_page()
    assert at.session_state["_run_name"] == "run"
    assert at.text_input(key="analyze_checkpoint").value == str((runs / "model.pt").resolve())
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value(str(video)).run()
    at.button(key="analyze_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert calls == [(video.resolve(), (runs / "model.pt").resolve(), runs / "analyze_S001")]
    assert at.session_state["_run_name"] == "analyze_S001"
    assert at.session_state["run_path"] == str(runs / "analyze_S001")
    assert at.selectbox(key="__run_name_widget").value == "analyze_S001"
    bar = at.get("progress")[0].proto
    assert bar.value == 100 and bar.text == "done: jump"
    assert "analyze_S001" in at.success[0].value and "**jump**" in at.success[0].value
    assert not at.warning
    at.button(key="analyze_open").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Sample" and at.session_state["sample_id"] == "S001"
    assert not at.error, [e.value for e in at.error]
    assert next(m.value for m in at.metric if m.label == "true class") == "unknown"
    assert next(m.value for m in at.metric if m.label == "Fused prediction") == "jump"
    # a second analysis of the same video gets its own run directory
    at.switch_page("app_pages/analyze.py").run()
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value(str(video)).run()
    at.button(key="analyze_go").click().run()
    assert calls[-1][2] == runs / "analyze_S001_2" and at.session_state["_run_name"] == "analyze_S001_2"


def test_people_per_frame_reaches_the_analysis(runs, monkeypatch):
    calls, options = [], []
    stand_in = fake_analyze(calls)

    def analyze_video(*args, **kwargs):
        options.append(kwargs.get("max_persons"))
        return stand_in(*args, **kwargs)

    monkeypatch.setattr(epam_core.runs.own_video, "analyze_video", analyze_video)
    at = analyze_page()
    assert at.number_input(key="analyze_max_persons").value == 2  # pyskl's NTU default
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value(str(runs / "data" / "videos" / "S001.webm")).run()
    at.number_input(key="analyze_max_persons").set_value(3).run()
    at.button(key="analyze_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert options == [3] and len(calls) == 1


def test_uploaded_video_is_kept_under_the_runs_directory(runs, monkeypatch):
    calls = []
    monkeypatch.setattr(epam_core.runs.own_video, "analyze_video", fake_analyze(calls))
    data = (runs / "data" / "videos" / "S001.webm").read_bytes()
    at = analyze_page()
    assert at.button(key="analyze_go").disabled  # nothing chosen yet
    at.get("file_uploader")[0].upload("S001.webm", data, "video/webm").run()
    at.button(key="analyze_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kept = runs / "uploads" / "S001.webm"
    assert calls[0][0] == kept and kept.read_bytes() == data
    assert at.session_state["_run_name"] == "analyze_S001"


def test_a_failed_analysis_shows_the_error_naming_the_file(runs, monkeypatch):
    def broken(video, checkpoint, out_dir, *, progress=None, **kwargs):
        progress(0.1, "pose extraction: frame 1 of 10")
        raise DataError(video, "no person found in any of its 10 frames")

    monkeypatch.setattr(epam_core.runs.own_video, "analyze_video", broken)
    at = analyze_page()
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value("/nowhere/empty_room.mp4").run()
    at.button(key="analyze_go").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "/nowhere/empty_room.mp4" in at.error[0].value and "no person" in at.error[0].value
    assert at.session_state["_run_name"] == "run" and not at.success
    assert not (runs / "analyze_empty_room").exists()


def test_missing_pose_environment_is_an_error_message(runs, monkeypatch):
    """The real analyze_video up to pose extraction: the message says to run `make poses`."""
    import epam_core.poses.extract as extract

    monkeypatch.setenv(extract.POSES_PYTHON_ENV, "")
    no_mediapipe = SimpleNamespace(util=SimpleNamespace(find_spec=lambda name: None))
    monkeypatch.setattr(extract, "importlib", no_mediapipe)
    monkeypatch.setattr(extract, "REPO", runs / "no-repo")
    monkeypatch.chdir(runs)
    at = analyze_page()
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value(str(runs / "data" / "videos" / "S001.webm")).run()
    at.button(key="analyze_go").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "make poses" in at.error[0].value


# --- helpers in epam_core.runs.own_video --------------------------------------------------------------------------


def test_analysis_run_dir(tmp_path):
    assert analysis_run_dir(tmp_path, "/x/my clip (1).mp4") == tmp_path / "analyze_my_clip_1"
    (tmp_path / "analyze_a").mkdir()
    (tmp_path / "analyze_a_2").mkdir()
    assert analysis_run_dir(tmp_path, "a.avi") == tmp_path / "analyze_a_3"
    run = make_run(tmp_path / "single")  # --runs naming one run: the new one goes beside it
    assert analysis_run_dir(run, "b.webm") == run.parent / "analyze_b"
    assert analysis_run_dir(tmp_path, "/x/???.mp4") == tmp_path / "analyze_video"


def test_save_upload(tmp_path):
    first = save_upload(tmp_path, "Walk.MP4", b"one")
    assert first == tmp_path / "Walk.mp4" and first.read_bytes() == b"one"
    assert save_upload(tmp_path, "Walk.mp4", b"one") == first  # the same file again: reused
    second = save_upload(tmp_path, "Walk.mp4", b"two")
    assert second == tmp_path / "Walk_2.mp4" and first.read_bytes() == b"one"
    other = save_upload(tmp_path, "Walk.avi", b"three")  # find_video(Walk) would give Walk.mp4
    assert other == tmp_path / "Walk_3.avi"
    for path in (first, second, other):
        assert find_video(tmp_path, path.stem) == path
    with pytest.raises(DataError, match=r"notes\.txt: not a video"):
        save_upload(tmp_path, "notes.txt", b"x")
    with pytest.raises(DataError, match="empty"):
        save_upload(tmp_path, "e.mp4", b"")
