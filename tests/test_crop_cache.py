"""The crop cache (`epam prepare`): clips, logits and sweeps from it equal the ones from the videos."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from epam_core import cli
from epam_core.checkpoint import save_checkpoint
from epam_core.config import InputConfig, build_config
from epam_core.data.crop_cache import CropCache, prepare_cache
from epam_core.data.dataset import PoseRGBDataset, find_video
from epam_core.data.pipeline import load_clip
from epam_core.data.pyskl import load_annotations, save_annotations
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.errors import DataError
from epam_core.models import build_model
from epam_core.runs import single_clip
from epam_core.runs.evaluate import evaluate
from epam_core.runs.format import read_run
from epam_core.runs.robustness import run_robustness

INPUT = build_config("demo", 3).input


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-class, 12-clip SynthActions set, a random demo checkpoint, and its test- and all-frames caches."""
    root = tmp_path_factory.mktemp("cache")
    annotation = generate_synthactions(
        root / "synth",
        num_classes=3,
        per_class=4,
        seed=4,
        settings=ClipSettings(width=80, height=60, num_frames=30),
        workers=1,
        progress=False,
    )
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "random.pt", build_model("demo", 3), class_names=["a", "b", "c"])
    samples = load_annotations(annotation).annotations
    videos = annotation.parent / "videos"
    test_cache, all_cache = root / "cache_test", root / "cache_all"
    assert prepare_cache(samples, videos, test_cache, INPUT, annotation=annotation) == (12, 0)
    assert prepare_cache(samples, videos, all_cache, INPUT, frames="all") == (12, 0)
    return annotation, checkpoint, test_cache, all_cache


def test_cached_clips_equal_decoded_clips(tiny):
    annotation, _, test_cache, all_cache = tiny
    videos = annotation.parent / "videos"
    for ann in load_annotations(annotation).annotations[:3]:
        expected = load_clip(ann, find_video(videos, ann["frame_dir"]), INPUT)
        for cache in (test_cache, all_cache):
            clip = CropCache(cache, INPUT).load_clip(ann, INPUT)
            np.testing.assert_array_equal(clip.rgb_frames, expected.rgb_frames)
            np.testing.assert_array_equal(clip.keypoint, expected.keypoint)
            assert (clip.box, clip.img_shape) == (expected.box, expected.img_shape)
    with np.load(test_cache / "clips" / f"{ann['frame_dir']}.npz") as stored:
        assert stored["frames"].shape == (INPUT.rgb_frames, INPUT.rgb_size, INPUT.rgb_size, 3)
        assert stored["frames"].dtype == np.uint8
    meta = json.loads((test_cache / "cache.json").read_text())
    assert (meta["format"], meta["frames"], meta["input"]["rgb_size"]) == ("epam-crop-cache", "test", 96)


def test_evaluating_from_the_cache_gives_the_same_logits(tiny, tmp_path):
    annotation, checkpoint, test_cache, _ = tiny
    videos_run = read_run(evaluate(checkpoint, annotation, tmp_path / "videos", batch_size=4))
    cached_run = read_run(
        evaluate(checkpoint, annotation, tmp_path / "cached", batch_size=4, cache=test_cache)
    )
    assert cached_run.sample_ids.tolist() == videos_run.sample_ids.tolist()
    for stream in ("rgb", "pose", "fused"):
        np.testing.assert_array_equal(cached_run.logits(stream), videos_run.logits(stream))
    assert (
        single_clip.sample_source(cached_run).crop_cache == test_cache.resolve()
    )  # what the Sample page reads
    assert "crop_cache" not in videos_run.manifest["dataset"]


def test_robustness_from_the_cache_gives_the_same_sweep(tiny, tmp_path):
    annotation, checkpoint, test_cache, _ = tiny
    noises = [("jitter_px", (0.0, 3.0))]
    kwargs = dict(seeds=(0,), split="test", batch_size=2)
    a = read_run(run_robustness(checkpoint, annotation, tmp_path / "a", noises, **kwargs))
    b = read_run(run_robustness(checkpoint, annotation, tmp_path / "b", noises, cache=test_cache, **kwargs))
    assert len(a.robustness) == 6
    assert a.robustness["sample_id"].tolist() == b.robustness["sample_id"].tolist()
    for stream in ("rgb", "pose", "fused"):
        np.testing.assert_array_equal(b.robustness_logits(stream), a.robustness_logits(stream))


