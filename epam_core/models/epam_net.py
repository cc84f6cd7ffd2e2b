"""EPAM-Net: the two-stream model (RGB X-ShiftNet + pose X-ShiftNet + pose-driven attention + score fusion).

Abdelkawy, Ali, Farag, "EPAM-Net: An Efficient Pose-driven Attention-guided Multimodal Network for Video
Action Recognition", Neurocomputing 2025, https://arxiv.org/abs/2408.05421. Submodule names follow the
authors' ``RGBPoseAttentionActionRecognizer`` so that their state dicts load strictly::

    rgb (N, 3, T, S, S) ── rgb_backbone ── f_r (N, T, 432, h, w) ──(f_r + f_r*A)── rgb_cls_head ── rgb_logits ─┐
                                                                 A = A_s*A_t                         (w_rgb, w_pose)
    pose (N, V, s*T, H, W) ─ pose_backbone ─ f_s (N, s*T, 216, h, w) ─┬─ every s-th frame ─ attention_module ─┘  │
                                                                      └─ pose_cls_head ─ pose_logits ────── fused_logits
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from epam_core.config import EPAMNetConfig, build_config
from epam_core.layers.pose_attention import PoseAttention
from epam_core.models.heads import ClsHead
from epam_core.models.x_shift_net import XShiftNet


@dataclass
class EPAMOutput:
    """What one forward pass gives: per-stream and fused logits (N, K) and the attention maps."""

    rgb_logits: Tensor  # attention-guided RGB stream
    pose_logits: Tensor
    fused_logits: Tensor  # w_rgb * rgb_logits + w_pose * pose_logits
    spatial_attention: Tensor  # (N, T_rgb, h, w), in [0, 1]
    temporal_attention: Tensor  # (N, T_rgb), in [0, 1]


class EPAMNet(nn.Module):
    """The whole model, built from an ``EPAMNetConfig``; ``fusion_weights`` can be changed after building.

    ``forward`` = ``forward_head(*forward_features(rgb, pose))``: the two backbones, then the attention, the
    heads and the fusion. ``rgb_features`` + ``forward_with_rgb_features`` is the same pass split after the
    RGB backbone, whose output does not depend on the pose input (the attention acts on its output).
    """

    def __init__(self, config: EPAMNetConfig) -> None:
        super().__init__()
        self.config = config
        self.fusion_weights: tuple[float, float] = tuple(float(w) for w in config.fusion_weights)
        self.rgb_backbone = XShiftNet(config.rgb)
        self.rgb_cls_head = ClsHead(self.rgb_backbone.out_channels, config.num_classes, config.dropout)
        self.pose_backbone = XShiftNet(config.pose)
        self.pose_cls_head = ClsHead(self.pose_backbone.out_channels, config.num_classes, config.dropout)
        self.attention_module = PoseAttention(config.attention)
        init_weights(self)

    def forward(self, rgb: Tensor, pose: Tensor) -> EPAMOutput:
        """rgb (N, 3, T_rgb, S, S) normalised, pose (N, V, T_pose, H, W) heatmaps, T_pose a multiple of T_rgb."""
        return self.forward_head(*self.forward_features(rgb, pose))

    def forward_features(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, Tensor]:
        """The two backbones: f_r (N, T_rgb, C_r, h, w) and f_s (N, T_pose, C_p, h, w); ``rgb`` may hold one clip
        for a batch of pose inputs of that clip (batch 1, broadcast by ``forward_head``)."""
        check_frame_counts(rgb.shape[2], pose.shape[2])
        return self.rgb_backbone(rgb), self.pose_backbone(pose)

    def forward_head(self, rgb_feats: Tensor, pose_feats: Tensor) -> EPAMOutput:
        """Pose-driven attention on f_r, the two classifier heads and the score fusion.

        ``rgb_feats`` may hold one clip for a batch of pose inputs of that clip (batch 1, broadcast).
        """
        t_rgb, t_pose = rgb_feats.shape[1], pose_feats.shape[1]
        check_frame_counts(t_rgb, t_pose)
        # pose frame k * stride is RGB frame k (config.input.frame_stride for the preset's sizes)
        spatial, temporal = self.attention_module(pose_feats[:, :: t_pose // t_rgb])
        attention = (spatial * temporal[:, :, None, None]).unsqueeze(2)  # (N, T_rgb, 1, h, w)
        rgb_logits = self.rgb_cls_head(rgb_feats + rgb_feats * attention)
        pose_logits = self.pose_cls_head(pose_feats)
        w_rgb, w_pose = self.fusion_weights
        return EPAMOutput(
            rgb_logits, pose_logits, w_rgb * rgb_logits + w_pose * pose_logits, spatial, temporal
        )

    def rgb_features(self, rgb: Tensor) -> Tensor:
        """f_r = the RGB backbone's output (N, T_rgb, C_r, h, w): the part of ``forward`` that ``pose``
        cannot change, computed once for many pose inputs of the same clip (skeleton-noise sweeps)."""
        return self.rgb_backbone(rgb)

    def forward_with_rgb_features(self, rgb_feats: Tensor, pose: Tensor) -> EPAMOutput:
        """``forward(rgb, pose)`` given ``rgb_feats = rgb_features(rgb)``: only the pose backbone, the attention
        and the heads run. ``rgb_feats`` of one clip (batch 1) serves a batch of its pose inputs."""
        return self.forward_head(rgb_feats, self.pose_backbone(pose))

    def forward_rgb(self, rgb: Tensor) -> Tensor:
        """RGB stream alone, without attention (stage-1 pre-training): (N, 3, T, S, S) -> (N, K)."""
        return self.rgb_cls_head(self.rgb_backbone(rgb))

    def forward_pose(self, pose: Tensor) -> Tensor:
        """Pose stream alone (stage-1 pre-training): (N, V, T, H, W) -> (N, K)."""
        return self.pose_cls_head(self.pose_backbone(pose))


def check_frame_counts(t_rgb: int, t_pose: int) -> None:
    """Every RGB frame must be a pose frame: T_pose a multiple of T_rgb (``ValueError`` otherwise)."""
    if t_pose % t_rgb:
        raise ValueError(f"pose frames ({t_pose}) must be a multiple of RGB frames ({t_rgb})")


def init_weights(model: nn.Module) -> None:
    """The authors' init: kaiming-normal (fan_out, relu) convs, BN 1/0, zero-init ``conv3.bn``, heads N(0, 0.01)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv3d | nn.Conv1d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.constant_(m.weight, 0.0 if name.endswith("conv3.bn") else 1.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


def build_model(
    preset: str = "paper", num_classes: int | None = None, *, config: EPAMNetConfig | None = None
) -> EPAMNet:
    """An EPAMNet from a preset name (``paper``: 60 classes unless given, ``demo``: 12), or from ``config``."""
    return EPAMNet(config if config is not None else build_config(preset, num_classes))
