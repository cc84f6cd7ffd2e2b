"""Sample metadata from dataset names and user tables, and per-slice accuracy with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from epam_core.analysis import slices, statistics
from epam_core.errors import DataError
from epam_core.runs.format import new_manifest, predictions_frame, read_run, write_run


def test_parse_ntu_pku_and_toyota_ids():
    ids = np.array(
        [
            "S001C002P003R002A010",
            "S017C003P041R001A120_rgb",
            "0291-M",
            "Cook.Cleandishes_p02_r00_v02_c03",
            "clip",
        ]
    )
    meta = slices.parse_sample_ids(ids)
    assert meta.loc[0, ["setup", "camera", "performer", "replication"]].tolist() == ["1", "2", "3", "2"]
    assert meta.loc[1, ["setup", "camera", "performer", "replication"]].tolist() == ["17", "3", "41", "1"]
    assert meta.loc[2, "view"] == "M" and meta.loc[2, "camera"] is None
    assert meta.loc[3, ["subject", "camera"]].tolist() == ["2", "3"]
    assert meta.loc[4].isna().all()
    assert slices.parse_sample_ids(np.array(["a", "b"])).shape == (2, 0)


def test_slice_codes_natural_order():
    codes, values = slices.slice_codes(pd.Series(["10", "2", None, "2", "1"]))
    assert values.tolist() == ["1", "2", "10"] and codes.tolist() == [2, 1, -1, 1, 0]
    codes, values = slices.slice_codes(pd.Series(["R", "L", "M"]))
    assert values.tolist() == ["L", "M", "R"]


def test_user_tables_csv_and_parquet(tmp_path):
    csv = tmp_path / "meta.csv"
    csv.write_text("sample_id,room,height\nS1,kitchen,2\nS2,bath,\n007,kitchen,3\n")
    table = slices.read_metadata(csv)
    assert table.index.tolist() == ["S1", "S2", "007"]  # ids stay text (no 7)
    assert table["room"].tolist() == ["kitchen", "bath", "kitchen"]
    assert table["height"].tolist() == ["2", None, "3"]  # integral floats (NaN made them float) without .0
    pq = tmp_path / "meta.parquet"
    pd.DataFrame({"sample_id": ["S1"], "light": [0.5]}).to_parquet(pq)
    assert slices.read_metadata(pq)["light"].tolist() == ["0.5"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.csv", "id,room\nS1,a\n", "has no sample_id column"),
        ("m.csv", "sample_id,room\nS1,a\nS1,b\n", "'S1' more than once"),
        ("m.csv", "sample_id\nS1\n", "only a sample_id column"),
        ("m.xlsx", "x", "neither .csv nor .parquet"),
        ("m.parquet", "not parquet", "cannot be read"),
    ],
)
def test_bad_user_tables_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        slices.read_metadata(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="not found"):
        slices.read_metadata(tmp_path / "absent.csv")


def make_ntu_run(root, seed: int = 0, n: int = 400, k: int = 6):
    rng = np.random.default_rng(seed)
    cameras, setups = rng.integers(1, 4, n), rng.integers(1, 3, n)
    labels = rng.integers(0, k, n)
    ids = [
        f"S{s:03d}C{c:03d}P{i % 7 + 1:03d}R001A{a + 1:03d}_{i}"
        for i, (s, c, a) in enumerate(zip(setups, cameras, labels, strict=True))
    ]
    rgb = rng.normal(size=(n, k)).astype(np.float32)
    pose = rng.normal(size=(n, k)).astype(np.float32)
    rgb[np.arange(n), labels] += np.where(cameras == 2, 0.0, 2.5)  # RGB fails on camera 2
    pose[np.arange(n), labels] += 1.5
    frame = predictions_frame(ids, labels, rgb, pose)
    manifest = new_manifest(source="test", class_names=[f"c{i}" for i in range(k)], num_samples=n)
    return write_run(root, manifest, frame)


def test_slice_accuracy_values_equal_a_groupby(tmp_path):
    run = read_run(make_ntu_run(tmp_path / "run"))
    meta = slices.run_metadata(run)
    correct = slices.correct_by_stream(run)
    table = slices.slice_accuracy(meta["camera"], run.labels, correct, seed=1).set_index("value")
    frame = pd.DataFrame({"camera": meta["camera"], **correct})
    expected = frame.groupby("camera")[["rgb", "pose", "fused"]].mean()
    assert table.index.tolist() == ["1", "2", "3"]
    np.testing.assert_allclose(table[["rgb", "pose", "fused"]], expected.loc[table.index])
    assert table["n"].tolist() == frame.groupby("camera").size().loc[table.index].tolist()
    assert table.loc["2", "rgb"] < 0.5 < table.loc["1", "rgb"]  # the camera RGB fails on stands out
    in_cam2 = (meta["camera"] == "2").to_numpy()
    one = statistics.accuracy_interval(correct["rgb"][in_cam2], seed=1)
    assert table.loc["2", "rgb_high"] - table.loc["2", "rgb_low"] == pytest.approx(
        one.high - one.low, abs=0.03
    )
    acc, counts, values = slices.slice_class_accuracy(
        meta["camera"], run.labels, correct["fused"], run.num_classes
    )
    assert values.tolist() == ["1", "2", "3"] and counts.sum() == len(run.labels)
    mask = in_cam2 & (run.labels == 3)
    assert acc[1, 3] == pytest.approx(correct["fused"][mask].mean()) and counts[1, 3] == mask.sum()
    listed = slices.slice_samples(
        run.sample_ids, meta["camera"], "2", run.labels, {"fused": run.logits("fused").argmax(1)}, 3
    )
    assert listed["sample_id"].tolist() == run.sample_ids[mask].tolist()


def test_run_metadata_layers_stored_and_user_tables(tmp_path):
    run_dir = make_ntu_run(tmp_path / "run", n=20)
    run = read_run(run_dir)
    ids = run.sample_ids
    stored = slices.metadata_table(pd.DataFrame({"sample_id": ids[:10], "room": ["a"] * 10}), "stored")
    slices.save_run_metadata(run_dir, stored)
    user = slices.metadata_table(pd.DataFrame({"sample_id": [ids[0], "unknown"], "camera": ["99", "1"]}), "u")
    meta = slices.run_metadata(read_run(run_dir), user)
    assert meta["room"].tolist() == ["a"] * 10 + [None] * 10
    assert meta.loc[0, "camera"] == "99" and meta.loc[1, "camera"] is None  # the user table wins the field
    assert "setup" in slices.slice_fields(meta)
    foreign = slices.metadata_table(pd.DataFrame({"sample_id": ["x"], "room": ["b"]}), "other.csv")
    with pytest.raises(DataError, match="none of its 1 sample ids"):
        slices.run_metadata(run, foreign, "other.csv")
