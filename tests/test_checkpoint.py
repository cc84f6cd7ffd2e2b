"""Checkpoints: ours round-trip; the authors' files load strictly; every bad file raises CheckpointError."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch

from epam_core.checkpoint import (
    clean_state_dict,
    load_checkpoint,
    load_model,
    load_unimodal_weights,
    save_checkpoint,
)
from epam_core.config import build_config
from epam_core.errors import CheckpointError
from epam_core.models import EPAMNet, build_model


@pytest.fixture(scope="module")
def demo() -> EPAMNet:
    torch.manual_seed(0)
    model = build_model("demo")
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t) * 0.1)
    return model.eval()


def demo_inputs(config) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    i = config.input
    return (
        torch.randn(1, 3, i.rgb_frames, i.rgb_size, i.rgb_size, generator=g),
        torch.rand(1, 17, i.pose_frames, i.heatmap_size, i.heatmap_size, generator=g),
    )


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_ours_round_trip(tmp_path: Path, demo: EPAMNet) -> None:
    names = [f"class {i}" for i in range(demo.config.num_classes)]
    path = save_checkpoint(tmp_path / "sub" / "m.pt", demo, names, epoch=7, metrics={"top1": 0.5}, sha="abc")
    assert path.is_file() and not list(path.parent.glob(".*partial*"))
    loaded = load_checkpoint(path)
    assert not loaded.model.training
    assert loaded.class_names == names
    assert loaded.meta == {"epoch": 7, "metrics": {"top1": 0.5}, "sha": "abc"}
    assert loaded.model.config == demo.config
    assert_same_state(loaded.model, demo)
    rgb, pose = demo_inputs(demo.config)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(rgb, pose).fused_logits, demo(rgb, pose).fused_logits)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "epam-checkpoint" and raw["format_version"] == 1


def test_save_refuses_non_plain_meta(tmp_path: Path, demo: EPAMNet) -> None:
    with pytest.raises(TypeError, match=r"meta\.bad"):
        save_checkpoint(tmp_path / "m.pt", demo, bad=object())
    assert not list(tmp_path.iterdir())


def test_official_file_loads_strictly_with_num_classes_from_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    official = build_model("paper", num_classes=51)
    state = {f"module.{k}": v for k, v in official.state_dict().items()}
    torch.save({"epoch": 4, "model_state_dict": state, "optimizer_state_dict": {}}, tmp_path / "ntu.pth")
    loaded = load_checkpoint(tmp_path / "ntu.pth")
    assert loaded.model.config.num_classes == 51 and loaded.model.config.preset == "paper"
    assert loaded.meta == {"source": "official", "epoch": 4} and loaded.class_names is None
    assert_same_state(loaded.model, official)
    # bare state dicts and compiled-model prefixes too
    torch.save({f"_orig_mod.{k}": v for k, v in official.state_dict().items()}, tmp_path / "bare.pth")
    assert_same_state(load_model(tmp_path / "bare.pth"), official)


def test_clean_state_dict_prefix_table() -> None:
    sd = {"module._orig_mod.a.b": 1, "_orig_mod.c": 2, "d.module.e": 3}
    assert clean_state_dict(sd) == {"a.b": 1, "c": 2, "d.module.e": 3}


def test_unimodal_weights(tmp_path: Path, demo: EPAMNet) -> None:
    config = build_config("demo")
    sd = demo.state_dict()
    pose_only = {
        "backbone." + k[len("pose_backbone.") :]: v for k, v in sd.items() if k.startswith("pose_backbone.")
    }
    pose_only |= {
        "cls_head." + k[len("pose_cls_head.") :]: v for k, v in sd.items() if k.startswith("pose_cls_head.")
    }
    torch.save({"state_dict": pose_only, "meta": {}}, tmp_path / "pose.pth")
    torch.manual_seed(5)
    target = EPAMNet(config)
    rgb_before = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("rgb_")}
    load_unimodal_weights(target, "pose", tmp_path / "pose.pth")
    for k, v in target.state_dict().items():
        if k.startswith("pose_"):
            assert torch.equal(v, sd[k]), k
        elif k.startswith("rgb_"):
            assert torch.equal(v, rgb_before[k]), k
    # from one of our checkpoints: that stream's backbone and head
    save_checkpoint(tmp_path / "ours.pt", demo)
    load_unimodal_weights(target, "rgb", tmp_path / "ours.pt")
    assert torch.equal(target.rgb_cls_head.fc_cls.weight, demo.rgb_cls_head.fc_cls.weight)
    # an incomplete stream is refused, naming the file
    del pose_only["backbone.conv5.conv.weight"]
    torch.save({"state_dict": pose_only}, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match=r"partial\.pth.*missing"):
        load_unimodal_weights(target, "pose", tmp_path / "partial.pth")


class NotATensor:  # a custom class: weights_only loading must refuse it
    def __init__(self) -> None:
        self.value = 3


def bad_files(tmp_path: Path, demo: EPAMNet) -> dict[str, tuple[Path, str]]:
    good = save_checkpoint(tmp_path / "good.pt", demo)
    data = good.read_bytes()
    files = {}
    files["truncated"] = (tmp_path / "truncated.pt", "truncated")
    files["truncated"][0].write_bytes(data[: len(data) // 2])
    resnet = collections.OrderedDict(
        [
            ("conv1.weight", torch.zeros(64, 3, 7, 7)),
            ("bn1.weight", torch.ones(64)),
            ("fc.weight", torch.zeros(10, 512)),
        ]
    )
    torch.save(resnet, tmp_path / "resnet.pth")
    files["foreign"] = (tmp_path / "resnet.pth", "not an EPAM-Net checkpoint")
    state = torch.load(good, weights_only=True)
    state["state_dict"]["rgb_backbone.conv5.conv.weight"] = torch.zeros(3, 3, 1, 1, 1)
    torch.save(state, tmp_path / "shape.pt")
    files["shape"] = (tmp_path / "shape.pt", r"shape mismatch.*rgb_backbone\.conv5\.conv\.weight")
    torch.save({"model_state_dict": {"x": NotATensor()}}, tmp_path / "pickle.pt")
    files["pickle"] = (tmp_path / "pickle.pt", "refusing to unpickle")
    files["missing"] = (tmp_path / "nope.pt", "not found")
    (tmp_path / "text.pt").write_text("hello")
    files["not torch"] = (tmp_path / "text.pt", "PyTorch file")
    return files


@pytest.mark.parametrize("kind", ["truncated", "foreign", "shape", "pickle", "missing", "not torch"])
def test_bad_checkpoints_raise_checkpoint_error(tmp_path: Path, demo: EPAMNet, kind: str) -> None:
    path, problem = bad_files(tmp_path, demo)[kind]
    with pytest.raises(CheckpointError, match=problem) as info:
        load_model(path)
    assert str(info.value).startswith(str(path))
    assert info.value.path == path
