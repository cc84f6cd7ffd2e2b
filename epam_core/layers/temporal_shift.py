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
        x: (N*T, C, H, W), frames of one clip consecutive.
        num_segments: T.
        fold_div: 8 shifts 1/8 + 1/8 of the channels, 4 shifts 1/4 + 1/4.

    Returns:
        (N*T, C, H, W), in the memory format of ``x``.
    """
    nt, c, h, w = x.shape
    x5 = x.reshape(nt // num_segments, num_segments, c, h, w)  # (N, T, C, H, W)
    fold = c // fold_div
    out = torch.zeros_like(x5)
    out[:, :-1, :fold] = x5[:, 1:, :fold]  # from the next frame
    out[:, 1:, fold : 2 * fold] = x5[:, :-1, fold : 2 * fold]  # from the previous frame
    out[:, :, 2 * fold :] = x5[:, :, 2 * fold :]  # not shifted
    return out.view(nt, c, h, w)


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
