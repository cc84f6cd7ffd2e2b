"""Clip embeddings and their 2-D maps: captured at the heads' input, stored in the run, projected and cached,
selected by box or lasso, searched for nearest neighbours (checked against scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from torch.utils.data import Dataset

from epam_core.analysis import embedding_map
from epam_core.analysis.embedding_map import (
    cached_maps,
    colour_groups,
    drawn_rows,
    load_or_compute_maps,
    map_path,
    project,
    rows_in_selection,
)
from epam_core.analysis.embeddings import (
    Embeddings,
    capture_head_inputs,
    first_head_inputs,
    nearest_neighbours,
    neighbour_table,
    read_embeddings,
    write_embeddings,
)
from epam_core.checkpoint import save_checkpoint
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.distributed import DistContext
from epam_core.errors import RunError
from epam_core.models import build_model
from epam_core.runs.evaluate import evaluate, extract_embeddings, predict
from epam_core.runs.format import EMBEDDINGS, new_manifest, predictions_frame, read_run, write_run


class RandomClips(Dataset):
    """Random demo-preset inputs: (rgb (3, 8, 96, 96), heatmaps (17, 24, 24, 24), label, sample_id)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.rgb = torch.randn(n, 3, 8, 96, 96, generator=g)
        self.pose = torch.rand(n, 17, 24, 24, 24, generator=g)

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, i: int):
        return self.rgb[i], self.pose[i], i % 3, f"clip{i:02d}"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("demo", 3).eval()


def test_embeddings_equal_what_a_hook_sees_at_the_heads_input(model):
    data = RandomClips(5)
    preds = predict(model, data, DistContext(), batch_size=3, embeddings=True)
    emb = preds.embeddings()
    assert emb.rgb.dtype == np.float16 and emb.rgb.shape == (5, model.rgb_cls_head.fc_cls.in_features)
    assert emb.pose.shape == (5, model.pose_cls_head.fc_cls.in_features)
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(model, f"{s}_cls_head").register_forward_pre_hook(
            lambda _m, inputs, s=s: seen.__setitem__(s, inputs[0].detach())  # (N, T, C, h, w)
        )
        for s in ("rgb", "pose")
    ]
    try:
        with torch.inference_mode():
            out = model(data.rgb, data.pose)
    finally:
        for h in hooks:
            h.remove()
    for stream, stored in (("rgb", emb.rgb), ("pose", emb.pose)):
        pooled = seen[stream].mean(dim=(1, 3, 4)).numpy()  # (N, C): the head's global average pool
        np.testing.assert_allclose(stored.astype(np.float32), pooled, rtol=2e-3, atol=1e-4)
        # and the head's linear layer maps the stored embedding back onto the stream's logits
        fc = getattr(model, f"{stream}_cls_head").fc_cls
        with torch.no_grad():
            logits = fc(torch.from_numpy(stored.astype(np.float32))).numpy()
        np.testing.assert_allclose(logits, getattr(out, f"{stream}_logits").numpy(), atol=1e-4)
    # a forward that calls the RGB head again afterwards (as the attention measures do) keeps the first call
    with capture_head_inputs(model) as calls, torch.inference_mode():
        model(data.rgb[:2], data.pose[:2])
        model.rgb_cls_head(seen["rgb"][:2] * 0)
        rgb_first, pose_first = first_head_inputs(calls)
    assert pose_first.shape == (2, model.pose_cls_head.fc_cls.in_features)
    assert [s for s, _ in calls] == ["rgb", "pose", "rgb"]
    np.testing.assert_allclose(rgb_first.numpy(), seen["rgb"][:2].mean(dim=(1, 3, 4)).numpy(), atol=1e-5)
    # the hooks are gone afterwards, and without the flag nothing is kept
    assert not model.rgb_cls_head.fc_cls._forward_pre_hooks
    assert predict(model, data, DistContext(), batch_size=3).embeddings() is None


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    annotation = generate_synthactions(
        root / "synth", num_classes=3, per_class=4, seed=3, workers=1, progress=False,
        settings=ClipSettings(width=80, height=60, num_frames=24),
    )  # fmt: skip
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "random.pt", build_model("demo", 3), class_names=["a", "b", "c"])
    return annotation, checkpoint


