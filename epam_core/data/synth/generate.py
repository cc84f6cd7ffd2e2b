"""The SynthActions dataset writer: ``generate_synthactions`` and the rendering of one clip.

Output directory::

    videos/<sample_id>.webm   VP9, plays in Chromium
    synthactions.pkl          pyskl annotations (keypoint (1, T, 17, 2) pixels), splits train/test, class_names
    class_names.txt           one class per line

Everything is a function of ``(seed, label, index)``: clip ``S{seed}_A{label:02d}_N{index:03d}`` draws from
``np.random.default_rng([seed, label, index])``, so any clip can be regenerated alone and the result does
not depend on the number of worker processes. Every fourth clip of a class (index % 4 == 3) is a test clip.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from epam_core.data.synth import render
from epam_core.data.synth.actions import ACTIONS, MAX_CLASSES, Action
from epam_core.data.synth.skeleton import BodyShape, forward_kinematics

log = logging.getLogger(__name__)

ANNOTATION_FILE = "synthactions.pkl"
CLASS_NAMES_FILE = "class_names.txt"
VIDEO_DIR = "videos"
TEST_EVERY = 4  # index % 4 == 3 -> test: a 3:1 split per class
_VIDEO_NAME = re.compile(r"S\d+_A\d{2}_N\d{3}\.webm")


@dataclass(frozen=True)
class ClipSettings:
    """Video geometry shared by all clips of a dataset."""

    width: int = 160
    height: int = 120
    num_frames: int = 48
    fps: float = 20.0
    max_shake: float = 3.0  # camera jitter amplitude limit, pixels


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    keypoint: np.ndarray  # (1, T, 17, 2) float32 image pixels
    keypoint_score: np.ndarray  # (1, T, 17) float32


def sample_id(seed: int, label: int, index: int) -> str:
    return f"S{seed}_A{label:02d}_N{index:03d}"


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], num_frames: int) -> np.ndarray:
    """(T, *shape) slow random wobble with unit amplitude (sum of two random sinusoids)."""
    tau = np.linspace(0, 1, num_frames).reshape(-1, *([1] * len(shape)))
    freq = rng.uniform(0.3, 2.0, size=(2, *shape))
    phase = rng.uniform(0, 1, size=(2, *shape))
    return 0.5 * (
        np.sin(2 * np.pi * (tau * freq[0] + phase[0])) + np.sin(2 * np.pi * (tau * freq[1] + phase[1]))
    )


def _place(
    joints_rel: np.ndarray, lift: np.ndarray, height: float, rng: np.random.Generator, cfg: ClipSettings
):
    """Joints (T, 17, 2) in the image: feet on a random ground line, the whole clip inside the frame."""
    ground = rng.uniform(0.84, 0.95) * cfg.height
    root_y = ground - joints_rel[:, :, 1].max(axis=1) - lift * height  # (T,) lowest joint on the ground
    root_x = rng.uniform(0.3, 0.7) * cfg.width
    joints = joints_rel + np.stack([np.full_like(root_y, root_x), root_y], axis=1)[:, None, :]
    margin = 0.08 * height + cfg.max_shake + 1  # body width around the joints, plus the camera shake
    lo = joints.reshape(-1, 2).min(axis=0) - margin
    hi = joints.reshape(-1, 2).max(axis=0) + margin
    shift = np.maximum(0, -lo) - np.maximum(0, hi - [cfg.width, cfg.height])  # move back inside
    return joints + shift, ground + shift[1], hi - lo


def render_clip(
    action: Action, seed: int, label: int, index: int, cfg: ClipSettings, draw_person: bool = True
) -> Clip:
    """Render one clip of ``action``: frames and the exact joints they were drawn from.

    ``draw_person=False`` gives the same clip without the person and its prop (tests compare the two).
    """
    rng = np.random.default_rng([seed, label, index])
    t = cfg.num_frames
    tau = np.linspace(0, 1, t)
    shape = BodyShape.sample(rng)
    motion = action.motion(tau, rng.uniform(0.8, 1.25), rng.uniform(0, 1), rng, shape)
    wobble = 0.012 * _smooth_noise(rng, (2, 2, 2), t)  # slight pose noise on the hand/foot targets
    height = rng.uniform(0.5, 0.68) * cfg.height
    for _ in range(4):  # shrink the person until the whole action fits in the frame
        joints_rel = forward_kinematics(
            shape, height, motion.hands + wobble[:, 0], motion.feet + 0.5 * wobble[:, 1], motion.lean,
            motion.head, motion.arm_fs, motion.leg_fs,
        )  # fmt: skip
        joints, ground, extent = _place(joints_rel, motion.lift, height, rng, cfg)
        scale = min(cfg.width / extent[0], cfg.height / extent[1])
        if scale >= 1:
            break
        height *= 0.97 * scale
    offsets = render.camera_offsets(rng, t, rng.uniform(0, cfg.max_shake))  # (T, 2)
    pad = int(np.ceil(cfg.max_shake))
    background = render.draw_scene(action.scene, cfg.height + 2 * pad, cfg.width + 2 * pad, ground + pad, rng)
    distractors = render.distractor_tracks(rng, t, cfg.height, cfg.width, int(rng.integers(1, 4)))
    look = render.sample_look(rng)
    props = (
        None
        if action.prop is None
        else render.prop_track(action.prop, joints, height, motion.side, motion.release)
    )
    brightness = rng.uniform(0.85, 1.15)
    frames = np.empty((t, cfg.height, cfg.width, 3), np.uint8)
    image_joints = joints - offsets[:, None, :]  # the camera moves by +offset, the world by -offset
    for i in range(t):
        ox, oy = offsets[i]
        img = background[pad + oy : pad + oy + cfg.height, pad + ox : pad + ox + cfg.width].copy()
        render.draw_distractors(img, distractors, i, offsets[i])
        if draw_person:
            render.draw_person(img, image_joints[i], height, look)
        if draw_person and props is not None:
            render.draw_prop(img, action.prop, props[i] - offsets[i], image_joints[i], height, motion.side)
        frames[i] = np.clip(img * brightness, 0, 255).astype(np.uint8)
    score = rng.uniform(0.9, 1.0, size=(1, t, 17)).astype(np.float32)
    return Clip(frames, image_joints[None].astype(np.float32), score)


def _write_clip(job: tuple[int, int, int, ClipSettings, str]) -> tuple[np.ndarray, np.ndarray]:
    """Render one clip, write its video; its (keypoint, keypoint_score) (runs in a worker process)."""
    from epam_core.data.video import write_webm

    seed, label, index, cfg, video_dir = job
    clip = render_clip(ACTIONS[label], seed, label, index, cfg)
    write_webm(Path(video_dir) / f"{sample_id(seed, label, index)}.webm", clip.frames, cfg.fps)
    return clip.keypoint, clip.keypoint_score


def _annotation(seed: int, label: int, index: int, cfg: ClipSettings, poses: tuple) -> dict[str, Any]:
    """The pyskl record of one clip (built in the main process, so the file does not depend on workers)."""
    return {
        "frame_dir": sample_id(seed, label, index),
        "label": label,
        "img_shape": (cfg.height, cfg.width),
        "original_shape": (cfg.height, cfg.width),
        "total_frames": cfg.num_frames,
        "keypoint": _canonical(poses[0]),
        "keypoint_score": _canonical(poses[1]),
    }


def _canonical(array: np.ndarray) -> np.ndarray:
    """A float32 copy with numpy's canonical dtype object: an array unpickled from a worker carries its own
    dtype instance, which pickle would write out again and so make the file depend on the worker count."""
    out = np.empty(array.shape, np.float32)
    out[...] = array
    return out


def is_synthactions_dir(folder: str | Path) -> bool:
    """Whether ``folder`` holds nothing but what ``generate_synthactions`` writes (so it may be replaced):
    ``synthactions.pkl``, ``class_names.txt`` and ``videos/`` with clip videos only, and at least one of them."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return False
    entries = {p.name: p for p in folder.iterdir()}
    if not entries or set(entries) - {ANNOTATION_FILE, CLASS_NAMES_FILE, VIDEO_DIR}:
        return False
    videos = entries.get(VIDEO_DIR)
    if videos is not None:
        if not videos.is_dir() or videos.is_symlink():
            return False
        if not all(v.is_file() and _VIDEO_NAME.fullmatch(v.name) for v in videos.iterdir()):
            return False
    return all(entries[name].is_file() for name in (ANNOTATION_FILE, CLASS_NAMES_FILE) if name in entries)


