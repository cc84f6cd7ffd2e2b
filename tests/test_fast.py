"""``prepare_cpu_inference``: a copy with the same state dict whose modules fall back to the plain computation
wherever the fast one does not apply (training, autograd), and that keeps the thread setting of its options.
Its outputs against the reference: tests/test_epam_net.py and tests/test_x_shift_net.py."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_epam_net import inputs, randomize

from epam_core.config import build_config
from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
from epam_core.fast.conv_bn import FusedConvBN
from epam_core.fast.epam_net import CpuEPAMNet
from epam_core.fast.x_shift_net import ChunkedXShiftBlock, CpuXShiftNet
from epam_core.layers.conv_bn import ConvBN
from epam_core.models import EPAMNet
from epam_core.models.x_shift_net import XShiftBlock, XShiftNet


@pytest.fixture(scope="module")
def plain() -> EPAMNet:
    torch.manual_seed(0)
    model = EPAMNet(build_config("demo"))
    randomize(model)
    return model.eval()


def test_a_converted_copy_with_the_same_state_dict(plain: EPAMNet) -> None:
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    fast = prepare_cpu_inference(plain)
    assert isinstance(fast, CpuEPAMNet) and isinstance(fast, EPAMNet) and not fast.training
    assert isinstance(fast.rgb_backbone, CpuXShiftNet) and isinstance(
        fast.pose_backbone.layer2[1], ChunkedXShiftBlock
    )
    assert isinstance(fast.attention_module.spatial, FusedConvBN)
    assert all(isinstance(m, FusedConvBN) for m in fast.modules() if isinstance(m, ConvBN))
    assert all(isinstance(m, ChunkedXShiftBlock) for m in fast.modules() if isinstance(m, XShiftBlock))
    # the same keys in the same order, the same values; the original is left plain and unchanged
    assert list(fast.state_dict()) == list(before)
    for name, value in fast.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert type(plain.rgb_backbone) is XShiftNet and type(plain.rgb_backbone.conv5) is ConvBN
    assert all(torch.equal(v, before[k]) for k, v in plain.state_dict().items())
    assert fast.rgb_backbone.conv5.conv.weight is not plain.rgb_backbone.conv5.conv.weight  # a copy
    # a state dict of either loads strictly into the other
    fast.load_state_dict(plain.state_dict(), strict=True)
    EPAMNet(plain.config).load_state_dict(fast.state_dict(), strict=True)
    assert fast.fusion_weights == plain.fusion_weights and fast.config == plain.config


def test_gradients_and_training_run_the_plain_computation(plain: EPAMNet) -> None:
    """Captum-style gradients on the converted model equal the plain model's; so does a training step."""
    fast = prepare_cpu_inference(plain)
    rgb, pose = inputs(plain.config, batch=2)
    grads = []
    for model in (plain, fast):
        x = rgb.clone().requires_grad_(True)
        out = model(x, pose)
        out.fused_logits[:, 3].sum().backward()
        grads.append((out.fused_logits.detach(), x.grad))
        model.zero_grad()
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-4, atol=1e-7)
    twin = EPAMNet(plain.config)
    twin.load_state_dict(plain.state_dict())
    for m in (twin, fast):
        m.train()
        m.rgb_cls_head.dropout.p = m.pose_cls_head.dropout.p = 0.0
    a, b = twin(rgb, pose), fast(rgb, pose)
    torch.testing.assert_close(b.fused_logits, a.fused_logits, rtol=1e-5, atol=1e-5)
    for (name, x), y in zip(fast.state_dict().items(), twin.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)  # running statistics included


@pytest.mark.parametrize("parallel_streams", [True, False])
def test_threads_of_the_options_for_the_call_then_restored(plain: EPAMNet, parallel_streams: bool) -> None:
    seen = []
    fast = prepare_cpu_inference(plain, CpuInferenceOptions(parallel_streams=parallel_streams, threads=1))
    handle = fast.attention_module.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    rgb, pose = inputs(plain.config, batch=1)
    before = torch.get_num_threads()
    try:
        with torch.no_grad():
            out = fast(rgb, pose)
            ref = plain(rgb, pose)
    finally:
        handle.remove()
    assert seen == [1] and torch.get_num_threads() == before
    torch.testing.assert_close(out.fused_logits, ref.fused_logits, rtol=1e-5, atol=1e-5)


def test_options_are_frozen_and_checked() -> None:
    options = CpuInferenceOptions()
    assert (options.chunk_bytes, options.parallel_streams, options.threads) == (8 << 20, True, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.chunk_bytes = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="chunk_bytes"):
        CpuInferenceOptions(chunk_bytes=0)
    with pytest.raises(ValueError, match="threads"):
        CpuInferenceOptions(threads=0)


@pytest.mark.parametrize(("cores", "threads"), [(None, 1), (1, 1), (2, 1), (6, 3), (8, 4), (64, 4)])
def test_interactive_server_options_use_half_the_cores_up_to_four(cores, threads, monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert CpuInferenceOptions.for_interactive_server() == CpuInferenceOptions(threads=threads)
