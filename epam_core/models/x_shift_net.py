"""X-ShiftNet: X3D without temporal convolutions, with a temporal shift in every residual block.

EPAM-Net: Abdelkawy, Ali, Farag, https://arxiv.org/abs/2408.05421 (RGB and pose backbones);
X3D: Feichtenhofer, https://arxiv.org/abs/2004.04730; TSM: https://arxiv.org/abs/1811.08383.

Activations flow as an (N*T, C, H, W) batch of frames in channels_last memory, and every convolution is a
2-D one (the kernels are (1, k, k)); the parameters keep the authors' Conv3d / BatchNorm shapes and names, so
the official state dicts load strictly. Block::

    x ─┬─ shift ─ conv1 1x1 BN ReLU ─ conv2 3x3 dw /s BN ─ [SE] ─ swish ─ conv3 1x1 BN ─┐
       └───────────────────── [downsample 1x1 /s BN] ─────────────────────────────────(+)─ ReLU

``epam_core.fast`` swaps in the CPU-inference form of the block (frame chunks, fused convolutions).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from epam_core.config import StreamConfig
from epam_core.layers.conv_bn import ConvBN
from epam_core.layers.squeeze_excite import SqueezeExcite
from epam_core.layers.temporal_shift import TemporalShift


class XShiftBlock(nn.Module):
    """One residual block; forward: (N*T, C_in, H, W), T -> (N*T, C_out, H / stride, W / stride)."""

    def __init__(
        self,
        in_channels: int,
        planes: int,
        out_channels: int,
        *,
        stride: int,
        shift_div: int,
        se_ratio: float | None,
        use_swish: bool,
    ) -> None:
        super().__init__()
        # registration order = the authors' state_dict order: downsample, conv1, conv2, conv3, se_module
        if stride != 1 or in_channels != out_channels:
            self.downsample = ConvBN(in_channels, out_channels, 1, stride=stride, relu=False)
        else:
            self.downsample = None
        self.shift = TemporalShift(shift_div)
        self.conv1 = ConvBN(in_channels, planes, 1)
        self.conv2 = ConvBN(planes, planes, 3, stride=stride, groups=planes, relu=False)
        self.conv3 = ConvBN(planes, out_channels, 1, relu=False)
        self.se_module = SqueezeExcite(planes, se_ratio) if se_ratio is not None else None
        self.use_swish = use_swish

    def forward(self, x: Tensor, num_segments: int) -> Tensor:
        out = self.conv1(self.shift(x, num_segments))
        out = self.conv2(out)
        if self.se_module is not None:
            out = self.se_module(out, num_segments)
        if self.use_swish:
            out = F.silu(out)
        out = self.conv3(out)
        identity = x if self.downsample is None else self.downsample(x)  # the unshifted input
        return F.relu(out + identity, inplace=True)


class XShiftStage(nn.ModuleList):
    """The blocks of one stage (``layer1``, ``layer2``, ...); the first one strides and widens."""

    def __init__(self, cfg: StreamConfig, in_channels: int, width: int, stride: int, depth: int) -> None:
        planes = int(width * cfg.bottleneck_factor)
        super().__init__(
            XShiftBlock(
                in_channels if i == 0 else width,
                planes,
                width,
                stride=stride if i == 0 else 1,
                shift_div=cfg.shift_div,
                se_ratio=cfg.se_ratio if i % cfg.se_every == 0 else None,
                use_swish=cfg.use_swish,
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor, num_segments: int) -> Tensor:
        for block in self:
            x = block(x, num_segments)
        return x


class XShiftNet(nn.Module):
    """A stream's backbone: stem ``conv1_s``, stages ``layer1..layerK``, ``conv5``.

    forward: (N, C_in, T, H, W) -> features (N, T, C_out, H / total_stride, W / total_stride), a view of
    channels_last (N*T, C_out, h, w) memory.
    """

    def __init__(self, cfg: StreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1_s = ConvBN(cfg.in_channels, cfg.base_channels, 3, stride=cfg.stem_stride)
        in_channels = cfg.base_channels
        for i, (depth, stride) in enumerate(zip(cfg.stage_blocks, cfg.spatial_strides, strict=True)):
            width = cfg.base_channels * 2**i  # X3D: 24, 48, 96, 192
            self.add_module(f"layer{i + 1}", XShiftStage(cfg, in_channels, width, stride, depth))
            in_channels = width
        self.out_channels = int(in_channels * cfg.conv5_factor)
        self.conv5 = ConvBN(in_channels, self.out_channels, 1)

    def stages(self) -> list[XShiftStage]:
        return [m for m in self.children() if isinstance(m, XShiftStage)]

    def forward(self, x: Tensor) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        x = self.conv1_s(to_frames(x))  # (N*T, C, H, W)
        for stage in self.stages():
            x = stage(x, t)
        x = self.conv5(x)
        return x.view(n, t, *x.shape[1:])  # (N*T, C', h, w) -> (N, T, C', h, w)


def to_frames(x: Tensor) -> Tensor:
    """(N, C, T, H, W) -> the (N*T, C, H, W) batch of frames in channels_last memory (one copy)."""
    n, c, t, h, w = x.shape
    return x.permute(0, 2, 3, 4, 1).contiguous().view(n * t, h, w, c).permute(0, 3, 1, 2)
