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
             "robustness_jitter_px", "reliability", "confidence"]  # fmt: skip
    table_names = ["summary", "per_class", "confused_pairs", "statistics", "paired", "calibration",
                   "likely_label_errors"]  # fmt: skip
    assert names == sorted(
        [f"{s}.{f}" for s in stems for f in ("pdf", "svg")]
        + [f"{t}.{f}" for t in table_names for f in ("csv", "tex")]
        + [EXPORT_MARKER]  # what lets --overwrite replace this folder later
    )
    assert (out / "confusion_fused.pdf").read_bytes().startswith(b"%PDF-")
    summary = pd.read_csv(out / "summary.csv")
    assert summary["stream"].tolist() == ["rgb", "pose", "fused"]
    statistics = pd.read_csv(out / "statistics.csv")
    assert statistics["top1"].str.fullmatch(r"\d+\.\d ± \d+\.\d").all()  # "96.1 ± 0.3" cells
    assert " ± " in (out / "statistics.tex").read_text()
    assert "wrote 32 files" in capsys.readouterr().out


def test_export_of_a_broken_run_names_the_file(tmp_path, capsys):
    run = make_run(tmp_path)
    (run / "predictions.parquet").unlink()
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "x")]) == 2
    assert "predictions.parquet: is missing" in capsys.readouterr().err


def test_dashboard_command_line(tmp_path, capsys):
    cmd = streamlit_command("127.0.0.1", 8765)
    assert cmd[1:4] == ["-m", "dashboard.serve", "run"] and cmd[4].endswith("dashboard/streamlit_app.py")
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1" and flags["--server.port"] == "8765"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.fileWatcherType"] == "none"
    assert main(["dashboard", "--runs", str(tmp_path / "nope")]) == 2
    assert "runs directory not found" in capsys.readouterr().err


def test_export_screen_style_png(tmp_path):
    from epam_core.analysis.paper_figures import FigureSize
    from epam_core.analysis.report import export_run
    from epam_core.runs.format import read_run

    paths = export_run(
        read_run(make_run(tmp_path)), tmp_path / "o", "screen", FigureSize(3, 2, 100), ("png",)
    )
    assert len([p for p in paths if p.suffix == ".png"]) == 9


def test_interval_cells_and_latex_formats():
    from epam_core.analysis import tables

    assert tables.pm_cell(0.961, 0.958, 0.964) == "96.1 ± 0.3"
    assert tables.pm_cell(float("nan"), 0, 1) == "--"
    intervals = pd.DataFrame(
        {"stream": ["rgb"], "top1": [0.5], "top1_low": [0.4], "top1_high": [0.62], "n": [9]}
    )
    cells = tables.interval_table(intervals, ("top1",))
    assert cells.columns.tolist() == ["stream", "n", "top1"] and cells["top1"].tolist() == ["50.0 ± 11.0"]
    tex = tables.to_latex(cells.assign(mcnemar_p=[0.000123], ece=[0.04567]))
    assert (
        "50.0 ± 11.0" in tex and "0.000123" in tex and "0.046" in tex
    )  # cells kept, p 3 digits, ece 3 decimals