# What a run's manifest may ask the dashboard to regenerate (``dataset.synth``): the demo is 12 x 40 clips.
REGENERATION_LIMITS = {"num_classes": (1, MAX_CLASSES), "per_class": (1, 200), "seed": (0, 2**31 - 1)}


def regeneration_refusal(annotation: str | Path, videos: str | Path | None, synth: Any = None) -> str | None:
    """Why the SynthActions data named by a run (``annotation``, ``videos``, generator arguments ``synth``) may
    not be regenerated in place, or None when it may: ``synth`` holds only ``REGENERATION_LIMITS`` keys with
    integers in range, the annotation is ``FOLDER/synthactions.pkl``, the videos ``FOLDER/videos``, and FOLDER
    is absent, empty or a SynthActions folder (``is_synthactions_dir``); a user's folder is never touched."""
    if synth is not None:
        if not isinstance(synth, dict):
            return f"dataset.synth must be a mapping of generator arguments, got {type(synth).__name__}"
        for key, value in synth.items():
            if key not in REGENERATION_LIMITS:
                return f"dataset.synth has the unknown generator argument {key!r} (known: {', '.join(REGENERATION_LIMITS)})"
            low, high = REGENERATION_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return f"dataset.synth.{key} must be an integer in {low}..{high}, got {value!r}"
    annotation = Path(annotation)
    folder = annotation.parent
    if annotation.name != ANNOTATION_FILE:
        return f"the annotation {annotation} is not a SynthActions file ({ANNOTATION_FILE}); not regenerating"
    if videos is not None and Path(videos).resolve() != (folder / VIDEO_DIR).resolve():
        return f"the videos {videos} are not the SynthActions folder {folder / VIDEO_DIR}; not regenerating"
    if not folder.exists() and not folder.is_symlink():
        return None
    if (
        folder.is_dir()
        and not folder.is_symlink()
        and (not any(folder.iterdir()) or is_synthactions_dir(folder))
    ):
        return None
    return (
        f"{folder} holds files that SynthActions does not write; not regenerating the demo data into it "
        "(nothing was changed)"
    )


