"""Video decoding with PyAV (and OpenCV as its reference), VP9 WebM writing with PyAV.

Frames are returned in RGB order (the order the paper's decord pipeline gives and ImageNet statistics
assume). ``read_frames`` reads a clip's packets once and decodes only what the wanted frames need: for
H.264, the reference pictures since the last IDR before each wanted frame and the frames themselves
(non-reference B-frames and whole IDR periods without a wanted frame are never decoded; see ``h264``),
with FFmpeg frame threads outside DataLoader workers. It gives the same pixels as ``read_frames_opencv``,
a plain OpenCV ``grab``/``retrieve`` loop. ``video_info`` still asks OpenCV.

``write_webm`` writes VP9 WebM, which Chromium (and so the dashboard) plays. It uses PyAV rather than OpenCV's writer because OpenCV gives no control over libvpx's
speed settings: the real-time preset encodes SynthActions clips several times faster.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import cv2
import numpy as np

from epam_core.data import h264
from epam_core.errors import DataError
from epam_core.outputs import atomic_write_file

if TYPE_CHECKING:
    from av.packet import Packet
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# Gaps (in frames) up to this are crossed by decoding forward; longer ones by seeking. Seeking restarts
# decoding at the previous keyframe, so it only pays off across gaps longer than a typical GOP.
SEEK_GAP = 48
MAX_DECODE_THREADS = 4  # FFmpeg frame threads of one decoder outside DataLoader workers
# libvpx-vp9 in its real-time mode at the fastest speed; constant quality (crf) with no bitrate cap. One
# thread per encoder: parallelism comes from encoding several videos at once.
VP9_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "crf": "24", "b:v": "0", "threads": "1"}


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    width: int
    height: int


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "video not found")
    return path


def _open(path: str | Path) -> cv2.VideoCapture:
    path = _existing(path)
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
    """Decode the frames at ``indices`` (any order, repeats allowed) as RGB uint8, with PyAV.

    Shape: len(indices) × H × W × 3. Raises ``DataError`` if an index lies beyond the last decodable frame.
    The same frames, bit for bit, as ``read_frames_opencv``. For H.264 only the packets a wanted frame
    depends on are decoded (``_sparse_plan``); other codecs are decoded in full up to the last wanted frame.
    """
    indices = _check_indices(indices)
    wanted = np.unique(indices).tolist()  # sorted, each decoded once
    import av  # imported here: the OpenCV path and writers do not need it

    try:
        container = av.open(str(_existing(path)))
    except av.FFmpegError:
        raise DataError(path, "is not a video PyAV can open") from None
    try:
        if not container.streams.video:
            raise DataError(path, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = "FRAME", decoder_threads()
        packets = [p for p in container.demux(stream) if p.size]  # decode order; a few MB per clip
        plan = _sparse_plan(stream, packets, wanted, path)
        decoded = _decode_sparse(stream, packets, plan) if plan is not None else None
        if decoded is None:  # not H.264, a stream the planner does not model, or the plan did not hold
            decoded = _decode_all(stream, packets, wanted, path)
    except av.FFmpegError as err:
        raise DataError(path, f"cannot be decoded ({err})") from None
    finally:
        container.close()
    return np.stack([decoded[i] for i in indices.tolist()])  # (len, H, W, 3)


def decoder_threads() -> int:
    """FFmpeg frame threads per decoder: one inside a DataLoader worker (the workers already use the
    cores), else up to ``MAX_DECODE_THREADS``."""
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        return 1
    return max(1, min(MAX_DECODE_THREADS, os.cpu_count() or 1))


@dataclass(frozen=True)
class _SparsePlan:
    keep: list[int]  # packet positions to decode, in decode order
    frame_of_pts: dict[int, int]  # pts of each wanted packet -> its frame index
    order: dict[int, int]  # pts of each kept picture -> its frame index (to check the decoder's output order)


def _sparse_plan(
    stream: VideoStream, packets: list[Packet], wanted: list[int], path: str | Path
) -> _SparsePlan | None:
    """The packets the wanted frames need: reference pictures since their IDR, and themselves (H.264 only)."""
    if stream.codec_context.name != "h264":
        return None
    pts = [p.pts for p in packets]
    if None in pts or len(set(pts)) != len(pts) or any(p.is_discard for p in packets):
        return None  # frames must be told apart by pts, and none dropped by an edit list (OpenCV skips those)
    headers = h264.picture_headers((bytes(p) for p in packets), stream.codec_context.extradata)
    if headers is None:
        return None
    pictures = [i for i, h in enumerate(headers) if h is not None]  # packet positions, decode order
    if wanted[-1] >= len(pictures):
        _too_short(path, len(pictures), wanted[-1])
    period = np.cumsum([headers[i].is_idr for i in pictures])  # IDR period of each picture
    display = sorted(range(len(pictures)), key=lambda k: (period[k], headers[pictures[k]].poc, k))
    frame_index = np.empty(len(pictures), dtype=np.int64)
    frame_index[display] = np.arange(len(pictures))  # picture k (decode order) is frame frame_index[k]
    wanted_pics = {int(np.flatnonzero(frame_index == f)[0]) for f in wanted}
    last_wanted_in_period: dict[int, int] = {}
    for k in sorted(wanted_pics):
        last_wanted_in_period[period[k]] = k
    keep_pic = [
        k in wanted_pics or (headers[i].is_reference and k < last_wanted_in_period.get(period[k], -1))
        for k, i in enumerate(pictures)
    ]
    last = pictures[max(wanted_pics)]
    is_kept_picture = dict(zip(pictures, keep_pic, strict=True))
    keep = [i for i in range(last + 1) if is_kept_picture.get(i, True)]  # packets without a picture stay
    return _SparsePlan(
        keep=keep,
        frame_of_pts={pts[pictures[k]]: int(frame_index[k]) for k in wanted_pics},
        order={pts[pictures[k]]: int(frame_index[k]) for k in range(len(pictures)) if keep_pic[k]},
    )


def _decode_sparse(
    stream: VideoStream, packets: list[Packet], plan: _SparsePlan
) -> dict[int, np.ndarray] | None:
    """Decode the planned packets; None if the decoder's output contradicts the plan (frames out of order)."""
    decoded: dict[int, np.ndarray] = {}
    shown: list[int] = []  # frame index of every output frame, in output order
    codec = stream.codec_context
    for frame in (f for i in plan.keep for f in codec.decode(packets[i])):
        shown.append(plan.order.get(frame.pts, -1))
        if frame.pts in plan.frame_of_pts:
            decoded[plan.frame_of_pts[frame.pts]] = frame.to_ndarray(format="rgb24")
    for frame in codec.decode(None):  # flush: the decoder holds back frames to reorder them
        shown.append(plan.order.get(frame.pts, -1))
        if frame.pts in plan.frame_of_pts:
            decoded[plan.frame_of_pts[frame.pts]] = frame.to_ndarray(format="rgb24")
    if len(decoded) != len(plan.frame_of_pts) or -1 in shown or shown != sorted(shown):
        log.debug("sparse decode did not hold (output order %s); decoding every frame", shown)
        return None
    return decoded


