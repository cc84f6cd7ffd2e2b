"""Captum attributions for one clip of EPAM-Net.

* Pose: per-joint importance by ``FeatureAblation`` over the V heatmap channels (a joint's channel set to 0,
  i.e. the joint is missing): the drop in the chosen stream's logit for the target class.
* RGB: ``LayerGradCam`` on the last conv of the RGB backbone (``rgb_backbone.conv5``, (N*T, C, h, w)), or
  ``Saliency`` (|d logit / d pixel|, max over colour channels), both upsampled to the crop as (T, S, S).

Inputs are one clip: ``rgb`` (1, 3, T, S, S) and ``pose`` (1, V, T_pose, H, W). Results are numpy float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from captum.attr import FeatureAblation, LayerGradCam, Saliency
from torch import Tensor, nn

from epam_core.analysis.overlay import upsample_attention

RGB_METHODS = ("gradcam", "saliency")
STREAM_FIELDS = {"rgb": "rgb_logits", "pose": "pose_logits", "fused": "fused_logits"}


def stream_forward(model: nn.Module, stream: str) -> Callable[[Tensor, Tensor], Tensor]:
    """``f(rgb, pose) -> (N, K)`` logits of one stream of the model."""
    if stream not in STREAM_FIELDS:
        raise ValueError(f"unknown stream {stream!r}; choose one of {tuple(STREAM_FIELDS)}")
    field = STREAM_FIELDS[stream]
    return lambda rgb, pose: getattr(model(rgb, pose), field)


def _check_clip(rgb: Tensor, pose: Tensor) -> None:
    if rgb.ndim != 5 or pose.ndim != 5 or rgb.shape[0] != 1 or pose.shape[0] != 1:
        raise ValueError(
            f"expected one clip: rgb (1,3,T,S,S) and pose (1,V,T,H,W); got {rgb.shape}, {pose.shape}"
        )


def joint_importance(
    model: nn.Module, rgb: Tensor, pose: Tensor, target: int, stream: str = "pose", batch: int = 4
) -> np.ndarray:
    """(V,) drop of the ``stream`` logit of class ``target`` when each joint's heatmaps are removed."""
    _check_clip(rgb, pose)
    num_joints = pose.shape[1]
    mask = torch.arange(num_joints).view(1, num_joints, 1, 1, 1)  # one feature group per joint
    forward = stream_forward(model, stream)
    ablation = FeatureAblation(lambda p, r: forward(r, p))
    with torch.no_grad():
        attr = ablation.attribute(
            pose,
            baselines=0.0,
            target=target,
            additional_forward_args=(rgb,),
            feature_mask=mask,
            perturbations_per_eval=batch,
        )  # (1, V, T, H, W), constant within each joint's channel
    return attr[0, :, 0, 0, 0].float().numpy()


def rgb_attribution(
    model: nn.Module, rgb: Tensor, pose: Tensor, target: int, stream: str = "fused", method: str = "gradcam"
) -> np.ndarray:
    """(T, S, S) non-negative map of where the RGB frames drive the ``stream`` logit of ``target``, scaled to
    [0, 1] (all zeros when the stream does not depend on the frames, e.g. pose)."""
    _check_clip(rgb, pose)
    t, size = rgb.shape[2], rgb.shape[-1]
    if method not in RGB_METHODS:
        raise ValueError(f"unknown RGB attribution method {method!r}; choose one of {RGB_METHODS}")
    if stream == "pose":  # the pose logits do not depend on the frames
        return np.zeros((t, size, size), dtype=np.float32)
    forward = stream_forward(model, stream)
    rgb = rgb.detach().clone().requires_grad_(True)
    if method == "gradcam":
        layer = model.rgb_backbone.conv5
        cam = LayerGradCam(forward, layer).attribute(
            rgb, target=target, additional_forward_args=(pose,), relu_attributions=True
        )  # (N*T, 1, h, w)
        maps = cam.detach().reshape(t, *cam.shape[-2:]).float().numpy()
        maps = upsample_attention(maps, size)
    else:
        grads = Saliency(forward).attribute(rgb, target=target, additional_forward_args=(pose,), abs=True)
        maps = grads.detach()[0].amax(dim=0).float().numpy()  # (3, T, S, S) -> (T, S, S)
    peak = float(maps.max())
    return (maps / peak if peak > 0 else np.zeros_like(maps)).astype(np.float32)
