"""`epam report`: the JSON sections against the library functions, the text summary, --compare, --metadata
and errors (exit 2, a message naming the file)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_slices import make_ntu_run

from epam_core import cli
from epam_core.analysis import calibration, label_errors, slices, statistics
from epam_core.runs.format import read_run


def report(capsys, *args: str) -> dict:
    assert cli.main(["report", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    return make_ntu_run(root / "a", seed=0), make_ntu_run(root / "b", seed=1, n=300)


def test_json_sections_equal_the_library(runs, capsys):
    a, _ = runs
    out = report(capsys, "--run", str(a), "--resamples", "500", "--seed", "3")
    run = read_run(a)
    labels, logits = run.labels, {s: run.logits(s) for s in ("rgb", "pose", "fused")}
    intervals = statistics.stream_intervals(logits, labels, run.num_classes, 500, 3).set_index("stream")
    calib = calibration.stream_calibration(logits, labels, (1.0, 1.0), seed=3).set_index("stream")
    for stream in ("rgb", "pose", "fused"):
        got = out["streams"][stream]
        assert got["top1"] == pytest.approx(float((logits[stream].argmax(1) == labels).mean()))
        assert got["top1_ci"] == pytest.approx(
            [intervals.loc[stream, "top1_low"], intervals.loc[stream, "top1_high"]]
        )
        assert got["top5"] == pytest.approx(intervals.loc[stream, "top5"])
        assert got["mean_class"] == pytest.approx(intervals.loc[stream, "mean_class"])
        assert got["ece"] == pytest.approx(calib.loc[stream, "ece"]) and 0 <= got["ece"] <= 1
        assert got["nll"] == pytest.approx(calib.loc[stream, "nll"])
        assert 0 <= got["top1_ci"][0] <= got["top1"] <= got["top1_ci"][1] <= 1
    right = {s: z.argmax(1) == labels for s, z in logits.items()}
    for a_name, b_name in (("fused", "rgb"), ("fused", "pose"), ("rgb", "pose")):
        test = statistics.mcnemar_exact(right[a_name], right[b_name])
        got = out["paired"][f"{a_name}_vs_{b_name}"]
        assert (got["a_only"], got["b_only"]) == (test.a_only, test.b_only)
        assert got["a_only"] == int((right[a_name] & ~right[b_name]).sum())
        assert got["mcnemar_p"] == pytest.approx(test.p_value)
    cameras = slices.run_metadata(run)["camera"].to_numpy()
    for value in ("1", "2", "3"):
        cell = out["slices"]["camera"][value]
        assert cell["n"] == int((cameras == value).sum())
        assert cell["rgb"] == pytest.approx(right["rgb"][cameras == value].mean())
    assert set(out["slices"]) == {"setup", "camera", "performer", "replication"}
    expected = label_errors.likely_label_errors(run.sample_ids, labels, logits)["sample_id"].head(20).tolist()
    assert out["likely_label_errors"] == expected
    assert "compare" not in out
    assert out["calibration"]["fused_calibrated"]["top1"] == pytest.approx(
        calib.loc["fused_calibrated", "top1"]
    )


def test_compare_matches_samples_by_id(runs, capsys):
    a, b = runs
    out = report(capsys, "--run", str(a), "--compare", str(b))
    run_a, run_b = read_run(a), read_run(b)
    shared = sorted(set(run_a.sample_ids) & set(run_b.sample_ids))
    frame_b = run_b.predictions.set_index("sample_id")
    same = [
        s
        for s in shared
        if frame_b.loc[s, "label"] == run_a.predictions.set_index("sample_id").loc[s, "label"]
    ]
    assert out["compare"]["matched"] == len(same) > 0
    assert out["compare"]["label_mismatch"] == len(shared) - len(same)
    fa = run_a.predictions.set_index("sample_id").loc[same]
    right_a = fa["fused_pred"] == fa["label"]
    right_b = frame_b.loc[same, "fused_pred"] == fa["label"]
    got = out["compare"]["fused"]
    assert got["a_only"] == int((right_a & ~right_b).sum()) and got["b_only"] == int(
        (~right_a & right_b).sum()
    )
    assert got["mcnemar_p"] == pytest.approx(
        statistics.mcnemar_exact(right_a.to_numpy(), right_b.to_numpy()).p_value
    )


def test_metadata_file_adds_slices_and_text_output(runs, capsys, tmp_path):
    a, _ = runs
    run = read_run(a)
    table = pd.DataFrame(
        {
            "sample_id": run.sample_ids,
            "lighting": np.where(np.arange(len(run.sample_ids)) % 2, "dark", "bright"),
        }
    )
    table.to_csv(tmp_path / "meta.csv", index=False)
    out = report(capsys, "--run", str(a), "--metadata", str(tmp_path / "meta.csv"))
    assert {k: v["n"] for k, v in out["slices"]["lighting"].items()} == {"bright": 200, "dark": 200}
    assert cli.main(["report", "--run", str(a), "--metadata", str(tmp_path / "meta.csv")]) == 0
    text = capsys.readouterr().out
    top1 = (run.logits("fused").argmax(1) == run.labels).mean() * 100
    assert f"fused   {top1:5.1f} [" in text and "slices by lighting:" in text and "exact McNemar" in text
    assert cli.main(["report", "--run", str(a), "--json", "--out", str(tmp_path / "r.json")]) == 0
    assert "streams" in json.loads((tmp_path / "r.json").read_text())
    assert (
        cli.main(["report", "--run", str(a), "--out", str(tmp_path / "r.json")]) == 2
    )  # never replaced unasked
    assert "r.json: already exists" in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["streams"]  # untouched
    assert cli.main(["report", "--run", str(a), "--out", str(tmp_path / "r.json"), "--overwrite"]) == 0
    assert (tmp_path / "r.json").read_text().startswith("run ")  # the text summary now
    assert (
        cli.main(["report", "--run", str(a), "--out", str(tmp_path), "--overwrite"]) == 2
    )  # a folder, never


def test_errors_exit_2_naming_the_file(runs, capsys, tmp_path):
    a, _ = runs
    (tmp_path / "bad.csv").write_text("id,x\n1,2\n")
    assert cli.main(["report", "--run", str(a), "--metadata", str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv: has no sample_id column" in capsys.readouterr().err
    assert cli.main(["report", "--run", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    (tmp_path / "other.csv").write_text("sample_id,x\nzzz,2\n")
    assert cli.main(["report", "--run", str(a), "--metadata", str(tmp_path / "other.csv")]) == 2
    assert "other.csv: none of its 1 sample ids" in capsys.readouterr().err


def test_exported_tables_and_figures_carry_the_report(runs, capsys):
    from epam_core.analysis.report import run_figures, run_tables

    a, _ = runs
    out = report(capsys, "--run", str(a))
    run = read_run(a)
    exported = run_tables(run)
    cams = exported["slices_camera"].set_index("value")
    for value, cell in out["slices"]["camera"].items():
        half = (cell["fused_ci"][1] - cell["fused_ci"][0]) / 2
        assert cams.loc[value, "fused"] == f"{cell['fused'] * 100:.1f} ± {half * 100:.1f}"
    stats = exported["statistics"].set_index("stream")
    assert stats.loc["rgb", "p_vs_fused"] == pytest.approx(out["paired"]["fused_vs_rgb"]["mcnemar_p"])
    assert {"slices_setup", "slices_camera", "slices_performer", "slices_replication"} <= set(
        run_figures(run)
    )
