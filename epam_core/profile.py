"""Parameter and multiply-add counts of EPAM-Net (https://arxiv.org/abs/2408.05421) at a preset's input size.

GMAC = ``torch.utils.flop_counter.FlopCounterMode`` total / 2 for one clip (batch 1): convolutions and linear
layers only, the convention that reproduces the published X3D and PoseC3D figures. ``gmac_bn`` counts the
BatchNorms as fvcore does (two operations, scale and shift, per output element of an affine BN); the paper's "8.1 GFLOPs" lies between
``gmac`` (7.618) and ``gmac_with_bn`` (7.94).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from epam_core.config import EPAMNetConfig
from epam_core.models.epam_net import EPAMNet


@dataclass(frozen=True)
class ModelProfile:
    preset: str
    num_classes: int
    rgb_input: tuple[int, ...]
    pose_input: tuple[int, ...]
    params_total: int
    params_without_heads: int
    params_attention: int
    gmac: float  # conv + linear, whole model
    gmac_rgb: float  # RGB backbone + head
    gmac_pose: float  # pose backbone + head
    gmac_attention: float
    gmac_bn: float  # BatchNorm: 2 per output element (fvcore's convention)
    gmac_with_bn: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_gmac(fn: Callable[..., Any], *args: Tensor) -> float:
    """Conv + linear multiply-adds of ``fn(*args)`` in GMAC (FlopCounterMode counts 2 FLOPs per MAC)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() / 2e9


def _bn_hook(totals: list[int]) -> Callable[[nn.BatchNorm2d, Any, Tensor], None]:
    def hook(module: nn.BatchNorm2d, _inputs: Any, output: Tensor) -> None:
        totals[0] += output.numel() * (2 if module.affine else 1)

    return hook


def example_inputs(config: EPAMNetConfig, batch: int = 1) -> tuple[Tensor, Tensor]:
    """Zero inputs of the preset's size: rgb (N, 3, T_rgb, S, S), pose (N, V, T_pose, H, W)."""
    i = config.input
    rgb = torch.zeros(batch, config.rgb.in_channels, i.rgb_frames, i.rgb_size, i.rgb_size)
    pose = torch.zeros(batch, config.pose.in_channels, i.pose_frames, i.heatmap_size, i.heatmap_size)
    return rgb, pose


def profile_model(config: EPAMNetConfig) -> ModelProfile:
    """Parameters and multiply-adds of the model of ``config`` for one clip.

    One forward pass on the meta device: shapes only, no arithmetic, so the paper size takes a second.
    """
    with torch.device("meta"):
        model = EPAMNet(config)
        rgb, pose = example_inputs(config)
    bn_total = [0]
    handles = [
        m.register_forward_hook(_bn_hook(bn_total))
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(rgb, pose)
    finally:
        for h in handles:
            h.remove()
    per_module = {name: sum(counts.values()) / 2e9 for name, counts in counter.get_flop_counts().items()}

    def gmac_of(*names: str) -> float:
        return sum(per_module.get(f"EPAMNet.{n}", 0.0) for n in names)

    gmac = counter.get_total_flops() / 2e9
    heads = count_params(model.rgb_cls_head) + count_params(model.pose_cls_head)
    return ModelProfile(
        preset=config.preset,
        num_classes=config.num_classes,
        rgb_input=tuple(rgb.shape[1:]),
        pose_input=tuple(pose.shape[1:]),
        params_total=count_params(model),
        params_without_heads=count_params(model) - heads,
        params_attention=count_params(model.attention_module),
        gmac=gmac,
        gmac_rgb=gmac_of("rgb_backbone", "rgb_cls_head"),
        gmac_pose=gmac_of("pose_backbone", "pose_cls_head"),
        gmac_attention=gmac_of("attention_module"),
        gmac_bn=bn_total[0] / 1e9,
        gmac_with_bn=gmac + bn_total[0] / 1e9,
    )


def format_profile(p: ModelProfile) -> str:
    """Human-readable summary."""
    shape = "x".join
    return "\n".join(
        [
            f"EPAM-Net, preset {p.preset!r}, {p.num_classes} classes; one clip: "
            f"RGB {shape(map(str, p.rgb_input))}, pose {shape(map(str, p.pose_input))}",
            f"  parameters             {p.params_total:>12,}",
            f"    without the heads    {p.params_without_heads:>12,}",
            f"    attention block      {p.params_attention:>12,}",
            f"  GMAC (conv + linear)   {p.gmac:>12.3f}   (RGB {p.gmac_rgb:.3f} + pose {p.gmac_pose:.3f}"
            f" + attention {p.gmac_attention * 1e6:.1f} k)",
            f"  GMAC with BatchNorm    {p.gmac_with_bn:>12.3f}   (BN {p.gmac_bn:.3f}; the paper's 8.1 GFLOPs"
            " counts BN too)",
        ]
    )
