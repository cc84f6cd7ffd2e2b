"""Chunks of frames for the CPU-inference form of X-ShiftNet's block (``ChunkedXShiftBlock``), and the
temporal shift of one chunk.

Every layer of an X-ShiftNet block works frame by frame except the temporal shift at its input and the
squeeze-excitation's mean over the clip, so a block can run its widest part (the shift, conv1 at the input
resolution with 2.25x the channels, the depthwise conv2) a few frames at a time. A chunk small enough to stay
in the CPU's cache between conv1 and conv2 saves the round trip of the block's largest activation through
memory, and no tensor gets large enough for glibc to serve it from fresh mmap'ed pages on every call.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class FrameChunk:
    """Frames ``frames`` of clips ``clips``; ``rows``: the same frames as rows of the (N*T, ...) batch."""

    clips: slice
    frames: slice
    rows: slice

    @property
    def num_frames(self) -> int:
        return self.frames.stop - self.frames.start


def frame_chunks(num_clips: int, num_frames: int, bytes_per_frame: int, budget: int) -> list[FrameChunk]:
    """Chunks that cover the N*T frames in order, each at most ``budget`` bytes (at least one frame).

    Whole clips per chunk when a clip fits in the budget, else runs of frames of one clip, as even as possible
    (T = 16 at 6 frames per chunk: 6, 6, 4 -> three chunks of 6, 5, 5).
    """
    per_chunk = max(1, budget // bytes_per_frame)  # frames
    if per_chunk >= num_frames:
        clips_per_chunk = per_chunk // num_frames
        return [
            FrameChunk(
                slice(n, min(n + clips_per_chunk, num_clips)),
                slice(0, num_frames),
                slice(n * num_frames, min(n + clips_per_chunk, num_clips) * num_frames),
            )
            for n in range(0, num_clips, clips_per_chunk)
        ]
    count = math.ceil(num_frames / per_chunk)
    bounds = [round(i * num_frames / count) for i in range(count + 1)]
    return [
        FrameChunk(slice(n, n + 1), slice(t0, t1), slice(n * num_frames + t0, n * num_frames + t1))
        for n in range(num_clips)
        for t0, t1 in itertools.pairwise(bounds)
    ]


def temporal_shift_window(x5: Tensor, clips: slice, frames: slice, fold_div: int) -> Tensor:
    """The frames ``frames`` of the clips ``clips`` of ``temporal_shift``'s output, read from the whole input.

    Args:
        x5: (N, T, H, W, C), e.g. a view of channels_last (N*T, C, H, W) memory.
        clips, frames: ranges with step 1; the frames next to the window are read, not cut off.

    Returns:
        (k*F, C, H, W) in channels_last memory format: k clips of F frames.
    """
    t = x5.shape[1]
    t0, t1, _ = frames.indices(t)
    fold = x5.shape[-1] // fold_div
    # one dense copy of the window, then the two shifted channel groups from the neighbouring frames
    out = x5[clips, t0:t1].clone(memory_format=torch.contiguous_format)  # (k, F, H, W, C)
    end = min(t1 + 1, t)
    out[:, : end - t0 - 1, ..., :fold] = x5[clips, t0 + 1 : end, ..., :fold]  # from next frame
    if t1 == t:
        out[:, -1, ..., :fold] = 0
    start = max(t0 - 1, 0)
    # from previous frame
    out[:, start - t0 + 1 :, ..., fold : 2 * fold] = x5[clips, start : t1 - 1, ..., fold : 2 * fold]
    if t0 == 0:
        out[:, 0, ..., fold : 2 * fold] = 0
    k, f, h, w, c = out.shape
    return out.view(k * f, h, w, c).permute(0, 3, 1, 2)  # (k*F, C, H, W), channels_last
