"""A literal transcription of the authors' EPAM-Net (https://arxiv.org/abs/2408.05421): Conv3d on NCTHW,
unfused BatchNorm, the shift with ``zeros_like`` and slice copies, swish as ``x * sigmoid(x)``.

It has the same state-dict keys as ``EPAMNet``, so one set of weights loads strictly into both. The tests
and ``epam bench`` use it as the ground truth for the fast implementation; it is not meant for training.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from epam_core.config import AttentionConfig, EPAMNetConfig, StreamConfig
from epam_core.layers.squeeze_excite import se_channels
from epam_core.models.epam_net import EPAMOutput, init_weights


def shift_ncthw(x: Tensor, fold_div: int) -> Tensor:
    """The authors' ``temporalShift`` on (N, C, T, H, W)."""
    fold = x.shape[1] // fold_div
    out = torch.zeros_like(x)
    out[:, :fold, :-1] = x[:, :fold, 1:]  # from next frame
    out[:, fold : 2 * fold, 1:] = x[:, fold : 2 * fold, :-1]  # from previous frame
    out[:, 2 * fold :] = x[:, 2 * fold :]  # unchanged
    return out


class ConvModule(nn.Module):
    """mmcv ConvModule: Conv3d (1, k, k), BatchNorm3d, optional ReLU, on (N, C, T, H, W)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        k: int = 1,
        stride: int = 1,
        groups: int = 1,
        relu: bool = True,
        momentum=0.1,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            cin, cout, (1, k, k), (1, stride, stride), (0, k // 2, k // 2), groups=groups, bias=False
        )
        self.bn = nn.BatchNorm3d(cout, momentum=momentum)
        self.act = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = se_channels(channels, ratio)
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.fc1 = nn.Conv3d(channels, hidden, 1, bias=True)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv3d(hidden, channels, 1, bias=True)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BlockX3D(nn.Module):
    def __init__(self, cin: int, planes: int, cout: int, stride: int, cfg: StreamConfig, se: bool) -> None:
        super().__init__()
        self.fold_div = cfg.shift_div
        self.downsample = ConvModule(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else None
        self.conv1 = ConvModule(cin, planes, 1)
        self.conv2 = ConvModule(planes, planes, 3, stride, groups=planes, relu=False)
        self.conv3 = ConvModule(planes, cout, 1, relu=False)
        self.se_module = SEModule(planes, cfg.se_ratio) if se and cfg.se_ratio is not None else None
        self.use_swish = cfg.use_swish
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.conv2(self.conv1(shift_ncthw(x, self.fold_div)))
        if self.se_module is not None:
            out = self.se_module(out)
        if self.use_swish:
            out = out * torch.sigmoid(out)
        out = self.conv3(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class X3DTemporalShift(nn.Module):
    def __init__(self, cfg: StreamConfig) -> None:
        super().__init__()
        self.conv1_s = ConvModule(cfg.in_channels, cfg.base_channels, 3, cfg.stem_stride)
        cin = cfg.base_channels
        for i, (depth, stride) in enumerate(zip(cfg.stage_blocks, cfg.spatial_strides, strict=True)):
            width = cfg.base_channels * 2**i
            planes = int(width * cfg.bottleneck_factor)
            blocks = [
                BlockX3D(
                    cin if j == 0 else width,
                    planes,
                    width,
                    stride if j == 0 else 1,
                    cfg,
                    j % cfg.se_every == 0,
                )
                for j in range(depth)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            cin = width
        self.out_channels = int(cin * cfg.conv5_factor)
        self.conv5 = ConvModule(cin, self.out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.children():
            x = m(x)
        return x


class I3DHead(nn.Module):
    def __init__(self, cin: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_cls(self.dropout(self.avg_pool(x).flatten(1)))


class BasicConv(nn.Module):
    def __init__(self, cfg: AttentionConfig) -> None:
        super().__init__()
        k = cfg.spatial_kernel
        self.conv = nn.Conv3d(2, 1, (1, k, k), padding=(0, k // 2, k // 2), bias=False)
        self.bn = nn.BatchNorm3d(1, eps=1e-5, momentum=cfg.bn_momentum, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class CBAMSpatialEfficientTemporalAttention(nn.Module):
    """Nested STA: (N, C, T, h, w) -> A_s (N, 1, T, h, w), A_t (N, 1, T, 1, 1)."""

    def __init__(self, cfg: AttentionConfig) -> None:
        super().__init__()
        self.spatial = BasicConv(cfg)
        k = cfg.temporal_kernel
        self.conv_temporal_attention = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, _, t = x.shape[:3]
        pooled = torch.cat((x.max(dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)), dim=1)
        a_s = torch.sigmoid(self.spatial(pooled))
        a = nn.functional.adaptive_avg_pool3d(a_s, (None, 1, 1)).view(n, 1, t)
        a_t = torch.sigmoid(self.conv_temporal_attention(a)).view(n, 1, t, 1, 1)
        return a_s, a_t


class ReferenceEPAMNet(nn.Module):
    """Same interface and state dict as ``EPAMNet``."""

    def __init__(self, config: EPAMNetConfig) -> None:
        super().__init__()
        self.config = config
        self.fusion_weights = tuple(float(w) for w in config.fusion_weights)
        self.rgb_backbone = X3DTemporalShift(config.rgb)
        self.rgb_cls_head = I3DHead(self.rgb_backbone.out_channels, config.num_classes, config.dropout)
        self.pose_backbone = X3DTemporalShift(config.pose)
        self.pose_cls_head = I3DHead(self.pose_backbone.out_channels, config.num_classes, config.dropout)
        self.attention_module = CBAMSpatialEfficientTemporalAttention(config.attention)
        init_weights(self)

    def forward(self, rgb: Tensor, pose: Tensor) -> EPAMOutput:
        rgb_feats = self.rgb_backbone(rgb)
        pose_feats = self.pose_backbone(pose)
        stride = pose.shape[2] // rgb.shape[2]
        idx = torch.arange(0, pose_feats.shape[2], stride, device=pose_feats.device)
        a_s, a_t = self.attention_module(torch.index_select(pose_feats, 2, idx))
        attention = a_s * a_t
        rgb_logits = self.rgb_cls_head(rgb_feats + rgb_feats * attention)
        pose_logits = self.pose_cls_head(pose_feats)
        w_rgb, w_pose = self.fusion_weights
        return EPAMOutput(
            rgb_logits, pose_logits, w_rgb * rgb_logits + w_pose * pose_logits, a_s[:, 0], a_t[:, 0, :, 0, 0]
        )

    def forward_rgb(self, rgb: Tensor) -> Tensor:
        return self.rgb_cls_head(self.rgb_backbone(rgb))

    def forward_pose(self, pose: Tensor) -> Tensor:
        return self.pose_cls_head(self.pose_backbone(pose))
