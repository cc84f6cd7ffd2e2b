"""X-ShiftNet block and backbone, plain and in the CPU-inference form (``epam_core.fast``), against the literal
Conv3d/NCTHW transcription, weights copied strictly."""

from __future__ import annotations

import pytest
import torch

from epam_core.config import StreamConfig, build_config
from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
from epam_core.layers.conv_bn import ConvBN
from epam_core.models.reference import BlockX3D, ConvModule, X3DTemporalShift
from epam_core.models.x_shift_net import XShiftBlock, XShiftNet, to_frames

FORMS = {"plain": lambda m: m, "cpu inference": prepare_cpu_inference}


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(
                    torch.rand(t.shape, generator=g) + 0.5
                    if "running_var" in name
                    else torch.randn(t.shape, generator=g) * 0.3
                )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize(("cin", "cout", "stride", "se"), [(16, 16, 1, True), (16, 32, 2, False)])
def test_block_matches_reference(form: str, train: bool, cin: int, cout: int, stride: int, se: bool) -> None:
    cfg = StreamConfig(in_channels=3, shift_div=4)
    planes = int(cout * 2.25)
    ours = FORMS[form](
        XShiftBlock(
            cin, planes, cout, stride=stride, shift_div=4, se_ratio=1 / 16 if se else None, use_swish=True
        )
    )
    ref = BlockX3D(cin, planes, cout, stride, cfg, se)
    randomize(ours)
    ref.load_state_dict(ours.state_dict(), strict=True)
    ours.train(train)
    ref.train(train)
    n, t = 2, 4
    x = torch.randn(n, cin, t, 8, 8)
    expected = ref(x)
    out = ours(x.transpose(1, 2).reshape(n * t, cin, 8, 8), t)
    torch.testing.assert_close(
        out.view(n, t, cout, 8 // stride, 8 // stride).transpose(1, 2), expected, rtol=1e-5, atol=1e-5
    )
    assert (ours.downsample is not None) == (stride != 1 or cin != cout)
    if train:  # same running statistics after one step
        for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, msg=name)


@pytest.mark.parametrize(
    "chunk_frames",
    [1, 3, 5, 8, 16],  # 5 clips x 5 frames: runs of 1 / 3 (3+2) / 5 frames of a clip, 1 clip, 3 clips (3+2)
)
@pytest.mark.parametrize(("cin", "cout", "stride", "se"), [(16, 16, 1, True), (16, 32, 2, False)])
def test_chunked_eval_path_matches_reference(
    chunk_frames: int, cin: int, cout: int, stride: int, se: bool
) -> None:
    cfg = StreamConfig(in_channels=3, shift_div=4)
    planes = int(cout * 2.25)
    n, t, size = 5, 5, 6
    # chunks hold `chunk_frames` frames of conv1's output: planes x size x size float32 each
    options = CpuInferenceOptions(chunk_bytes=chunk_frames * 4 * planes * size * size)
    ours = prepare_cpu_inference(
        XShiftBlock(
            cin, planes, cout, stride=stride, shift_div=4, se_ratio=1 / 16 if se else None, use_swish=True
        ),
        options,
    )
    ref = BlockX3D(cin, planes, cout, stride, cfg, se).eval()
    randomize(ours)
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(n, cin, t, size, size)
    expected = ref(x).transpose(1, 2)  # (N, T, C, h, w)
    x_cl = x.transpose(1, 2).reshape(n * t, cin, size, size).contiguous(memory_format=torch.channels_last)
    before = x_cl.clone()
    with torch.no_grad():
        out = ours(x_cl, t)
        torch.testing.assert_close(out.view(expected.shape), expected, rtol=1e-5, atol=1e-5)
        assert torch.equal(x_cl, before)  # the input is left alone unless the caller gives it up
        reused = ours(x_cl, t, reuse_input=True)
    torch.testing.assert_close(reused.view(expected.shape), expected, rtol=1e-5, atol=1e-5)
    # without a downsample the output is written over the input, else into the downsample's output
    assert (reused.data_ptr() == x_cl.data_ptr()) == (ours.downsample is None)


def test_forward_hooks_see_whole_activations_that_stay_as_they_were() -> None:
    """Feature extraction with hooks in eval: one call per forward with the whole tensor, never overwritten."""
    torch.manual_seed(0)
    # one frame per chunk wherever chunks are allowed
    net = prepare_cpu_inference(XShiftNet(build_config("demo").rgb), CpuInferenceOptions(chunk_bytes=1))
    randomize(net)
    x = torch.randn(2, 3, 8, 32, 32)
    seen: dict[str, list[torch.Tensor]] = {"layer2.0": [], "layer3.1.conv1": []}
    with torch.no_grad():
        plain = net(x)
        handles = [
            net.get_submodule(name).register_forward_hook(lambda _m, _i, out, n=name: seen[n].append(out))
            for name in seen
        ]
        hooked = net(x)
        for h in handles:
            h.remove()
        # layer2.0's output computed again without hooks (in the hooked run it is layer2.1's input)
        stem = net.conv1_s(
            x.transpose(1, 2).reshape(16, 3, 32, 32).contiguous(memory_format=torch.channels_last)
        )
        expected = net.layer2[0](net.layer1(stem, 8), 8)
    torch.testing.assert_close(hooked, plain)
    assert [t.shape[0] for t in seen["layer3.1.conv1"]] == [16]  # the whole N*T batch, once, not chunks
    assert len(seen["layer2.0"]) == 1
    torch.testing.assert_close(seen["layer2.0"][0], expected)  # not written over by layer2.1


