"""Squeeze-excitation: X3D's rounding of the bottleneck and the 5-D formula on a 2-D batch."""

from __future__ import annotations

import pytest
import torch

from epam_core.layers.squeeze_excite import SqueezeExcite, se_channels
from epam_core.models.reference import SEModule


@pytest.mark.parametrize(("channels", "hidden"), [(54, 8), (108, 8), (216, 16), (432, 32)])
def test_bottleneck_width(channels: int, hidden: int) -> None:
    assert se_channels(channels, 1 / 16) == hidden


def test_matches_pool3d_conv3d_formula() -> None:
    torch.manual_seed(0)
    n, t, c, h, w = 2, 3, 24, 5, 4
    se = SqueezeExcite(c, 1 / 16)
    ref = SEModule(c, 1 / 16)
    ref.load_state_dict(se.state_dict(), strict=True)
    x = torch.randn(n * t, c, h, w).contiguous(memory_format=torch.channels_last)
    out = se(x, t)
    x5 = x.view(n, t, c, h, w).transpose(1, 2)  # (N, C, T, H, W)
    # by hand: pool over (T, H, W) of each clip, two 1x1x1 convs, a sigmoid gate
    pooled = x5.mean(dim=(2, 3, 4))
    gate = torch.sigmoid(
        torch.relu(pooled @ se.fc1.weight.flatten(1).T + se.fc1.bias) @ se.fc2.weight.flatten(1).T
        + se.fc2.bias
    )
    expected = x5 * gate[:, :, None, None, None]
    torch.testing.assert_close(out.view(n, t, c, h, w).transpose(1, 2), expected)
    torch.testing.assert_close(ref(x5), expected)
