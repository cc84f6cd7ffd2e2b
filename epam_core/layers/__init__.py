"""Building blocks of X-ShiftNet and EPAM-Net, one per file."""

from epam_core.layers.conv_bn import ConvBN
from epam_core.layers.pose_attention import PoseAttention
from epam_core.layers.squeeze_excite import SqueezeExcite
from epam_core.layers.temporal_shift import TemporalShift, temporal_shift

__all__ = ["ConvBN", "PoseAttention", "SqueezeExcite", "TemporalShift", "temporal_shift"]
