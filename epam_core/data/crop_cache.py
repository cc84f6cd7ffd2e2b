"""The crop cache (``epam prepare``): every clip decoded once, its person crops stored at the model's size.

Evaluating NTU-size videos is bound by decoding (1920x1080 H.264, ~100 frames per clip). The cache keeps
what decoding and cropping produce, so evaluations, robustness sweeps, training epochs and the dashboard
start from the crops. Clips built from the cache are identical to the ones built from the videos
(``pipeline.clip_from_crops``): same frames, same box, so the same logits.

Layout of a cache directory::

    cache.json          {"format": "epam-crop-cache", "format_version": 1, "frames": "test" | "all",
                         "input": {pose_frames, rgb_frames, rgb_size, crop_padding, num_joints},
                         "annotation": path it was prepared from, "videos": directory}
    clips/<frame_dir>.npz   one uncompressed NumPy archive per sample:
        frames          uint8 (T_c, S, S, 3)  RGB person crops, S = rgb_size
        frame_indices   int64 (T_c,)          the video frame of each crop, ascending
        box             int64 (4,)            (x0, y0, x1, y1) crop box in video pixels
        video_shape     int64 (2,)            (h, w) of the video frames
        keypoint        float32 (M, T, V, 2)  the annotation's keypoints (annotation pixels), all frames
        keypoint_score  float32 (M, T, V)

``frames="test"`` stores the deterministic test-time RGB frames (16 per clip in the paper preset, about
2.4 MB); ``frames="all"`` stores every frame, which training's random sampling needs. Each clip file is
written atomically, so an interrupted ``prepare`` leaves only complete files and a rerun resumes. A clip
whose annotation keypoints differ from the stored ones is refused (the cache is stale).
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from tqdm import tqdm

from epam_core.config import InputConfig
from epam_core.data.crop import Box
from epam_core.data.loader import EpamLoader
from epam_core.data.pipeline import Clip, clip_from_crops, load_crops
from epam_core.data.pyskl import normalize_annotation
from epam_core.data.sampling import pose_indices, rgb_indices
from epam_core.errors import DataError, OutputError
from epam_core.outputs import atomic_write_file

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "epam-crop-cache", 1
INDEX = "cache.json"
CLIPS = "clips"
FRAME_MODES = ("test", "all")
CROP_FIELDS = (
    "pose_frames",
    "rgb_frames",
    "rgb_size",
    "crop_padding",
    "num_joints",
)  # what the crops depend on
CLIP_ARRAYS = ("frames", "frame_indices", "box", "video_shape", "keypoint", "keypoint_score")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class CacheSpec:
    """What a cache holds: the crop settings and which frames of each clip."""

    input: dict[str, Any]  # the CROP_FIELDS of the InputConfig
    frames: str  # "test" or "all"

    @classmethod
    def of(cls, input_cfg: InputConfig, frames: str) -> CacheSpec:
        if frames not in FRAME_MODES:
            raise ValueError(f"frames must be one of {FRAME_MODES}, got {frames!r}")
        config = asdict(input_cfg)
        return cls({k: config[k] for k in CROP_FIELDS}, frames)


def clip_file(root: str | Path, frame_dir: str) -> Path:
    """``root/clips/<frame_dir>.npz``; sample ids that are not plain file names are refused."""
    if not _SAFE_NAME.fullmatch(frame_dir):
        raise DataError(
            None, f"sample id {frame_dir!r} cannot name a cache file (letters, digits, _.+- only)"
        )
    return Path(root) / CLIPS / f"{frame_dir}.npz"


def cached_frame_indices(ann: Mapping[str, Any], input_cfg: InputConfig, frames: str) -> np.ndarray:
    """The frames a cache of mode ``frames`` stores for a sample."""
    total = int(ann["total_frames"])
    if frames == "all":
        return np.arange(total, dtype=np.int64)
    return np.unique(rgb_indices(pose_indices(total, input_cfg), input_cfg.frame_stride))


class CropCache:
    """A prepared cache directory, opened for reading; ``load_clip`` stands in for ``pipeline.load_clip``."""

    def __init__(self, root: str | Path, input_cfg: InputConfig | None = None) -> None:
        self.root = Path(root)
        index = self.root / INDEX
        if not index.is_file():
            raise DataError(self.root, f"is not a crop cache (no {INDEX}; make one with `epam prepare`)")
        try:
            meta = json.loads(index.read_text())
        except (OSError, ValueError) as err:
            raise DataError(index, f"cannot be read ({err})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise DataError(index, f"is not an {FORMAT} index")
        if meta.get("format_version") != FORMAT_VERSION:
            raise DataError(
                index, f"format version {meta.get('format_version')} (this code reads {FORMAT_VERSION})"
            )
        if not isinstance(meta.get("input"), dict) or meta.get("frames") not in FRAME_MODES:
            raise DataError(index, "lacks its 'input' settings or 'frames' mode")
        self.meta = meta
        self.spec = CacheSpec(dict(meta["input"]), str(meta["frames"]))
        if input_cfg is not None:
            self.check_fits(input_cfg)

    def check_fits(self, input_cfg: InputConfig) -> None:
        """Raise ``DataError`` unless the cache was cropped with ``input_cfg``'s settings."""
        wanted = CacheSpec.of(input_cfg, self.spec.frames).input
        differ = [
            f"{k} {self.spec.input.get(k)} (model: {v})"
            for k, v in wanted.items()
            if self.spec.input.get(k) != v
        ]
        if differ:
            raise DataError(self.root, f"was prepared for other inputs than the model's: {', '.join(differ)}")

    def load_clip(
        self,
        annotation: Mapping[str, Any],
        input_cfg: InputConfig,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> Clip:
        """The sample's clip from its crops: equal to ``pipeline.load_clip`` on its video."""
        path = clip_file(self.root, str(annotation["frame_dir"]))
        if not path.is_file():
            raise DataError(path, "not in the crop cache (run `epam prepare` again to complete it)")
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = {k: data[k] for k in CLIP_ARRAYS}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise DataError(path, f"is not a readable crop-cache file ({err})") from None
        ann = normalize_annotation(annotation, None, 0)
        if not (
            np.array_equal(stored["keypoint"], ann["keypoint"].astype(np.float32))
            and np.array_equal(stored["keypoint_score"], ann["keypoint_score"].astype(np.float32))
        ):
            raise DataError(
                path, "was cropped for other keypoints than the annotation's (stale cache: prepare again)"
            )
        frame_indices, frames = stored["frame_indices"], stored["frames"]

        def read_crops(indices: np.ndarray, box: Box) -> np.ndarray:
            if tuple(int(v) for v in stored["box"]) != tuple(box):
                raise DataError(
                    path, f"holds crops of box {stored['box'].tolist()}, the clip's box is {list(box)}"
                )
            pos = np.searchsorted(frame_indices, indices)
            if np.any(pos >= len(frame_indices)) or np.any(
                frame_indices[np.minimum(pos, len(frame_indices) - 1)] != indices
            ):
                missing = sorted(set(np.asarray(indices).tolist()) - set(frame_indices.tolist()))
                raise DataError(
                    path,
                    f"holds no crops of frames {missing[:5]} (a '{self.spec.frames}' cache; training samples "
                    "random frames and needs `epam prepare --frames all`)",
                )
            return frames[pos]  # (T_rgb, S, S, 3)

        video_shape = tuple(int(v) for v in stored["video_shape"])
        return clip_from_crops(ann, video_shape, read_crops, input_cfg, train=train, rng=rng, source=path)


def open_cache(
    cache: str | Path | CropCache | None, input_cfg: InputConfig, train: bool = False
) -> CropCache | None:
    """``cache`` opened and checked against ``input_cfg`` (and, for ``train``, holding every frame); None stays None."""
    if cache is None:
        return None
    opened = cache if isinstance(cache, CropCache) else CropCache(cache)
    opened.check_fits(input_cfg)
    if train and opened.spec.frames != "all":
        raise DataError(
            opened.root,
            f"is a '{opened.spec.frames}' crop cache; training samples random frames and needs one made with "
            "`epam prepare --frames all`",
        )
    return opened


class _PrepareDataset(Dataset):
    """Writes one clip's cache file per item (in a DataLoader worker); returns whether it was written."""

    def __init__(
        self,
        samples: Sequence[dict[str, Any]],
        video_root: Path,
        out: Path,
        input_cfg: InputConfig,
        frames: str,
    ) -> None:
        self.samples, self.video_root, self.out = list(samples), video_root, out
        self.input_cfg, self.frames = input_cfg, frames

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> bool:
        from epam_core.data.dataset import find_video

        ann = normalize_annotation(self.samples[index], None, index)
        path = clip_file(self.out, ann["frame_dir"])
        if path.is_file():  # written by an earlier run: files appear complete or not at all
            return False
        indices = cached_frame_indices(ann, self.input_cfg, self.frames)
        crops, box, video_shape = load_crops(
            ann, find_video(self.video_root, ann["frame_dir"]), self.input_cfg, indices
        )

        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:  # a file object: np.savez would append .npz to the temporary name
                np.savez(
                    f,
                    frames=crops,
                    frame_indices=indices,
                    box=np.asarray(box, dtype=np.int64),
                    video_shape=np.asarray(video_shape, dtype=np.int64),
                    keypoint=ann["keypoint"].astype(np.float32),
                    keypoint_score=ann["keypoint_score"].astype(np.float32),
                )

        atomic_write_file(path, write)
        return True


def prepare_cache(
    samples: Sequence[dict[str, Any]],
    video_root: str | Path,
    out: str | Path,
    input_cfg: InputConfig,
    *,
    frames: str = "test",
    workers: int = 0,
    annotation: str | Path | None = None,
) -> tuple[int, int]:
    """Write (or complete) the cache ``out`` for ``samples``; (clips written, clips already there).

    An existing ``out`` must be a cache with the same spec; anything else there is refused, never replaced.
    """
    out, video_root = Path(out), Path(video_root)
    spec = CacheSpec.of(input_cfg, frames)
    index = out / INDEX
    if out.exists() and not out.is_dir():
        raise OutputError(out, "exists and is not a directory; choose another --out")
    if index.is_file():
        existing = CropCache(out)
        if existing.spec != spec:
            raise OutputError(
                out, f"is a crop cache of other settings ({existing.spec}); choose another --out"
            )
    elif out.exists() and any(out.iterdir()):
        raise OutputError(out, "exists and is not a crop cache; choose an empty or new --out")
    for ann in samples:
        clip_file(out, str(ann["frame_dir"]))  # refuse unusable sample ids before any work
    try:
        (out / CLIPS).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(out, f"cannot be created ({err.strerror})") from None
    if not index.is_file():
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "frames": frames,
            "input": spec.input,
            "annotation": None if annotation is None else str(Path(annotation).resolve()),
            "videos": str(video_root.resolve()),
        }
        atomic_write_file(index, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
    dataset = _PrepareDataset(samples, video_root, out, input_cfg, frames)
    loader = EpamLoader(dataset, batch_size=None, num_workers=workers)
    written = 0
    for was_written in tqdm(loader, total=len(dataset), desc="prepare", unit="clip"):
        written += int(was_written)
    log.info("%s: %d clips written, %d already there", out, written, len(dataset) - written)
    return written, len(dataset) - written
