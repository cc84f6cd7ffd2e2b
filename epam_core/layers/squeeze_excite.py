"""Squeeze-and-excitation (Hu et al., https://arxiv.org/abs/1709.01507) as in X3D / X-ShiftNet
(EPAM-Net, https://arxiv.org/abs/2408.05421): pool over (T, H, W) of each clip, 1x1x1 convs with bias.

The two convs keep the authors' Conv3d shapes (``fc1``, ``fc2``); the computation is a pair of matrix products.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def se_channels(channels: int, ratio: float, min_channels: int = 8, divisor: int = 8) -> int:
    """X3D's ``_round_width(channels, ratio)``: 54 -> 8, 108 -> 8, 216 -> 16, 432 -> 32."""
    width = channels * ratio
    rounded = max(min_channels, int(width + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * width:
        rounded += divisor
    return int(rounded)


class SqueezeExcite(nn.Module):
    """x * sigmoid(fc2(relu(fc1(mean_{T,H,W} x)))); forward: (N*T, C, H, W) with T given -> same shape."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = se_channels(channels, ratio)
        self.fc1 = nn.Conv3d(channels, hidden, 1, bias=True)
        self.fc2 = nn.Conv3d(hidden, channels, 1, bias=True)

    def gate(self, pooled: Tensor) -> Tensor:
        """(N, C) means over each clip's (T, H, W) -> (N, C) channel gates in (0, 1)."""
        hidden = F.relu(F.linear(pooled, self.fc1.weight.flatten(1), self.fc1.bias))  # (N, C_se)
        return torch.sigmoid(F.linear(hidden, self.fc2.weight.flatten(1), self.fc2.bias))

    def forward(self, x: Tensor, num_segments: int) -> Tensor:
        nt, c, h, w = x.shape
        x5 = x.view(nt // num_segments, num_segments, c, h, w)  # (N, T, C, H, W)
        gate = self.gate(x5.mean(dim=(1, 3, 4)))  # (N, C)
        return (x5 * gate[:, None, :, None, None]).reshape(nt, c, h, w)  # a view for channels_last x