def test_convbn_batchnorm2d_on_frames_equals_batchnorm3d_on_clips() -> None:
    """nn.BatchNorm2d on (N*T, C, H, W): the authors' BatchNorm3d keys, outputs and running statistics."""
    torch.manual_seed(0)
    ours, ref = (
        ConvBN(6, 10, 3, stride=2, groups=2, bn_momentum=0.3),
        ConvModule(6, 10, 3, 2, groups=2, momentum=0.3),
    )
    randomize(ours)
    ref.load_state_dict(ours.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    n, t = 2, 3
    for _ in range(2):  # two training steps: the running statistics and num_batches_tracked follow
        x = torch.randn(n, 6, t, 9, 9)
        out = ours(x.transpose(1, 2).reshape(n * t, 6, 9, 9))
        torch.testing.assert_close(out.view(n, t, 10, 5, 5).transpose(1, 2), ref(x))
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    assert ours.bn.num_batches_tracked.item() == 2
    ours.eval()
    ref.eval()
    x = torch.randn(n, 6, t, 9, 9)
    out = ours(x.transpose(1, 2).reshape(n * t, 6, 9, 9))
    torch.testing.assert_close(out.view(n, t, 10, 5, 5).transpose(1, 2), ref(x))


def test_convbn_fold_is_exact_and_differentiable_in_eval() -> None:
    torch.manual_seed(0)
    plain = ConvBN(6, 10, 3, stride=2, groups=2)
    randomize(plain)
    m = prepare_cpu_inference(plain)
    ref = ConvModule(6, 10, 3, 2, groups=2).eval()  # Conv3d + BatchNorm3d + ReLU on (N, C, T, H, W)
    ref.load_state_dict(m.state_dict(), strict=True)
    x = torch.randn(3, 6, 9, 9, requires_grad=True)
    unfused = ref(x.unsqueeze(2)).squeeze(2)
    out = m(x)  # grad enabled: the plain computation
    torch.testing.assert_close(out, unfused)
    out.sum().backward()
    assert m.conv.weight.grad is not None and m.bn.weight.grad is not None and x.grad is not None
    with torch.no_grad():
        x_cl = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(m(x_cl), unfused)  # cached fold, one fused call
        m.bn.running_mean.add_(1.0)  # an in-place change invalidates the cache
        ref.bn.running_mean.add_(1.0)
        torch.testing.assert_close(m(x_cl), ref(x.unsqueeze(2)).squeeze(2))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("stream", ["rgb", "pose"])
def test_demo_backbones_match_reference_and_shapes(form: str, stream: str) -> None:
    config = build_config("demo")
    cfg = getattr(config, stream)
    ours, ref = FORMS[form](XShiftNet(cfg)), X3DTemporalShift(cfg)
    randomize(ours)
    ref.load_state_dict(ours.state_dict(), strict=True)
    ours.eval()
    ref.eval()
    i = config.input
    t, size = (i.rgb_frames, i.rgb_size) if stream == "rgb" else (i.pose_frames, i.heatmap_size)
    x = torch.randn(1, cfg.in_channels, t, size, size)
    with torch.no_grad():
        out, expected = ours(x), ref(x)
    h = size // cfg.total_stride
    assert out.shape == (1, t, ours.out_channels, h, h)
    torch.testing.assert_close(out.transpose(1, 2), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2])
def test_frames_batch_is_channels_last_for_every_batch_size(n: int) -> None:
    """(N, C, T, H, W) -> (N*T, C, H, W) channels_last, also for one clip (where a reshape would be a view)."""
    x = torch.randn(n, 3, 4, 5, 6)
    frames = to_frames(x)
    assert frames.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(frames, x.transpose(1, 2).reshape(n * 4, 3, 5, 6))


def test_paper_stream_widths() -> None:
    config = build_config("paper")
    rgb, pose = XShiftNet(config.rgb), XShiftNet(config.pose)
    assert rgb.out_channels == 432 and pose.out_channels == 216
    assert [len(s) for s in rgb.stages()] == [3, 5, 11, 7]
    assert [len(s) for s in pose.stages()] == [5, 11, 7]
    assert [s[0].conv1.conv.out_channels for s in rgb.stages()] == [54, 108, 216, 432]
    assert [b.se_module is not None for b in rgb.layer2] == [True, False, True, False, True]
    assert rgb.conv1_s.conv.stride == (1, 2, 2) and pose.conv1_s.conv.stride == (1, 1, 1)
    assert rgb.layer1[0].shift.fold_div == 8 and pose.layer1[0].shift.fold_div == 4
