import json
import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from epam_core.errors import RunError
from epam_core.runs.format import (
    AttentionMaps,
    list_runs,
    new_manifest,
    predictions_frame,
    read_run,
    write_robustness,
    write_run,
)


def _run(tmp_path, n=6, k=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    rgb, pose = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    preds = predictions_frame(ids, np.arange(n) % k, rgb, pose, fusion_weights=(1.0, 2.0))
    att = AttentionMaps(np.array(ids), rng.random((n, 3, 2, 2)), rng.random((n, 3)))
    manifest = new_manifest(source="test", class_names=list("abcd"), num_samples=n)
    return write_run(tmp_path / "run", manifest, preds, attention=att), rgb, pose


def _sweep_rows(ids, k=4):
    """A robustness table as ``robustness.sweep`` builds it (one jitter condition)."""
    frame = predictions_frame(ids, np.zeros(len(ids), np.int64), np.eye(len(ids), k), np.zeros((len(ids), k)))
    for i, (name, value) in enumerate((("noise", "jitter"), ("level", 1.0), ("seed", 0))):
        frame.insert(i, name, value)
    return frame


def test_run_round_trips(tmp_path):
    path, rgb, pose = _run(tmp_path)
    run = read_run(path)
    np.testing.assert_allclose(run.logits("rgb"), rgb, rtol=1e-6)
    np.testing.assert_allclose(run.logits("fused"), rgb + 2 * pose, rtol=1e-5)
    assert run.predictions["fused_pred"].tolist() == list((rgb + 2 * pose).argmax(1))
    spatial, temporal = run.attention.for_sample("s002")
    assert spatial.shape == (3, 2, 2) and temporal.dtype == np.float32
    assert run.manifest["has_attention"] is True
    assert list_runs(tmp_path) == [path]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_nothing(tmp_path):
    bad = pd.DataFrame({"sample_id": ["a"]})
    with pytest.raises(RunError, match="lacks the columns"):
        write_run(tmp_path / "run", new_manifest(source="t", class_names=["x"], num_samples=1), bad)
    assert list(tmp_path.iterdir()) == []


def test_existing_run_is_not_overwritten_by_default(tmp_path):
    path, _, _ = _run(tmp_path)
    with pytest.raises(RunError, match="already exists"):
        _run(tmp_path)
    assert read_run(path).manifest["num_samples"] == 6


def test_bad_runs_name_the_file_and_problem(tmp_path):
    with pytest.raises(RunError, match="no such directory"):
        read_run(tmp_path / "missing")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(RunError, match=r"manifest\.json is missing"):
        read_run(tmp_path / "foreign")
    path, _, _ = _run(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["num_samples"] = 7
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match=r"predictions.parquet: has 6 rows"):
        read_run(path)
    (path / "predictions.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(RunError, match="cannot be read as parquet"):
        read_run(path)


def test_nan_logits_are_refused(tmp_path):
    preds = predictions_frame(["a", "b"], [0, 1], np.array([[0, 1.0], [np.nan, 0]]), np.zeros((2, 2)))
    with pytest.raises(RunError, match="NaN or infinite values \\(first at sample 'b'\\)"):
        write_run(tmp_path / "r", new_manifest(source="t", class_names=["x", "y"], num_samples=2), preds)


def test_robustness_is_added_atomically(tmp_path):
    path, _, _ = _run(tmp_path)
    table = _sweep_rows(["s000"])
    write_robustness(path, table)
    assert read_run(path).robustness["noise"].tolist() == ["jitter"]
    with pytest.raises(RunError, match="not an evaluation run"):
        write_robustness(tmp_path, table)


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    """mkstemp/mkdtemp create 0600/0700 entries; a written run must be readable like any other file."""
    old = os.umask(0o022)
    try:
        path, _, _ = _run(tmp_path)
        write_robustness(path, _sweep_rows(["s000"]))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert stat.S_IMODE((path / "robustness.parquet").stat().st_mode) == 0o644


def _write_schema_1(path, ids, labels, rgb, pose, spatial, temporal, class_names):
    """A run as epam wrote it before schema 2: variable-length list columns, compressed attention."""
    path.mkdir()
    frame = pd.DataFrame({"sample_id": ids, "label": labels})
    for name, logits in (("rgb", rgb), ("pose", pose), ("fused", rgb + pose)):
        frame[f"{name}_logits"] = list(logits)
        frame[f"{name}_pred"] = logits.argmax(1)
    frame.to_parquet(path / "predictions.parquet", index=False)
    np.savez_compressed(path / "attention.npz", sample_id=np.array(ids), spatial=spatial, temporal=temporal)
    manifest = new_manifest(source="old", class_names=class_names, num_samples=len(ids)) | {
        "schema_version": 1
    }
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_schema_1_runs_still_open_and_rewrite_as_schema_2(tmp_path):
    rng = np.random.default_rng(3)
    ids, labels = ["a", "b", "c"], np.array([0, 2, -1])
    rgb, pose = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    spatial, temporal = rng.random((3, 2, 3, 3)).astype(np.float16), rng.random((3, 2)).astype(np.float16)
    _write_schema_1(tmp_path / "old", ids, labels, rgb, pose, spatial, temporal, list("wxyz"))
    old = read_run(tmp_path / "old")
    assert old.manifest["schema_version"] == 1
    np.testing.assert_array_equal(old.logits("rgb"), rgb)
    np.testing.assert_array_equal(old.logits("fused"), rgb + pose)
    assert not old.logits("pose").flags.writeable  # shared by the dashboard: nobody may write into it
    np.testing.assert_array_equal(old.attention.spatial, spatial)
    frame = predictions_frame(ids, labels, old.logits("rgb"), old.logits("pose"))
    new = write_run(tmp_path / "new", old.manifest, frame)
    assert json.loads((new / "manifest.json").read_text())["schema_version"] == 2
    schema = pq.read_schema(new / "predictions.parquet")
    assert str(schema.field("rgb_logits").type) == "fixed_size_list<element: float>[4]"
    np.testing.assert_array_equal(read_run(new).logits("pose"), pose)
    assert read_run(new).index_of("c") == 2 and read_run(new).preds("rgb").tolist() == rgb.argmax(1).tolist()


def _corrupt_predictions(path, column, values):
    table = pq.read_table(path / "predictions.parquet")
    index = table.column_names.index(column)
    pq.write_table(table.set_column(index, column, pa.array(values)), path / "predictions.parquet")


def _edit_manifest(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text()) | changes
    (path / "manifest.json").write_text(json.dumps(manifest))


BROKEN = {
    "class_names an integer": (lambda p: _edit_manifest(p, class_names=7), "manifest.json", "class_names"),
    "class_names not strings": (
        lambda p: _edit_manifest(p, class_names=[1, 2, 3, 4]),
        "manifest.json",
        "class_names",
    ),
    "fusion_weights strings": (
        lambda p: _edit_manifest(p, fusion_weights=["1", "1"]),
        "manifest.json",
        "fusion_weights",
    ),
    "no samples": (lambda p: _edit_manifest(p, num_samples=0), "manifest.json", "num_samples"),
    "labels as strings": (
        lambda p: _corrupt_predictions(p, "label", [str(i) for i in range(6)]),
        "predictions.parquet",
        "label",
    ),
    "logits as strings": (
        lambda p: _corrupt_predictions(p, "rgb_logits", [["x"] * 4] * 6),
        "predictions.parquet",
        "rgb_logits",
    ),
    "ragged logits": (
        lambda p: _corrupt_predictions(p, "pose_logits", [[0.0] * 4] * 5 + [[0.0] * 3]),
        "predictions.parquet",
        "pose_logits",
    ),
    "prediction out of range": (
        lambda p: _corrupt_predictions(p, "fused_pred", [0, 1, 2, 3, 4, 9]),
        "predictions.parquet",
        "fused_pred",
    ),
    "NaN attention": (
        lambda p: np.savez(
            p / "attention.npz",
            sample_id=np.array([f"s{i:03d}" for i in range(6)]),
            spatial=np.full((6, 3, 2, 2), np.nan, np.float16),
            temporal=np.zeros((6, 3), np.float16),
        ),
        "attention.npz",
        "spatial",
    ),
    "sweep without level": (
        lambda p: pq.write_table(
            pq.read_table(p / "robustness.parquet").drop_columns(["level"]), p / "robustness.parquet"
        ),
        "robustness.parquet",
        "level",
    ),
    "sweep with text levels": (lambda p: _corrupt_sweep_level(p, ["high"]), "robustness.parquet", "level"),
}


def _corrupt_sweep_level(path, values):
    table = pq.read_table(path / "robustness.parquet")
    index = table.column_names.index("level")
    pq.write_table(table.set_column(index, "level", pa.array(values)), path / "robustness.parquet")


@pytest.mark.parametrize("case", list(BROKEN))
def test_read_run_names_the_file_and_field_of_a_broken_run(tmp_path, case):
    path, _, _ = _run(tmp_path)
    write_robustness(path, _sweep_rows(["s000"]))
    corrupt, filename, field = BROKEN[case]
    corrupt(path)
    with pytest.raises(RunError) as err:
        read_run(path)
    assert filename in str(err.value) and field in str(err.value), str(err.value)


def test_a_file_given_as_run_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RunError, match=r"notes\.txt: is a file"):
        read_run(tmp_path / "notes.txt")