def test_evaluate_stores_embeddings_and_extract_adds_the_same(tiny, tmp_path, model):
    annotation, checkpoint = tiny
    with_emb = read_run(
        evaluate(checkpoint, annotation, tmp_path / "a", split=None, batch_size=5, embeddings=True)
    )
    emb = read_embeddings(with_emb)
    assert emb.sample_ids.tolist() == with_emb.sample_ids.tolist() and emb.rgb.shape == (
        12,
        model.rgb_backbone.out_channels,
    )
    without = read_run(evaluate(checkpoint, annotation, tmp_path / "b", split=None, batch_size=4))
    assert not (without.path / EMBEDDINGS).exists() and read_embeddings(without) is None
    extract_embeddings(without.path, batch_size=3)
    added = read_embeddings(read_run(without.path))
    np.testing.assert_allclose(added.rgb.astype(np.float32), emb.rgb.astype(np.float32), rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(
        added.pose.astype(np.float32), emb.pose.astype(np.float32), rtol=2e-3, atol=1e-4
    )


def test_extract_refuses_a_run_the_checkpoint_did_not_write(tiny, tmp_path):
    annotation, checkpoint = tiny
    out = evaluate(checkpoint, annotation, tmp_path / "run", split=None, batch_size=6)
    run = read_run(out)
    frame = predictions_frame(run.sample_ids, run.labels, run.logits("rgb") + 1.0, run.logits("pose"))
    write_run(out, run.manifest, frame, run.attention, overwrite=True)
    with pytest.raises(RunError, match="does not reproduce its rgb logits"):
        extract_embeddings(out)
    assert not (out / EMBEDDINGS).exists()


def _run_with_embeddings(root, n=90, k=3, seed=0, labelled=True):
    """A run of n samples in k well separated clusters per stream (RGB 432-d, pose 216-d)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    ids = [f"s{i:03d}" for i in range(n)]
    logits = rng.normal(size=(n, k)).astype(np.float32)
    frame = predictions_frame(ids, labels if labelled else np.full(n, -1), logits, logits[:, ::-1])
    manifest = new_manifest(source="test", class_names=[f"c{i}" for i in range(k)], num_samples=n)
    out = write_run(root, manifest, frame)
    emb = Embeddings(
        np.array(ids),
        (3 * rng.normal(size=(k, 432))[labels] + rng.normal(size=(n, 432))).astype(np.float16),
        (3 * rng.normal(size=(k, 216))[labels] + rng.normal(size=(n, 216))).astype(np.float16),
    )
    write_embeddings(out, emb)
    return read_run(out), emb


def test_embeddings_file_round_trips_and_bad_files_name_themselves(tmp_path):
    run, emb = _run_with_embeddings(tmp_path / "run")
    back = read_embeddings(run)
    np.testing.assert_array_equal(back.rgb, emb.rgb)
    np.testing.assert_array_equal(back.pose, emb.pose)
    write_embeddings(run.path, Embeddings(emb.sample_ids[::-1], emb.rgb, emb.pose))
    with pytest.raises(RunError, match=r"embeddings\.npz.*sample ids differ"):
        read_embeddings(run)
    (run.path / EMBEDDINGS).write_bytes(b"not a zip")
    with pytest.raises(RunError, match=r"embeddings\.npz.*cannot be read"):
        read_embeddings(run)


def test_pca_map_is_scikit_learns_pca_of_the_unit_vectors(tmp_path):
    run, emb = _run_with_embeddings(tmp_path / "run")
    maps = load_or_compute_maps(run, "pca")
    unit = emb.rgb.astype(np.float32) / np.linalg.norm(emb.rgb.astype(np.float32), axis=1, keepdims=True)
    expected = PCA(n_components=2, random_state=0).fit_transform(unit)
    np.testing.assert_allclose(maps.xy["rgb"], expected, atol=1e-4)
    concat = np.hstack([unit, emb.space("pose")]) / np.sqrt(2)
    np.testing.assert_allclose(np.linalg.norm(emb.space("concat"), axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb.space("concat"), concat, atol=1e-6)


def test_cached_map_is_reused_and_recomputed_when_the_embeddings_change(tmp_path, monkeypatch):
    run, emb = _run_with_embeddings(tmp_path / "run")
    calls = []
    real_project = embedding_map.project
    monkeypatch.setattr(embedding_map, "project", lambda *a, **k: calls.append(a[1]) or real_project(*a, **k))
    first = load_or_compute_maps(run, "pca")
    assert calls == ["pca"] * 3 and map_path(run, "pca").is_file()
    stamp = map_path(run, "pca").stat().st_mtime_ns
    again = load_or_compute_maps(read_run(run.path), "pca")
    assert len(calls) == 3 and map_path(run, "pca").stat().st_mtime_ns == stamp  # reused, not rewritten
    for space in first.xy:
        np.testing.assert_array_equal(again.xy[space], first.xy[space])
    key = json.loads(str(np.load(map_path(run, "pca"))["key"]))
    assert key["method"] == "pca" and len(key["embeddings_sha256"]) == 64
    # the run's embeddings change: the cache no longer fits and is recomputed from the new ones
    write_embeddings(run.path, Embeddings(emb.sample_ids, emb.pose[:, :216], emb.rgb))
    assert cached_maps(run, "pca") is None
    changed = load_or_compute_maps(run, "pca")
    assert len(calls) == 6
    assert not np.allclose(changed.xy["rgb"], first.xy["rgb"])
    np.testing.assert_allclose(
        changed.xy["rgb"], project(read_embeddings(run).space("rgb"), "pca"), atol=1e-6
    )
    assert cached_maps(run, "pca") is not None


def test_umap_map_is_seeded_and_separates_the_clusters(tmp_path):
    run, emb = _run_with_embeddings(tmp_path / "run", n=60)
    a = project(emb.space("pose"), "umap", seed=1)
    b = project(emb.space("pose"), "umap", seed=1)
    np.testing.assert_array_equal(a, b)
    labels = run.labels
    centres = np.stack([a[labels == c].mean(0) for c in range(3)])
    nearest_centre = np.linalg.norm(a[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest_centre == labels).all()


def test_selection_returns_exactly_the_points_inside():
    rng = np.random.default_rng(1)
    xy = rng.uniform(-10, 10, size=(500, 2)).astype(np.float32)
    box = {"box": [{"x": [4.0, -2.0], "y": [-3.0, 5.0]}], "lasso": [], "points": []}
    inside_box = np.flatnonzero((xy[:, 0] >= -2) & (xy[:, 0] <= 4) & (xy[:, 1] >= -3) & (xy[:, 1] <= 5))
    np.testing.assert_array_equal(rows_in_selection(xy, box), inside_box)
    # lasso: the triangle (0,0), (8,0), (0,8) holds exactly the points with x, y > 0 and x + y < 8
    lasso = {"lasso": [{"x": [0, 8, 0], "y": [0, 0, 8]}]}
    in_triangle = np.flatnonzero((xy[:, 0] > 0) & (xy[:, 1] > 0) & (xy.sum(1) < 8))
    np.testing.assert_array_equal(rows_in_selection(xy, lasso), in_triangle)
    both = rows_in_selection(xy, {**box, **lasso})
    np.testing.assert_array_equal(both, np.union1d(inside_box, in_triangle))
    click = {"points": [{"customdata": [7], "x": 0, "y": 0}, {"customdata": 3}]}
    assert rows_in_selection(xy, click).tolist() == [3, 7]
    assert rows_in_selection(xy, {"box": [], "lasso": [], "points": []}).size == 0


def test_drawn_sample_is_seeded_stratified_and_everything_below_the_limit():
    rng = np.random.default_rng(2)
    codes = rng.choice(120, size=20_000, p=np.r_[np.full(119, 0.995 / 119), 0.005])  # class 119: ~100 clips
    codes[:3] = 120  # a class of 3 clips
    drawn = drawn_rows(codes, 6_000)
    assert len(drawn) == 6_000 and np.array_equal(drawn, np.unique(drawn))  # sorted, no repeats
    np.testing.assert_array_equal(drawn, drawn_rows(codes, 6_000))  # same seed, same points
    np.testing.assert_array_equal(drawn, drawn_rows(codes.copy(), 6_000, seed=0))
    assert not np.array_equal(drawn, drawn_rows(codes, 6_000, seed=1))
    assert set(codes[drawn]) == set(codes)  # every class present is drawn
    per_class = np.bincount(codes[drawn], minlength=121)
    assert per_class[120] == 3  # a class smaller than MIN_DRAWN_PER_GROUP is drawn whole
    assert per_class[119] >= embedding_map.MIN_DRAWN_PER_GROUP
    big = np.bincount(codes, minlength=121)[:119]  # the rest in proportion, within one clip of it
    floor = embedding_map.MIN_DRAWN_PER_GROUP
    expected = floor + (6_000 - per_class[119:].sum() - 119 * floor) * (big - floor) / (big - floor).sum()
    assert np.abs(per_class[:119] - expected).max() < 1
    for limit in (20_000, 25_000, None):  # at or below the limit: every clip
        np.testing.assert_array_equal(drawn_rows(codes, limit), np.arange(20_000))
    assert set(codes[drawn_rows(codes, 50)]) == set(codes)  # more classes than points allowed: one of each
    assert len(drawn_rows(codes, 50)) == 121


def _inside_polygon(xy: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Brute force even-odd rule: does a rightward ray from each point cross an odd number of edges."""
    x, y = xy[:, :1].astype(np.float64), xy[:, 1:].astype(np.float64)  # (S, 1)
    x0, y0, x1, y1 = px, py, np.roll(px, -1), np.roll(py, -1)  # (V,) edges
    straddles = (y0 > y) != (y1 > y)  # (S, V)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return ((straddles & (x < cross_x)).sum(axis=1) % 2).astype(bool)


def test_region_selection_holds_every_clip_inside_drawn_or_not():
    rng = np.random.default_rng(3)
    xy = rng.normal(size=(30_000, 2)).astype(np.float32) * [3, 2]
    codes = rng.integers(0, 40, len(xy))
    drawn = np.zeros(len(xy), bool)
    drawn[drawn_rows(codes, 3_000)] = True  # a tenth of the clips
    box = {"x": [2.5, -1.0], "y": [-0.5, 1.5]}
    angle = np.linspace(0, 2 * np.pi, 25)[:-1]
    radius = np.where(np.arange(24) % 2, 1.5, 4.0)  # a 12-pointed star: not convex
    star = {"x": (1 + radius * np.cos(angle)).tolist(), "y": (radius * np.sin(angle)).tolist()}
    in_box = (xy[:, 0] >= -1) & (xy[:, 0] <= 2.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= 1.5)
    in_star = _inside_polygon(xy, np.asarray(star["x"]), np.asarray(star["y"]))
    for selection, inside in (
        ({"box": [box]}, in_box),
        ({"lasso": [star]}, in_star),
        ({"box": [box], "lasso": [star], "points": [{"customdata": 0}]}, in_box | in_star),
    ):
        rows = rows_in_selection(xy, selection)
        np.testing.assert_array_equal(rows, np.flatnonzero(inside))
        assert (~drawn[rows]).sum() > 5 * drawn[rows].sum()  # mostly clips that are not drawn


def test_nearest_neighbours_match_scikit_learn(tmp_path):
    run, emb = _run_with_embeddings(tmp_path / "run")
    for space in ("rgb", "pose", "concat"):
        rows, sim = nearest_neighbours(emb, space, 5, k=7)
        x = {"rgb": emb.rgb, "pose": emb.pose}.get(space)
        if x is None:
            x = np.hstack([emb.space("rgb"), emb.space("pose")])
        nn = NearestNeighbors(n_neighbors=8, metric="cosine", algorithm="brute").fit(x.astype(np.float32))
        dist, idx = nn.kneighbors(x[5:6].astype(np.float32))
        assert idx[0, 0] == 5 and rows.tolist() == idx[0, 1:].tolist()
        np.testing.assert_allclose(sim, 1 - dist[0, 1:], atol=1e-5)
    table = neighbour_table(run, emb, "rgb", "s005", k=4)
    assert table.columns.tolist() == ["sample_id", "cosine", "true", "rgb prediction", "pose prediction",
                                      "fused prediction"]  # fmt: skip
    assert table["sample_id"].tolist() == emb.sample_ids[nearest_neighbours(emb, "rgb", 5, 4)[0]].tolist()
    assert table["true"].tolist() == [f"c{run.labels[r]}" for r in nearest_neighbours(emb, "rgb", 5, 4)[0]]


def test_colour_groups():
    labels = np.array([0, 1, 2, 0, -1])
    preds = {
        "rgb": np.array([0, 1, 0, 2, 1]),
        "pose": np.array([0, 0, 2, 2, 1]),
        "fused": np.array([0, 1, 2, 1, 0]),
    }
    names = ["a", "b", "c"]
    codes, groups = colour_groups("true class", labels, preds, names)
    assert [groups[c] for c in codes] == ["a", "b", "c", "a", "unknown"]
    codes, groups = colour_groups("predicted class", labels, preds, names, "pose")
    assert [groups[c] for c in codes] == ["a", "a", "c", "c", "b"]
    codes, groups = colour_groups("right / wrong", labels, preds, names, "fused")
    assert [groups[c] for c in codes] == ["right", "right", "right", "wrong", "unknown"]
    codes, groups = colour_groups("stream agreement", labels, preds, names)
    assert [groups[c] for c in codes] == [
        "both right", "only RGB right", "only pose right", "both wrong, same class", "unknown"
    ]  # fmt: skip
    codes, groups = colour_groups("stream agreement", np.full(5, -1), preds, names)
    assert [groups[c] for c in codes] == ["RGB and pose agree", "RGB and pose differ", "RGB and pose differ",
                                          "RGB and pose agree", "RGB and pose agree"]  # fmt: skip


def test_export_and_cli_draw_the_cached_maps(tmp_path, capsys):
    from epam_core.analysis.paper_figures import FigureSize
    from epam_core.analysis.report import run_figures
    from epam_core.cli import main

    run, emb = _run_with_embeddings(tmp_path / "run")
    assert not any(name.startswith("embeddings") for name in run_figures(run))  # no map computed yet
    assert (
        main(["embeddings", "--run", str(run.path), "--method", "pca", "--neighbours", "s004", "-k", "3"])
        == 0
    )
    printed = capsys.readouterr().out
    rows, _ = nearest_neighbours(emb, "pose", 4, 3)
    assert str(map_path(run, "pca")) in printed
    pose_section = printed.split("\npose:\n")[1].split("\n\n")[0].splitlines()[1:]  # after the header
    assert [line.split()[0] for line in pose_section] == emb.sample_ids[rows].tolist()
    maps = cached_maps(run, "pca")
    fig = run_figures(run)["embeddings_pose"](FigureSize(3, 3, 72))
    points = np.concatenate([c.get_offsets() for c in fig.axes[0].collections])  # one collection per class
    expected = np.concatenate([maps.xy["pose"][run.labels == c] for c in range(3)])
    np.testing.assert_allclose(points, expected, atol=1e-6)
    out = tmp_path / "figures"
    assert main(["export", "--run", str(run.path), "--out", str(out), "--formats", "pdf"]) == 0
    assert {f"embeddings_{s}.pdf" for s in ("rgb", "pose", "concat")} <= {p.name for p in out.iterdir()}
    assert (out / "embeddings_concat.pdf").read_bytes().startswith(b"%PDF-")


def test_cli_errors_name_the_file(tmp_path, capsys):
    from epam_core.cli import main

    run = write_run(
        tmp_path / "run",
        new_manifest(source="test", class_names=["a", "b"], num_samples=3),
        predictions_frame(["x", "y", "z"], np.array([0, 1, 0]), np.eye(3, 2), np.eye(3, 2)),
    )
    assert main(["embeddings", "--run", str(run)]) == 2
    assert f"{run / EMBEDDINGS}: does not exist: this run has no embeddings" in capsys.readouterr().err


def test_embeddings_index_of_gives_the_first_row_of_a_sample():
    rng = np.random.default_rng(0)
    rgb, pose = rng.normal(size=(4, 6)).astype(np.float16), rng.normal(size=(4, 3)).astype(np.float16)
    emb = Embeddings(np.array(["a", "b", "a", "c"]), rgb, pose)
    assert [emb.index_of(s) for s in ("a", "b", "c")] == [0, 1, 3]
    assert emb.has_sample("c") and not emb.has_sample("d")
    with pytest.raises(KeyError):
        emb.index_of("d")
