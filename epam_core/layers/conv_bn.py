"""Conv + BatchNorm (+ ReLU) with mmcv ``ConvModule`` parameter names (``conv``, ``bn``), computed in 2-D.

X-ShiftNet (EPAM-Net, https://arxiv.org/abs/2408.05421) has no temporal convolution, so every Conv3d of the
authors' code has a (1, k, k) kernel: it convolves each frame on its own. The convolution keeps the official
5-D weight (state dicts load as they are) and runs as a 2-D one on the (N*T, C, H, W) batch of frames. The
BatchNorm is ``nn.BatchNorm2d`` on that batch: the same parameters and buffers as the authors' BatchNorm3d,
and the same statistics, since both normalise each channel over (N, T, H, W).

``epam_core.fast.conv_bn`` holds the CPU-inference form (BN folded into the weights, one fused oneDNN call).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class FrameConv(nn.Conv3d):
    """A Conv3d with a (1, k, k) kernel, applied frame by frame as a 2-D convolution.

    forward: (N*T, C_in, H, W) -> (N*T, C_out, H / stride, W / stride); the weight is (C_out, C_in, 1, k, k).
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x,
            self.weight.squeeze(2),
            self.bias,
            self.stride[1:],
            self.padding[1:],
            self.dilation[1:],
            self.groups,
        )


class ConvBN(nn.Module):
    """relu(bn(conv(x))), or bn(conv(x)) when ``relu=False``; forward: (N*T, C_in, H, W) -> (N*T, C_out, H', W')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        *,
        stride: int = 1,
        groups: int = 1,
        relu: bool = True,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv = FrameConv(
            in_channels,
            out_channels,
            (1, kernel_size, kernel_size),
            stride=(1, stride, stride),
            padding=(0, pad, pad),
            groups=groups,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn(self.conv(x))
        return F.relu(out, inplace=True) if self.relu else out

    def extra_repr(self) -> str:
        return f"relu={self.relu}"