def generate_synthactions(
    out_dir: str | Path,
    num_classes: int = 12,
    per_class: int = 40,
    seed: int = 0,
    settings: ClipSettings | None = None,
    workers: int = 2,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the dataset into ``out_dir`` atomically and return the path of its annotation file."""
    from tqdm import tqdm

    from epam_core.data.pyskl import save_annotations
    from epam_core.outputs import atomic_dir, atomic_write_file

    cfg = settings or ClipSettings()
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in 1..{MAX_CLASSES} (the action library), got {num_classes}")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if cfg.num_frames < 24:
        raise ValueError(
            f"num_frames must be >= 24 (the demo preset samples 24 pose frames), got {cfg.num_frames}"
        )
    names = [a.name for a in ACTIONS[:num_classes]]
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite, is_synthactions_dir, "a SynthActions folder") as tmp:
        (tmp / VIDEO_DIR).mkdir()
        jobs = [
            (seed, label, i, cfg, str(tmp / VIDEO_DIR))
            for label in range(num_classes)
            for i in range(per_class)
        ]
        bar = tqdm(total=len(jobs), desc="synthactions", unit="clip", disable=not progress)
        poses = []
        with contextlib.ExitStack() as stack:
            if workers > 1:
                pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
                results = pool.imap(_write_clip, jobs, chunksize=2)  # imap keeps the job order
            else:
                results = map(_write_clip, jobs)
            for result in results:
                poses.append(result)
                bar.update()
        bar.close()
        annotations = [
            _annotation(s, label, i, c, p) for (s, label, i, c, _), p in zip(jobs, poses, strict=True)
        ]
        is_test = [i % TEST_EVERY == TEST_EVERY - 1 for _, _, i, _, _ in jobs]
        split = {
            "train": [a["frame_dir"] for a, test in zip(annotations, is_test, strict=True) if not test],
            "test": [a["frame_dir"] for a, test in zip(annotations, is_test, strict=True) if test],
        }
        save_annotations(tmp / ANNOTATION_FILE, annotations, split, class_names=names)
        atomic_write_file(tmp / CLASS_NAMES_FILE, lambda p: p.write_text("\n".join(names) + "\n"))
    log.info("wrote %d clips of %d classes to %s", len(annotations), num_classes, out_dir)
    return out_dir / ANNOTATION_FILE
