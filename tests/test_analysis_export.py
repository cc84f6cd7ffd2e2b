"""`epam export` and `epam dashboard` command lines."""

from __future__ import annotations

import pandas as pd
from test_dashboard_fixture import make_run

from epam_core.analysis.report import EXPORT_MARKER
from epam_core.cli import main
from epam_core.commands.dashboard import streamlit_command


def test_export_writes_every_figure_and_table(tmp_path, capsys):
    run = make_run(tmp_path)
    out = tmp_path / "figures"
    assert main(["export", "--run", str(run), "--out", str(out), "--formats", "pdf,svg"]) == 0
    names = sorted(p.name for p in out.iterdir())
    stems = ["accuracy", "confusion_fused", "confusion_pose", "confusion_rgb", "fusion_sweep", "per_class",
             "robustness_jitter_px"]  # fmt: skip
    assert names == sorted(
        [f"{s}.{f}" for s in stems for f in ("pdf", "svg")]
        + [f"{t}.{f}" for t in ("summary", "per_class", "confused_pairs") for f in ("csv", "tex")]
        + [EXPORT_MARKER]  # what lets --overwrite replace this folder later
    )
    assert (out / "confusion_fused.pdf").read_bytes().startswith(b"%PDF-")
    summary = pd.read_csv(out / "summary.csv")
    assert summary["stream"].tolist() == ["rgb", "pose", "fused"]
    assert "wrote 20 files" in capsys.readouterr().out


def test_export_of_a_broken_run_names_the_file(tmp_path, capsys):
    run = make_run(tmp_path)
    (run / "predictions.parquet").unlink()
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "x")]) == 2
    assert "predictions.parquet: is missing" in capsys.readouterr().err


def test_dashboard_command_line(tmp_path, capsys):
    cmd = streamlit_command("127.0.0.1", 8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/streamlit_app.py")
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1" and flags["--server.port"] == "8765"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.fileWatcherType"] == "none"
    assert main(["dashboard", "--runs", str(tmp_path / "nope")]) == 2
    assert "runs directory not found" in capsys.readouterr().err


def test_export_screen_style_png(tmp_path):
    from epam_core.analysis.paper_figures import FigureSize
    from epam_core.analysis.report import export_run
    from epam_core.runs import read_run

    paths = export_run(
        read_run(make_run(tmp_path)), tmp_path / "o", "screen", FigureSize(3, 2, 100), ("png",)
    )
    assert len([p for p in paths if p.suffix == ".png"]) == 7
