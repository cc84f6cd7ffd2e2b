"""A torch ``Dataset`` of aligned (RGB clip, pose heatmaps, label, sample id) from a pyskl file and videos."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from epam_core.config import InputConfig
from epam_core.data.pipeline import clip_to_tensors, load_clip
from epam_core.data.pyskl import PoseAnnotations, load_annotations, select_split
from epam_core.errors import DataError

if TYPE_CHECKING:
    from epam_core.data.crop_cache import CropCache
    from epam_core.data.noise import NoiseSpec

log = logging.getLogger(__name__)

# NTU RGB+D ships "<frame_dir>_rgb.avi"; the authors' crops and most others "<frame_dir>.mp4".
VIDEO_SUFFIXES = ("_rgb.avi", "_rgb.mp4", ".mp4", ".avi", ".webm", ".mkv")
FLIP_RATIO = 0.5  # docs/epam_net_spec.md §3.3 step 5


def find_video(video_root: str | Path, frame_dir: str) -> Path:
    """The video of a sample: ``video_root / (frame_dir + suffix)`` for the first suffix that exists."""
    root = Path(video_root)
    for suffix in VIDEO_SUFFIXES:
        path = root / f"{frame_dir}{suffix}"
        if path.is_file():
            return path
    raise DataError(root, f"no video for sample {frame_dir!r} (tried {', '.join(VIDEO_SUFFIXES)})")


def default_videos(annotation: str | Path, videos: str | Path | None) -> Path:
    """``videos``, or the ``videos/`` directory next to the annotation file (the SynthActions layout)."""
    return Path(videos) if videos is not None else Path(annotation).parent / "videos"


class PoseRGBDataset(Dataset):
    """Samples of one split as ``(rgb (3, T_rgb, S, S), heatmaps (V, T_pose, H, W), label, sample_id)``.

    Training: random frame sampling and a random flip (p = 0.5), drawn from a generator seeded by
    (seed, epoch, index), so results do not depend on the DataLoader workers; call ``set_epoch`` every
    epoch. Test: deterministic sampling, no flip. ``noise`` (skeleton noise specs) is seeded per sample.
    With ``cache`` (a crop-cache directory, ``epam prepare``) the crops come from it instead of the videos.
    """

    def __init__(
        self,
        annotations: str | Path | PoseAnnotations,
        video_root: str | Path,
        input_cfg: InputConfig,
        split: str | None = None,
        train: bool = False,
        class_names: Sequence[str] | None = None,
        noise: Sequence[NoiseSpec] | None = None,
        seed: int = 0,
        cache: str | Path | CropCache | None = None,
    ) -> None:
        from epam_core.data.crop_cache import open_cache

        if not isinstance(annotations, PoseAnnotations):
            annotations = load_annotations(annotations, class_names)
        self.class_names = list(class_names) if class_names is not None else annotations.class_names
        self.samples = select_split(annotations, split)
        if self.class_names is not None:
            for ann in self.samples:
                if ann["label"] >= len(self.class_names):
                    raise DataError(
                        annotations.path,
                        f"sample {ann['frame_dir']!r}: label {ann['label']} is outside the class list "
                        f"0..{len(self.class_names) - 1}",
                    )
        self.video_root = Path(video_root)
        self.input_cfg = input_cfg
        self.train = train
        self.noise = list(noise) if noise else None
        self.seed = seed
        self.epoch = 0
        self.cache = open_cache(cache, input_cfg, train=train)

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of a training epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int, str]:
        ann = self.samples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        if self.cache is not None:
            clip = self.cache.load_clip(ann, self.input_cfg, train=self.train, rng=rng)
        else:
            video = find_video(self.video_root, ann["frame_dir"])
            clip = load_clip(ann, video, self.input_cfg, train=self.train, rng=rng)
        flip = bool(rng.random() < FLIP_RATIO) if rng is not None else False
        noise_seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])
        rgb, heatmaps = clip_to_tensors(clip, self.input_cfg, noise=self.noise, seed=noise_seed, flip=flip)
        return rgb, heatmaps, int(ann["label"]), ann["frame_dir"]
