"""Video decoding with OpenCV and VP9 WebM writing with PyAV.

Frames are returned in RGB order (the order the paper's decord pipeline gives and ImageNet statistics
assume). ``read_frames`` decodes each needed frame once: it walks forward with ``grab`` through short
gaps and seeks only across long ones. ``write_webm`` writes VP9 WebM, which Chromium (and so the
dashboard) plays. It uses PyAV rather than OpenCV's writer because OpenCV gives no control over libvpx's
speed settings: the real-time preset encodes SynthActions clips several times faster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from epam_core.errors import DataError
from epam_core.runs import atomic_write_file

log = logging.getLogger(__name__)

# Gaps (in frames) up to this are crossed by decoding forward; longer ones by seeking. Seeking restarts
# decoding at the previous keyframe, so it only pays off across gaps longer than a typical GOP.
SEEK_GAP = 48
# libvpx-vp9 in its real-time mode at the fastest speed; constant quality (crf) with no bitrate cap. One
# thread per encoder: parallelism comes from encoding several videos at once.
VP9_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "crf": "24", "b:v": "0", "threads": "1"}


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    width: int
    height: int


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "video not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DataError(path, "is not a video OpenCV can open")
    return cap


def video_info(path: str | Path) -> VideoInfo:
    """Frame count, fps and frame size; the frames are counted by decoding when the container lacks a count."""
    cap = _open(path)
    try:
        num = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if num <= 0:  # e.g. WebM without a duration: count by grabbing
            num = 0
            while cap.grab():
                num += 1
    finally:
        cap.release()
    if num <= 0 or width <= 0 or height <= 0:
        raise DataError(path, "is not a video (no decodable frames)")
    return VideoInfo(num_frames=num, fps=fps, width=width, height=height)


def read_frames(path: str | Path, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Decode the frames at ``indices`` (any order, repeats allowed) as RGB uint8.

    Shape: len(indices) × H × W × 3. Raises ``DataError`` if an index lies beyond the last decodable frame.
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        raise ValueError("read_frames needs at least one frame index")
    if indices.min() < 0:
        raise ValueError(f"frame indices must be >= 0, got {indices.min()}")
    wanted = np.unique(indices)  # sorted, each decoded once
    decoded: dict[int, np.ndarray] = {}
    cap = _open(path)
    try:
        pos = 0  # index of the frame the next grab() returns
        for target in wanted.tolist():
            if target - pos > SEEK_GAP:
                cap.set(cv2.CAP_PROP_POS_FRAMES, target)
                pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
                if not 0 <= pos <= target:  # the container cannot seek there: walk from the start
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    pos = 0
            while pos <= target:
                if not cap.grab():
                    raise DataError(
                        path,
                        f"has only {pos} decodable frames but frame {target} was requested "
                        "(video shorter than its annotation?)",
                    )
                pos += 1
            ok, frame = cap.retrieve()
            if not ok:
                raise DataError(path, f"frame {target} cannot be decoded")
            decoded[target] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return np.stack([decoded[i] for i in indices.tolist()])  # (len, H, W, 3)


def write_webm(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    """Write RGB uint8 frames (T × H × W × 3) as a VP9 WebM video, atomically."""
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} {frames.shape}")
    if path.suffix.lower() != ".webm":
        raise ValueError(f"{path}: write_webm writes .webm files")
    height, width = frames.shape[1:3]
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        import av  # imported here: only writers need it

        try:
            with av.open(str(tmp), "w", format="webm") as container:
                stream = container.add_stream(
                    "libvpx-vp9", rate=Fraction(fps).limit_denominator(1001), options=VP9_OPTIONS
                )
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                for frame in frames:
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                container.mux(stream.encode())  # flush the encoder
        except av.FFmpegError as err:
            raise DataError(path, f"the VP9 encoder failed ({err})") from None
        if tmp.stat().st_size == 0:
            raise DataError(path, "the VP9 encoder wrote nothing")

    return atomic_write_file(path, write)
