"""Temporal shift: exact values on an arange clip, a fixed-kernel depthwise conv, the adjoint, the authors' op."""

from __future__ import annotations

import pytest
import torch

from epam_core.fast.frame_chunks import temporal_shift_window
from epam_core.layers.temporal_shift import TemporalShift, temporal_shift
from epam_core.models.reference import shift_ncthw

N, T, C, H, W = 2, 4, 8, 2, 3


def clip(fmt: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """(N*T, C, H, W) arange values, so every entry says where it came from."""
    return (
        torch.arange(N * T * C * H * W, dtype=torch.float32)
        .view(N * T, C, H, W)
        .contiguous(memory_format=fmt)
    )


@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last])
def test_arange_values(fmt: torch.memory_format) -> None:
    x = clip(fmt)
    out = temporal_shift(x, T, fold_div=4).view(N, T, C, H, W)
    x5 = x.view(N, T, C, H, W)
    fold = C // 4  # 2 channels back in time, 2 forward, 4 unchanged
    for n in range(N):
        for t in range(T):
            # fold 0: frame t takes frame t+1; the last frame gets zeros
            expected0 = x5[n, t + 1, :fold] if t + 1 < T else torch.zeros(fold, H, W)
            assert torch.equal(out[n, t, :fold], expected0), (n, t)
            # fold 1: the mirror image, frame t takes frame t-1; the first frame gets zeros
            expected1 = x5[n, t - 1, fold : 2 * fold] if t > 0 else torch.zeros(fold, H, W)
            assert torch.equal(out[n, t, fold : 2 * fold], expected1), (n, t)
            assert torch.equal(out[n, t, 2 * fold :], x5[n, t, 2 * fold :]), (n, t)
    # a few numbers written out: sample 0, frame 0, channel 0, pixel 0 is the value of frame 1 (C*H*W later)
    assert out[0, 0, 0, 0, 0].item() == C * H * W
    assert out[0, T - 1, 0].abs().sum().item() == 0
    assert out[1, 0, fold].abs().sum().item() == 0  # the next clip does not leak into this one
    assert out[1, 1, fold, 0, 0].item() == (T * C + fold) * H * W


def test_equals_fixed_kernel_depthwise_temporal_conv() -> None:
    x = torch.randn(N * T, C, H, W)
    fold = C // 8 or 1
    weight = torch.zeros(C, 1, 3, 1, 1)  # taps (t-1, t, t+1)
    weight[:fold, 0, 2] = 1  # from next frame
    weight[fold : 2 * fold, 0, 0] = 1  # from previous frame
    weight[2 * fold :, 0, 1] = 1  # unchanged
    x_ncthw = x.view(N, T, C, H, W).transpose(1, 2)
    conv = torch.nn.functional.conv3d(x_ncthw, weight, padding=(1, 0, 0), groups=C)  # zero-padded in time
    expected = conv.transpose(1, 2).reshape(N * T, C, H, W)
    torch.testing.assert_close(temporal_shift(x, T, fold_div=8), expected, rtol=0, atol=0)


def test_adjoint() -> None:
    """<shift(x), y> = <x, shift^T(y)>, where shift^T shifts the other way (time reversal)."""
    x, y = torch.randn(N * T, C, H, W, dtype=torch.float64), torch.randn(N * T, C, H, W, dtype=torch.float64)

    def flip_time(z: torch.Tensor) -> torch.Tensor:
        return z.view(N, T, C, H, W).flip(1).reshape(N * T, C, H, W)

    lhs = (temporal_shift(x, T, 4) * y).sum()
    rhs = (x * flip_time(temporal_shift(flip_time(y), T, 4))).sum()
    torch.testing.assert_close(lhs, rhs)
    assert not torch.allclose(lhs, (x * temporal_shift(y, T, 4)).sum())  # the shift is not self-adjoint


@pytest.mark.parametrize("fold_div", [4, 8])
def test_equals_the_authors_op(fold_div: int) -> None:
    x = torch.randn(N, 16, T, H, W)  # NCTHW
    expected = shift_ncthw(x, fold_div)
    ours = TemporalShift(fold_div)(x.transpose(1, 2).reshape(N * T, 16, H, W), T)
    torch.testing.assert_close(ours.view(N, T, 16, H, W).transpose(1, 2), expected, rtol=0, atol=0)


def test_gradient_flows_back_shifted() -> None:
    x = torch.randn(N * T, C, H, W, requires_grad=True)
    temporal_shift(x, T, 4).view(N, T, C, H, W)[:, 0, 0].sum().backward()  # frame 0, channel 0 <- frame 1
    grad = x.grad.view(N, T, C, H, W)
    assert grad[:, 1, 0].eq(1).all() and grad.sum().item() == N * H * W


def test_rejects_bad_fold_div() -> None:
    with pytest.raises(ValueError, match="fold_div"):
        TemporalShift(1)


@pytest.mark.parametrize(
    ("clips", "frames"), [((0, 2), (0, 4)), ((1, 2), (1, 3)), ((0, 1), (0, 1)), ((1, 2), (3, 4))]
)
def test_window_is_the_same_part_of_the_whole_shift(clips: tuple[int, int], frames: tuple[int, int]) -> None:
    x = clip(torch.channels_last)
    whole = temporal_shift(x, T, fold_div=4).view(N, T, C, H, W)
    x5 = x.permute(0, 2, 3, 1).view(N, T, H, W, C)
    window = temporal_shift_window(x5, slice(*clips), slice(*frames), fold_div=4)
    k, f = clips[1] - clips[0], frames[1] - frames[0]
    assert window.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(window.view(k, f, C, H, W), whole[slice(*clips), slice(*frames)])
