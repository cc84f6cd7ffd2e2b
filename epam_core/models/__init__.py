"""EPAM-Net assembly: X-ShiftNet backbones, heads, the two-stream model and its reference transcription."""

from epam_core.models.epam_net import EPAMNet, EPAMOutput, build_model
from epam_core.models.x_shift_net import XShiftNet

__all__ = ["EPAMNet", "EPAMOutput", "XShiftNet", "build_model"]
