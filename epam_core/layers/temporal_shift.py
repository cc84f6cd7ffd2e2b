"""Temporal shift (TSM: Lin, Gan, Han, "TSM: Temporal Shift Module for Efficient Video Understanding",
https://arxiv.org/abs/1811.08383), as used by EPAM-Net's X-ShiftNet blocks (https://arxiv.org/abs/2408.05421).

Zero-padded at both ends (not cyclic). Direction convention of mmaction2's ``TemporalShift.shift``: the first
``C // fold_div`` channels of frame t come from frame t+1, the next ``C // fold_div`` from frame t-1.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def temporal_shift(x: Tensor, num_segments: int, fold_div: int) -> Tensor:
    """Shift 1/fold_div of the channels one step back in time and 1/fold_div one step forward.

    Args:
        x: (N*T, C, H, W), frames of one clip consecutive; any memory format.
        num_segments: T.
        fold_div: 8 shifts 1/8 + 1/8 of the channels, 4 shifts 1/4 + 1/4.

    Returns:
        (N*T, C, H, W) in channels_last memory format.
    """
    nt, c, h, w = x.shape
    x5 = x.permute(0, 2, 3, 1).reshape(nt // num_segments, num_segments, h, w, c)  # (N, T, H, W, C)
    return temporal_shift_window(x5, slice(None), slice(None), fold_div)


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


class TemporalShift(nn.Module):
    """Module form of ``temporal_shift``; ``num_segments`` is given per call because T follows the input."""

    def __init__(self, fold_div: int) -> None:
        super().__init__()
        if fold_div < 2:
            raise ValueError(f"fold_div must be >= 2 (got {fold_div})")
        self.fold_div = fold_div

    def forward(self, x: Tensor, num_segments: int) -> Tensor:
        return temporal_shift(x, num_segments, self.fold_div)

    def extra_repr(self) -> str:
        return f"fold_div={self.fold_div}"
