"""EPAM-Net for CPU inference: the RGB and pose backbones side by side (``stream_parallel.py``), or the two
halves of a batch of pose inputs when only the pose stream runs; each call on ``CpuInferenceOptions.threads``
intra-op threads."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from epam_core.fast.options import CpuInferenceOptions
from epam_core.fast.stream_parallel import can_split, intra_op_threads, run_split
from epam_core.models.epam_net import EPAMNet, EPAMOutput, check_frame_counts


class CpuEPAMNet(EPAMNet):
    """The submodules of the ``EPAMNet`` it is made from, in the same order (the same state-dict keys)."""

    def __init__(self, model: EPAMNet, options: CpuInferenceOptions) -> None:
        nn.Module.__init__(self)  # not EPAMNet.__init__: adopt model's submodules instead of making new ones
        self.config = model.config
        self.fusion_weights = model.fusion_weights
        self.options = options
        for name, child in model.named_children():
            self.add_module(name, child)

    def forward(self, rgb: Tensor, pose: Tensor) -> EPAMOutput:
        with intra_op_threads(self.options.threads):
            return super().forward(rgb, pose)

    def forward_features(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, Tensor]:
        check_frame_counts(rgb.shape[2], pose.shape[2])
        if self.options.parallel_streams and not self.training and can_split(rgb, pose):
            return run_split(self.rgb_backbone, rgb, self.pose_backbone, pose)
        return self.rgb_backbone(rgb), self.pose_backbone(pose)

    def rgb_features(self, rgb: Tensor) -> Tensor:
        with intra_op_threads(self.options.threads):
            return super().rgb_features(rgb)

    def forward_with_rgb_features(self, rgb_feats: Tensor, pose: Tensor) -> EPAMOutput:
        """Only the pose stream runs: with 2+ pose inputs, its two halves side by side (as the two streams
        in ``forward``: one thread per op, no fork/join barrier between two threads at every op)."""
        with intra_op_threads(self.options.threads):
            if self.options.parallel_streams and not self.training and len(pose) >= 2 and can_split(pose):
                half = len(pose) // 2
                first, second = run_split(self.pose_backbone, pose[:half], self.pose_backbone, pose[half:])
                return self.forward_head(rgb_feats, torch.cat((first, second)))  # (N, T_pose, C_p, h, w)
            return super().forward_with_rgb_features(rgb_feats, pose)
