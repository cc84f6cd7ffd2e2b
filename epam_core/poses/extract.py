"""Offline 2D pose extraction: videos -> COCO-17 keypoints in a pyskl annotation file.

MediaPipe needs protobuf < 5, which the main environment cannot have (streamlit needs newer), so MediaPipe
lives in its own environment, ``.venv-poses`` (``make poses``). This module runs
``mediapipe_worker.py`` there as a subprocess, reads its progress, and turns the 33 BlazePose landmarks
it saves into COCO-17 keypoints (``landmarks.py``): up to ``max_persons`` people per frame (the worker's
docstring says how they are found), whose identities across frames ``tracking.py`` settles.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from epam_core.data.pyskl import OUT_OF_IMAGE_TOLERANCE, UNKNOWN_LABEL, safe_load_pickle, save_annotations
from epam_core.errors import DataError, EpamError, OutputError
from epam_core.outputs import check_writable
from epam_core.poses.landmarks import blazepose_to_coco17
from epam_core.poses.tracking import track_identities

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("mediapipe_worker.py")
REPO = Path(__file__).resolve().parents[2]
POSE_VENV = ".venv-poses"
POSES_PYTHON_ENV = "EPAM_POSES_PYTHON"  # overrides where the MediaPipe interpreter is
# The landmark model sees a 256x256 crop of the person, so frames are shrunk to this longer side before
# inference: on the NTU clip (1920x1080) agreement with the Kinect joints is the same as at full size.
MAX_SIDE = 640
MAX_PERSONS = 2  # as pyskl's NTU files: the two-person classes need both skeletons

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], message), e.g. a Streamlit progress bar


@dataclass(frozen=True)
class VideoPoses:
    """MediaPipe's output for one video: K = max_persons track slots per frame (not yet identities)."""

    path: Path
    landmarks: (
        np.ndarray
    )  # (T, K, 33, 3) float32: x, y in original-frame pixels, visibility; 0 in empty slots
    detected: np.ndarray  # (T, K) bool: a person in this slot
    height: int
    width: int
    fps: float


def pose_python() -> Path:
    """The Python interpreter that has MediaPipe: $EPAM_POSES_PYTHON, this one, or ``.venv-poses``."""
    if os.environ.get(POSES_PYTHON_ENV):
        return Path(os.environ[POSES_PYTHON_ENV])
    if importlib.util.find_spec("mediapipe") is not None:
        return Path(sys.executable)
    for root in (REPO, Path.cwd()):
        python = root / POSE_VENV / "bin" / "python"
        if python.is_file():
            return python
    raise EpamError(
        REPO / POSE_VENV,
        "pose extraction needs MediaPipe, which lives in its own environment: run `make poses` "
        f"to create it (or set {POSES_PYTHON_ENV} to a Python that has mediapipe==0.10.21)",
    )


def run_worker(
    videos: Sequence[Path],
    out_dir: Path,
    max_side: int,
    on_frame: Callable[[int, int], None],
    max_persons: int = MAX_PERSONS,
) -> list[Path]:
    """Run the MediaPipe worker on ``videos``; ``on_frame(frames_done, frames_total)`` after each frame.

    Returns the worker's ``.npz`` file per video. A bad video raises ``DataError`` naming it.
    """
    python = pose_python()
    cmd = [str(python), str(WORKER), "--out-dir", str(out_dir), "--max-side", str(max_side)]
    cmd += ["--max-persons", str(max_persons)]
    cmd += [str(v) for v in videos]
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    files: list[Path] = []
    total = done = 0
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.startswith("EPAM "):
                    log.debug("worker: %s", line.rstrip())
                    continue
                event: dict[str, Any] = json.loads(line[5:])
                if event["event"] == "plan":
                    total = sum(event["frames"])
                elif event["event"] == "frame":
                    done += 1
                    on_frame(done, max(total, done))
                elif event["event"] == "done":
                    files.append(Path(event["file"]))
                elif event["event"] == "error":
                    raise DataError(videos[event["video"]], event["problem"])
            status = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if status != 0 or len(files) != len(videos):
            stderr.seek(0)
            tail = stderr.read()[-2000:].strip()
            raise EpamError(python, f"the MediaPipe worker failed (exit status {status}):\n{tail}")
    return files


