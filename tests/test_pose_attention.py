"""The nested spatial-temporal attention block: 107 parameters, and its output computed by hand."""

from __future__ import annotations

import math

import torch

from epam_core.config import AttentionConfig
from epam_core.layers.pose_attention import PoseAttention
from epam_core.models.reference import CBAMSpatialEfficientTemporalAttention


def test_parameter_count_and_names() -> None:
    block = PoseAttention(AttentionConfig())
    shapes = {k: tuple(v.shape) for k, v in block.named_parameters()}
    assert shapes == {
        "spatial.conv.weight": (1, 2, 1, 7, 7),  # 98
        "spatial.bn.weight": (1,),
        "spatial.bn.bias": (1,),
        "conv_temporal_attention.weight": (1, 1, 7),  # 7
    }
    assert sum(p.numel() for p in block.parameters()) == 107
    assert block.spatial.bn.momentum == 0.01


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_output_for_a_hand_built_input() -> None:
    """Centre taps only, so every output has a closed form."""
    block = PoseAttention(AttentionConfig()).eval()
    a_max, b_mean, gamma, beta, mu, var = 0.7, -1.3, 1.5, 0.2, 0.1, 4.0
    c0, c1 = 0.9, -0.4  # temporal taps at t and t+1
    with torch.no_grad():
        block.spatial.conv.weight.zero_()
        block.spatial.conv.weight[0, 0, 0, 3, 3] = a_max
        block.spatial.conv.weight[0, 1, 0, 3, 3] = b_mean
        block.spatial.bn.weight.fill_(gamma)
        block.spatial.bn.bias.fill_(beta)
        block.spatial.bn.running_mean.fill_(mu)
        block.spatial.bn.running_var.fill_(var)
        block.conv_temporal_attention.weight.zero_()
        block.conv_temporal_attention.weight[0, 0, 3] = c0
        block.conv_temporal_attention.weight[0, 0, 4] = c1
    n, t, c, h, w = 1, 3, 3, 2, 2
    feats = torch.zeros(n, t, c, h, w)
    # frame k, pixel (i, j): channel values (k + i, 2j - 1, 0.5 k) -> max and mean are easy to write
    for k in range(t):
        for i in range(h):
            for j in range(w):
                feats[0, k, :, i, j] = torch.tensor([k + i, 2 * j - 1, 0.5 * k])
    with torch.no_grad():
        spatial, temporal = block(feats)

    expected_s = [[[0.0] * w for _ in range(h)] for _ in range(t)]
    for k in range(t):
        for i in range(h):
            for j in range(w):
                vals = [k + i, 2 * j - 1, 0.5 * k]
                z = a_max * max(vals) + b_mean * sum(vals) / 3
                expected_s[k][i][j] = sigmoid(gamma * (z - mu) / math.sqrt(var + 1e-5) + beta)
    frame_mean = [sum(sum(row) for row in expected_s[k]) / (h * w) for k in range(t)]
    expected_t = [
        sigmoid(c0 * frame_mean[k] + c1 * (frame_mean[k + 1] if k + 1 < t else 0.0)) for k in range(t)
    ]
    torch.testing.assert_close(spatial, torch.tensor([expected_s]))
    torch.testing.assert_close(temporal, torch.tensor([expected_t]))

    ref = CBAMSpatialEfficientTemporalAttention(AttentionConfig()).eval()
    ref.load_state_dict(block.state_dict(), strict=True)
    with torch.no_grad():
        a_s, a_t = ref(feats.transpose(1, 2))
    torch.testing.assert_close(a_s[:, 0], spatial)
    torch.testing.assert_close(a_t.flatten(1), temporal)