def test_training_items_from_an_all_frames_cache_equal_the_videos(tiny):
    annotation, _, test_cache, all_cache = tiny
    videos = annotation.parent / "videos"
    plain = PoseRGBDataset(annotation, videos, INPUT, train=True, seed=7)
    cached = PoseRGBDataset(annotation, videos, INPUT, train=True, seed=7, cache=all_cache)
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        cached.set_epoch(epoch)
        for i in (0, 5):
            (rgb_a, hm_a, label_a, id_a), (rgb_b, hm_b, label_b, id_b) = plain[i], cached[i]
            torch.testing.assert_close(rgb_b, rgb_a, rtol=0, atol=0)
            torch.testing.assert_close(hm_b, hm_a, rtol=0, atol=0)
            assert (label_a, id_a) == (label_b, id_b)
    with pytest.raises(DataError, match="needs one made with `epam prepare --frames all`"):
        PoseRGBDataset(annotation, videos, INPUT, train=True, seed=7, cache=test_cache)
    clip = CropCache(test_cache, INPUT).load_clip  # a test-time cache asked for random frames anyway
    with pytest.raises(DataError, match="holds no crops of frames"):
        clip(load_annotations(annotation).annotations[0], INPUT, train=True, rng=np.random.default_rng(1))


def test_prepare_cli_resumes_and_refuses_foreign_directories(tiny, tmp_path, capsys):
    annotation = tiny[0]
    out = tmp_path / "cache"
    args = ["prepare", "--data", str(annotation), "--out", str(out), "--preset", "demo", "--workers", "0"]
    assert cli.main(args) == 0
    assert "12 clips written, 0 already there" in capsys.readouterr().out
    victim = sorted((out / "clips").iterdir())[4]
    before = victim.read_bytes()
    victim.unlink()  # as if prepare had been interrupted before this clip
    assert cli.main(args) == 0
    assert "1 clips written, 11 already there" in capsys.readouterr().out
    assert victim.read_bytes() == before
    assert cli.main([*args[:-2], "--workers", "0", "--frames", "all"]) == 2  # other settings, same --out
    assert "crop cache of other settings" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert cli.main([*args[:3], "--out", str(foreign), "--preset", "demo", "--workers", "0"]) == 2
    assert "is not a crop cache" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert cli.main([*args[:3], "--out", str(foreign / "notes.txt"), "--preset", "demo"]) == 2
    assert "notes.txt: exists and is not a directory" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    (tmp_path / "no_videos").mkdir()
    missing = [
        *args[:3],
        "--videos",
        str(tmp_path / "no_videos"),
        "--out",
        str(tmp_path / "c2"),
        "--preset",
        "demo",
    ]
    assert cli.main([*missing, "--workers", "2"]) == 2  # raised in a worker, reported as itself
    assert "no video for sample" in capsys.readouterr().err


def test_stale_or_mismatched_caches_are_refused(tiny, tmp_path):
    annotation, _, test_cache, _ = tiny
    anns = load_annotations(annotation)
    ann = dict(anns.annotations[0])
    ann["keypoint"] = ann["keypoint"] + 1.0
    with pytest.raises(DataError, match="stale cache"):
        CropCache(test_cache, INPUT).load_clip(ann, INPUT)
    with pytest.raises(DataError, match="rgb_size 96 \\(model: 112\\)"):
        CropCache(test_cache, InputConfig(pose_frames=24, rgb_frames=8, rgb_size=112, heatmap_size=28))
    with pytest.raises(DataError, match="not in the crop cache"):
        CropCache(test_cache, INPUT).load_clip({**anns.annotations[0], "frame_dir": "absent"}, INPUT)
    with pytest.raises(DataError, match="is not a crop cache"):
        CropCache(tmp_path, INPUT)
    broken = tmp_path / "broken"
    shutil.copytree(test_cache, broken)
    victim = broken / "clips" / f"{anns.annotations[1]['frame_dir']}.npz"
    victim.write_bytes(victim.read_bytes()[:1000])  # truncated by hand (prepare never leaves one)
    with pytest.raises(DataError, match="is not a readable crop-cache file"):
        CropCache(broken, INPUT).load_clip(anns.annotations[1], INPUT)
    odd = save_annotations(tmp_path / "odd.pkl", [{**anns.annotations[0], "frame_dir": "../x"}], {})
    with pytest.raises(DataError, match="cannot name a cache file"):
        prepare_cache(load_annotations(odd).annotations, annotation.parent / "videos", tmp_path / "c", INPUT)


def test_real_ntu_clip_from_the_cache(shared_data, tmp_path):
    ann = load_annotations(shared_data / "ntu_samples_mediapipe_coco17.pkl").sample("S001C001P001R001A001")
    ann = {**ann, "frame_dir": "ntu_S001C001P001R001A001"}  # the shared file's name
    cfg = build_config("paper").input
    prepare_cache([ann], shared_data, tmp_path / "cache", cfg)
    expected = load_clip(ann, find_video(shared_data, ann["frame_dir"]), cfg)
    clip = CropCache(tmp_path / "cache", cfg).load_clip(ann, cfg)
    np.testing.assert_array_equal(clip.rgb_frames, expected.rgb_frames)
    assert clip.rgb_frames.shape == (16, 224, 224, 3) and clip.box == expected.box
