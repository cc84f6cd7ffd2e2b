"""Configuration of EPAM-Net as frozen dataclasses, with named presets.

EPAM-Net: Abdelkawy, Ali, Farag, "EPAM-Net: An Efficient Pose-driven Attention-guided Multimodal Network
for Video Action Recognition", Neurocomputing 2025, https://arxiv.org/abs/2408.05421.

Presets are plain functions (``paper_config``, ``demo_config``); ``build_config(preset, num_classes)``
picks one by name. Every number that the paper's code hard-codes (16 RGB frames, 48 pose frames, the
stride 3 between them) follows from these fields instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The model's two branches, each a backbone and a classifier head (``{branch}_backbone``, ``{branch}_cls_head``);
# stage-1 pre-training trains one alone. The fused scores are their weighted sum (``runs.format.STREAMS``).
BRANCHES = ("rgb", "pose")


def _check_bounds(config: Any, **bounds: tuple[float, float]) -> None:
    """``ValueError`` when a field is outside its bounds: a config from a checkpoint file is input, and sizes
    far beyond any real model (1e9 frames) would only allocate until the memory runs out."""
    for name, (low, high) in bounds.items():
        value = getattr(config, name)
        if not (isinstance(value, int | float) and low <= value <= high):
            raise ValueError(f"{type(config).__name__}.{name} must be in {low}..{high} (got {value!r})")


@dataclass(frozen=True)
class StreamConfig:
    """One X-ShiftNet stream (an X3D-shaped 2D CNN with a temporal shift in every block)."""

    in_channels: int  # 3 for RGB, 17 keypoint heatmaps for pose
    base_channels: int = 24  # X3D: _round_width(24, gamma_w=1)
    stage_blocks: tuple[int, ...] = (3, 5, 11, 7)  # X3D-M depths: ceil(2.2 * [1, 2, 5, 3])
    spatial_strides: tuple[int, ...] = (2, 2, 2, 2)  # on the first block of every stage
    stem_stride: int = 2  # RGB 2; pose 1 (conv1_stride=1)
    bottleneck_factor: float = 2.25  # X3D gamma_b: planes = int(inplanes * 2.25)
    conv5_factor: float = 2.25  # conv5 widens the last stage by gamma_b (192 -> 432, 96 -> 216)
    shift_div: int = 8  # 1/8 + 1/8 of the channels shifted (RGB); pose uses 4 (1/4 + 1/4)
    se_ratio: float | None = 1 / 16  # SE bottleneck ratio; None disables SE
    se_every: int = 2  # 'half' style: SE on blocks 0, 2, 4, ... of each stage
    use_swish: bool = True

    def __post_init__(self) -> None:
        if len(self.stage_blocks) != len(self.spatial_strides):
            raise ValueError(
                f"stage_blocks {self.stage_blocks} and spatial_strides {self.spatial_strides} differ in length"
            )
        if self.shift_div < 2:
            raise ValueError(f"shift_div must be >= 2 (got {self.shift_div})")
        _check_bounds(
            self,
            in_channels=(1, 256),
            base_channels=(1, 256),
            stem_stride=(1, 8),
            bottleneck_factor=(0.1, 8),
            conv5_factor=(0.1, 8),
        )
        if not 1 <= len(self.stage_blocks) <= 8 or not all(1 <= b <= 64 for b in self.stage_blocks):
            raise ValueError(f"stage_blocks must be 1..8 stages of 1..64 blocks (got {self.stage_blocks})")
        if not all(1 <= s <= 4 for s in self.spatial_strides):
            raise ValueError(f"spatial_strides must be in 1..4 (got {self.spatial_strides})")

    @property
    def total_stride(self) -> int:
        """Spatial downsampling from input to features."""
        stride = self.stem_stride
        for s in self.spatial_strides:
            stride *= s
        return stride


@dataclass(frozen=True)
class AttentionConfig:
    """The nested spatial-temporal attention (STA) block: 107 parameters at the paper's sizes."""

    spatial_kernel: int = 7  # "1x7^2 Conv" of Fig. 2
    temporal_kernel: int = 7  # "1D Conv k=7" of Fig. 2
    bn_momentum: float = 0.01  # BasicConv's BN in the authors' code


