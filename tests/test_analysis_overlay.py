"""Attention overlays, skeleton drawing and Captum attributions on a small random EPAM-Net."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epam_core.analysis import attribution, overlay


def test_upsample_and_resample():
    att = np.zeros((2, 2, 2), np.float32)
    att[:, 0, 0] = 1.0
    up = overlay.upsample_attention(att, 8)
    assert up.shape == (2, 8, 8)
    assert up[0, 0, 0] == pytest.approx(1.0) and up[0, -1, -1] == pytest.approx(0.0)
    assert up[0, 0, 0] > up[0, 3, 3] > up[0, 7, 7]
    np.testing.assert_allclose(overlay.resample_temporal(np.array([0.0, 1.0]), 4), [0, 0.25, 0.75, 1])
    assert overlay.upsample_attention(att, 4, num_frames=6).shape == (6, 4, 4)


def test_overlay_blends_colormap():
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    out = overlay.overlay_attention(frames, np.ones((1, 2, 2), np.float32), alpha=1.0)
    np.testing.assert_array_equal(out[0, 0, 0], overlay.colourise(np.array(1.0)))
    assert overlay.overlay_attention(frames, np.ones((1, 2, 2)), alpha=0.0).max() == 0


def test_draw_skeleton():
    frame = np.zeros((64, 64, 3), np.uint8)
    kp = np.array([[[10, 10], [50, 50], [10, 50]]], np.float32)
    drawn = overlay.draw_skeleton(frame, kp, np.array([[1.0, 1.0, 0.0]]), limbs=((0, 1), (1, 2)))
    assert drawn[30, 30].any()  # on the limb 0-1
    assert not drawn[50, 10].any()  # joint 2 has score 0: neither it nor its limb is drawn
    assert not frame.any()  # input untouched


def test_draw_skeleton_draws_every_person_in_its_colour():
    frame = np.zeros((288, 288, 3), np.uint8)  # limbs 3 px thick: their middle has the exact colour
    kp = np.array([[[40, 20], [40, 250]], [[200, 20], [200, 250]]], np.float32)  # (M=2, V=2, 2): two limbs
    drawn = overlay.draw_skeleton(frame, kp, np.ones((2, 2)), limbs=((0, 1),))
    assert tuple(drawn[130, 40]) == overlay.SKELETON_COLOURS[0]
    assert tuple(drawn[130, 200]) == overlay.SKELETON_COLOURS[1]


def test_frame_strip_bar_heights():
    frames = np.zeros((3, 10, 10, 3), np.uint8)
    strip = overlay.frame_strip(frames, np.array([0.0, 0.5, 1.0]), bar_height=20, gap=2)
    assert strip.shape == (32, 34, 3)
    bar = strip[12:, :, :]
    column = lambda i: bar[:, i * 12 + 5]  # noqa: E731 - middle of frame i's bar
    heights = [int((column(i) != 235).any(axis=1).sum()) for i in range(3)]
    assert heights == [0, 10, 20]


@pytest.fixture(scope="module")
def clip():
    from epam_core.models.epam_net import build_model

    torch.manual_seed(0)
    model = build_model("demo", 4).eval()
    rgb = torch.randn(1, 3, 8, 96, 96)
    pose = torch.rand(1, 17, 24, 24, 24)
    return model, rgb, pose


def test_joint_importance_equals_manual_ablation(clip):
    model, rgb, pose = clip
    imp = attribution.joint_importance(model, rgb, pose, target=2, stream="pose")
    assert imp.shape == (17,)
    with torch.no_grad():
        base = model(rgb, pose).pose_logits[0, 2]
        ablated = pose.clone()
        ablated[:, 5] = 0
        expected = base - model(rgb, ablated).pose_logits[0, 2]
    assert imp[5] == pytest.approx(float(expected), abs=1e-5)


@pytest.mark.parametrize("method", attribution.RGB_METHODS)
def test_rgb_attribution_shapes(clip, method):
    model, rgb, pose = clip
    maps = attribution.rgb_attribution(model, rgb, pose, target=1, stream="rgb", method=method)
    assert maps.shape == (8, 96, 96) and maps.min() >= 0 and maps.max() <= 1
    if method == "saliency":
        assert maps.max() == pytest.approx(1.0)
    assert not attribution.rgb_attribution(model, rgb, pose, 1, stream="pose", method=method).any()
    with pytest.raises(ValueError, match="method"):
        attribution.rgb_attribution(model, rgb, pose, 1, method="lime")