def extract_video_poses(
    videos: Sequence[str | Path],
    max_side: int = MAX_SIDE,
    progress: Progress | None = None,
    max_persons: int = MAX_PERSONS,
) -> list[VideoPoses]:
    """MediaPipe Pose on every frame of each video (up to ``max_persons`` people per frame), with a tqdm bar
    (and ``progress`` when given)."""
    if not isinstance(max_persons, int) or max_persons < 1:
        raise EpamError(None, f"--max-persons must be a whole number of at least 1, got {max_persons!r}")
    videos = [Path(v) for v in videos]
    for video in videos:
        if not video.is_file():
            raise DataError(video, "video not found")
        if video.stat().st_size == 0:
            raise DataError(video, "is empty (0 bytes)")
    with tempfile.TemporaryDirectory(prefix="epam-poses-") as tmp, tqdm(desc="poses", unit="frame") as bar:

        def on_frame(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
            if progress is not None:
                progress(done / total, f"pose extraction: frame {done} of {total}")

        files = run_worker(videos, Path(tmp), max_side, on_frame, max_persons)
        poses = []
        for video, file in zip(videos, files, strict=True):
            with np.load(file) as npz:
                poses.append(
                    VideoPoses(
                        path=video,
                        landmarks=npz["landmarks"].astype(np.float32),
                        detected=npz["detected"].astype(bool),
                        height=int(npz["height"]),
                        width=int(npz["width"]),
                        fps=float(npz["fps"]),
                    )
                )
    return poses


def to_annotation(
    poses: VideoPoses, label: int = UNKNOWN_LABEL, frame_dir: str | None = None
) -> dict[str, Any]:
    """A pyskl sample from MediaPipe's landmarks; ``DataError`` when nobody was found.

    Keypoints that MediaPipe places far outside the image (it extrapolates joints of a cut-off body) get
    score 0, as do all keypoints of a person in frames where they were not found. The people of each frame
    become persons with identities (``tracking.track_identities``), highest total score first, at most K
    (the worker's slots): keypoint (M, T, 17, 2) with M <= K.
    """
    num_frames, max_persons = poses.detected.shape
    if not poses.detected.any():
        raise DataError(poses.path, f"no person found in any of its {num_frames} frames")
    keypoint, score = blazepose_to_coco17(poses.landmarks)  # (T, K, 17, 2), (T, K, 17)
    size = np.array([poses.width, poses.height], dtype=np.float32)
    outside = (
        (keypoint < -OUT_OF_IMAGE_TOLERANCE * size) | (keypoint > (1 + OUT_OF_IMAGE_TOLERANCE) * size)
    ).any(-1)
    score[outside | ~poses.detected[..., None]] = 0
    keypoint[score == 0] = 0
    keypoint, score = track_identities(keypoint, score)  # (N, T, 17, 2), (N, T, 17), best first
    keypoint, score = keypoint[:max_persons], score[:max_persons]  # (M, T, 17, 2), (M, T, 17)
    frames = ", ".join(str(int((s > 0).any(-1).sum())) for s in score)
    log.info("%s: %d person(s), found in %s of %d frames", poses.path.name, len(score), frames, num_frames)
    return {
        "frame_dir": frame_dir or poses.path.stem,
        "filename": poses.path.name,
        "label": int(label),
        "img_shape": (poses.height, poses.width),
        "original_shape": (poses.height, poses.width),
        "total_frames": num_frames,
        "keypoint": keypoint,  # (M, T, 17, 2)
        "keypoint_score": score,  # (M, T, 17)
        "fps": poses.fps,
    }


def check_annotation_output(out: Path, overwrite: bool) -> None:
    """Refuse (``OutputError``) to write the annotation file ``out`` over a folder, over an existing file without
    ``overwrite``, or over a file that is not a pyskl annotation pickle; checked before the long extraction."""
    if out.is_dir():
        raise OutputError(out, "is a folder; --out names the annotation file (.pkl) to write")
    if not (out.exists() or out.is_symlink()):
        check_writable(out)
        return
    if not overwrite:
        raise OutputError(out, "already exists; choose another --out or pass --overwrite")
    try:
        data = safe_load_pickle(out, "pyskl annotation")
    except DataError:
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("annotations"), list)) or out.is_symlink():
        raise OutputError(
            out, "is not a pyskl annotation file; refusing to replace it (--overwrite only replaces those)"
        )


def extract_poses(
    videos: Sequence[str | Path],
    out: str | Path,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    max_side: int = MAX_SIDE,
    progress: Progress | None = None,
    overwrite: bool = False,
    max_persons: int = MAX_PERSONS,
) -> Path:
    """Extract the poses of ``videos`` into the pyskl file ``out`` (written atomically; split "all").

    ``labels``: one class index per video (-1 = unknown, the default); ``class_names`` is stored in the file;
    ``max_persons``: people per frame (pyskl layout: keypoint (M, T, 17, 2), M <= max_persons).
    An existing ``out`` is replaced only with ``overwrite``, and only when it is a pyskl annotation file.
    """
    out = Path(out)
    check_annotation_output(out, overwrite)
    videos = [Path(v) for v in videos]
    labels = [UNKNOWN_LABEL] * len(videos) if labels is None else [int(x) for x in labels]
    if len(labels) != len(videos):
        raise ValueError(f"{len(labels)} labels for {len(videos)} videos")
    names = [v.stem for v in videos]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(out, f"two videos have the name {dup!r}; sample ids (file names) must be unique")
    poses = extract_video_poses(videos, max_side=max_side, progress=progress, max_persons=max_persons)
    annotations = [to_annotation(p, label) for p, label in zip(poses, labels, strict=True)]
    return save_annotations(out, annotations, {"all": names}, class_names=class_names)