@dataclass(frozen=True)
class InputConfig:
    """Clip sampling and sizes (docs/epam_net_spec.md §3)."""

    pose_frames: int = 48  # N uniformly sampled pose frames
    rgb_frames: int = 16  # M RGB frames = every (pose_frames // rgb_frames)-th pose frame
    rgb_size: int = 224  # person-centric square crop resized to this
    heatmap_size: int = 56  # heatmap grid, 1/4 of the RGB crop
    num_joints: int = 17  # COCO-17
    sigma: float = 0.6  # PoseC3D GeneratePoseTarget default
    crop_padding: float = 0.25  # MMCompact padding around the box of all poses
    rgb_mean: tuple[float, float, float] = (123.675, 116.28, 103.53)  # ImageNet, RGB order
    rgb_std: tuple[float, float, float] = (58.395, 57.12, 57.375)

    def __post_init__(self) -> None:
        _check_bounds(
            self, pose_frames=(1, 1024), rgb_frames=(1, 1024), rgb_size=(8, 1024), heatmap_size=(4, 512),
            num_joints=(1, 256),
        )  # fmt: skip
        if self.pose_frames % self.rgb_frames:
            raise ValueError(
                f"pose_frames ({self.pose_frames}) must be a multiple of rgb_frames ({self.rgb_frames})"
            )

    @property
    def frame_stride(self) -> int:
        """Pose frames per RGB frame: RGB frame k is pose frame k * frame_stride (3 in the paper)."""
        return self.pose_frames // self.rgb_frames


@dataclass(frozen=True)
class EPAMNetConfig:
    """The whole two-stream model."""

    num_classes: int
    rgb: StreamConfig
    pose: StreamConfig
    input: InputConfig = field(default_factory=InputConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    fusion_weights: tuple[float, float] = (1.0, 1.0)  # (rgb, pose) on raw logits; paper: 1:1
    dropout: float = 0.5  # I3DHead
    preset: str = "custom"

    def __post_init__(self) -> None:
        _check_bounds(self, num_classes=(1, 100_000))
        if self.input.rgb_size // self.rgb.total_stride != self.input.heatmap_size // self.pose.total_stride:
            raise ValueError(
                "RGB and pose feature maps must have the same size: "
                f"{self.input.rgb_size}/{self.rgb.total_stride} vs "
                f"{self.input.heatmap_size}/{self.pose.total_stride}"
            )
        if self.pose.in_channels != self.input.num_joints:
            raise ValueError(
                f"pose in_channels {self.pose.in_channels} != num_joints {self.input.num_joints}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EPAMNetConfig:
        """Inverse of ``to_dict`` (JSON turns tuples into lists; they are turned back)."""

        def tuples(sub: dict[str, Any]) -> dict[str, Any]:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}

        return cls(
            num_classes=int(d["num_classes"]),
            rgb=StreamConfig(**tuples(d["rgb"])),
            pose=StreamConfig(**tuples(d["pose"])),
            input=InputConfig(**tuples(d["input"])),
            attention=AttentionConfig(**d["attention"]),
            fusion_weights=tuple(d["fusion_weights"]),
            dropout=float(d["dropout"]),
            preset=d.get("preset", "custom"),
        )


def paper_config(num_classes: int = 60) -> EPAMNetConfig:
    """The released EPAM-Net: RGB 3x16x224x224, pose 17x48x56x56 (docs/epam_net_spec.md §1-4)."""
    return EPAMNetConfig(
        num_classes=num_classes,
        rgb=StreamConfig(in_channels=3),
        pose=StreamConfig(
            in_channels=17,
            stage_blocks=(5, 11, 7),  # X3D-shallow made deeper
            spatial_strides=(2, 2, 2),
            stem_stride=1,  # conv1_stride=1
            shift_div=4,  # "double_shifted_chs": 1/4 + 1/4
        ),
        input=InputConfig(),
        preset="paper",
    )


def demo_config(num_classes: int = 12) -> EPAMNetConfig:
    """A small EPAM-Net with the same structure that trains on 2 CPU cores in minutes.

    RGB 3x8x96x96 -> 6x6 features (stem /2, three stages /2); pose 17x24x24x24 -> 6x6 (stem /1, two
    stages /2); pose frame 3k is RGB frame k, as in the paper.
    """
    return EPAMNetConfig(
        num_classes=num_classes,
        rgb=StreamConfig(in_channels=3, base_channels=16, stage_blocks=(1, 2, 2), spatial_strides=(2, 2, 2)),
        pose=StreamConfig(
            in_channels=17,
            base_channels=16,
            stage_blocks=(2, 2),
            spatial_strides=(2, 2),
            stem_stride=1,
            shift_div=4,
        ),
        input=InputConfig(pose_frames=24, rgb_frames=8, rgb_size=96, heatmap_size=24),
        preset="demo",
    )


PRESETS = {"paper": paper_config, "demo": demo_config}


def build_config(preset: str = "paper", num_classes: int | None = None) -> EPAMNetConfig:
    """The config of a named preset, optionally with another number of classes."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]() if num_classes is None else PRESETS[preset](num_classes)
