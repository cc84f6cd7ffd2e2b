"""EPAM-Net's nested spatial-temporal attention (STA) block, driven by pose features: 107 parameters.

EPAM-Net: Abdelkawy, Ali, Farag, https://arxiv.org/abs/2408.05421 (Fig. 2; authors' class
``CBAMSpatialEfficientTemporalAttention(attention_type='nested')``)::

    P (N, T, C, h, w) pose features at the RGB frames
      -> [max_c P, mean_c P]           (N*T, 2, h, w)
      -> conv 1x7x7 (no bias) -> BN -> sigmoid = A_s   (N, T, h, w)
      -> mean over (h, w)              (N, 1, T)
      -> conv1d k=7 (no bias) -> sigmoid = A_t          (N, T)

The temporal map is computed from the spatial map ("nested"). The model applies
``f_r + f_r * A_s * A_t`` to the RGB features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from epam_core.config import AttentionConfig
from epam_core.layers.conv_bn import ConvBN


class PoseAttention(nn.Module):
    """forward: pose features (N, T, C, h, w) -> (spatial (N, T, h, w), temporal (N, T)), both in [0, 1]."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.spatial = ConvBN(2, 1, config.spatial_kernel, relu=False, bn_momentum=config.bn_momentum)
        k = config.temporal_kernel
        self.conv_temporal_attention = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, pose_feats: Tensor) -> tuple[Tensor, Tensor]:
        n, t, _, h, w = pose_feats.shape  # (N, T, C, h, w)
        pooled = torch.stack(
            (pose_feats.amax(dim=2), pose_feats.mean(dim=2)), dim=2
        )  # (N, T, 2, h, w): max first, then mean
        spatial = torch.sigmoid(self.spatial(pooled.view(n * t, 2, h, w))).view(n, t, h, w)
        frame_mean = spatial.mean(dim=(2, 3)).view(n, 1, t)  # (N, 1, T)
        temporal = torch.sigmoid(self.conv_temporal_attention(frame_mean)).view(n, t)  # (N, T)
        return spatial, temporal