def _decode_all(
    stream: VideoStream, packets: list[Packet], wanted: list[int], path: str | Path
) -> dict[int, np.ndarray]:
    """Decode from the start, counting output frames as OpenCV does, up to the last wanted frame."""
    codec = stream.codec_context
    codec.flush_buffers()  # a fresh decoder state, also after a sparse decode that did not hold
    targets = set(wanted)
    decoded: dict[int, np.ndarray] = {}
    count = 0
    for packet in [*packets, None]:  # None flushes the decoder at the end
        for frame in codec.decode(packet):
            if count in targets:
                decoded[count] = frame.to_ndarray(format="rgb24")
            count += 1
            if count > wanted[-1]:
                return decoded
    _too_short(path, count, wanted[-1])


def _too_short(path: str | Path, num_frames: int, target: int) -> NoReturn:
    raise DataError(
        path,
        f"has only {num_frames} decodable frames but frame {target} was requested "
        "(video shorter than its annotation?)",
    )


def _check_indices(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        raise ValueError("read_frames needs at least one frame index")
    if indices.min() < 0:
        raise ValueError(f"frame indices must be >= 0, got {indices.min()}")
    return indices


def read_frames_opencv(path: str | Path, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``read_frames`` with OpenCV: every frame decoded with ``grab``, the wanted ones converted.

    The reference that ``read_frames`` is tested and benchmarked against. It seeks across gaps longer than
    ``SEEK_GAP``, where seeking restarts decoding at the previous keyframe.
    """
    indices = _check_indices(indices)
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
                    _too_short(path, pos, target)
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
