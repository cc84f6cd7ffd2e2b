import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from epam_core.errors import RunError
from epam_core.runs import (
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
    table = pd.DataFrame({"noise": ["jitter"], "level": [1.0], "seed": [0], "sample_id": ["s000"]})
    write_robustness(path, table)
    assert read_run(path).robustness["noise"].tolist() == ["jitter"]
    with pytest.raises(RunError, match="not an evaluation run"):
        write_robustness(tmp_path, table)


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    """mkstemp/mkdtemp create 0600/0700 entries; a written run must be readable like any other file."""
    old = os.umask(0o022)
    try:
        path, _, _ = _run(tmp_path)
        write_robustness(path, pd.DataFrame({"noise": ["jitter"]}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert stat.S_IMODE((path / "robustness.parquet").stat().st_mode) == 0o644
