"""Sharding without padding and gathering back into dataset order (the 2-process run is in test_evaluation)."""

from __future__ import annotations

import os

import pytest
import torch

from epam_core import distributed
from epam_core.distributed import (
    DistContext,
    ShardSampler,
    channels_last_weights,
    data_workers,
    gather_by_index,
    init,
    loader_options,
    pick_device,
    prepare_model,
    to_device,
    usable_cpus,
    workers_per_process,
)
from epam_core.models import build_model
from epam_core.profile import example_inputs


@pytest.mark.parametrize(("length", "world"), [(9, 2), (10, 3), (2, 4), (0, 2)])
def test_shards_cover_every_index_exactly_once(length, world):
    shards = [list(ShardSampler(length, rank, world)) for rank in range(world)]
    flat = sorted(i for shard in shards for i in shard)
    assert flat == list(range(length))
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
    assert [len(ShardSampler(length, r, world)) for r in range(world)] == [len(s) for s in shards]


def test_gather_restores_dataset_order_in_one_process():
    assert gather_by_index(DistContext(), [2, 0, 1], ["c", "a", "b"]) == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="more than one rank"):
        gather_by_index(DistContext(), [1, 1], ["x", "y"])


def test_single_process_context(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    assert ctx.device == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")


@pytest.mark.parametrize(
    ("cpus", "local_world_size", "workers"),
    [(16, 1, 15), (16, 4, 3), (16, 8, 1), (16, 16, 0), (2, 1, 1), (1, 1, 0), (4, 8, 0), (18, 4, 3)],
)
def test_workers_per_process_is_the_share_of_cpus_less_the_process_itself(cpus, local_world_size, workers):
    assert workers_per_process(cpus, local_world_size) == workers


def test_workers_per_process_refuses_nonsense():
    with pytest.raises(ValueError):
        workers_per_process(0, 1)
    with pytest.raises(ValueError):
        workers_per_process(8, 0)


def test_auto_workers_read_the_affinity_mask_and_local_world_size(monkeypatch):
    monkeypatch.setattr(distributed, "usable_cpus", lambda: 16)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert data_workers("auto") == 15
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun --nproc_per_node=4
    assert data_workers("auto") == 3
    assert data_workers(5) == 5  # a number is used as it is


def test_usable_cpus_is_the_affinity_mask():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cpus() == expected


def test_pinned_memory_only_for_cuda_batches():
    assert loader_options(torch.device("cuda", 0)) == {"pin_memory": True}
    assert loader_options(torch.device("cpu")) == {"pin_memory": False}
    x = torch.ones(2)
    assert to_device(x, torch.device("cpu")) is x  # no copy on the CPU


def test_channels_last_weights_keep_the_logits_and_give_channels_last_2d_weights():
    torch.manual_seed(0)
    model = build_model("demo").eval()
    rgb, pose = example_inputs(model.config, 2)
    rgb.normal_()
    pose.uniform_()
    with torch.inference_mode():
        before = model(rgb, pose).fused_logits
        keys = list(model.state_dict())
        channels_last_weights(model)
        after = model(rgb, pose).fused_logits
    conv = model.rgb_backbone.layer1[
        0
    ].conv1.conv.weight  # (C_out, C_in, 1, 1, 1) -> squeezed (C_out, C_in, 1, 1)
    stem = model.rgb_backbone.conv1_s.conv.weight  # (24, 3, 1, 3, 3)
    assert stem.is_contiguous(memory_format=torch.channels_last_3d) and not stem.is_contiguous()
    assert stem.squeeze(2).is_contiguous(memory_format=torch.channels_last)
    assert conv.squeeze(2).is_contiguous(memory_format=torch.channels_last)
    assert list(model.state_dict()) == keys
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    assert prepare_model(model, torch.device("cpu")) is model


def test_workers_flag_takes_auto_or_a_count(capsys):
    from epam_core.cli import build_parser

    base = ["evaluate", "--checkpoint", "c.pt", "--data", "d.pkl", "--out", "run"]
    assert build_parser().parse_args(base).workers == "auto"  # the default
    assert build_parser().parse_args([*base, "--workers", "3"]).workers == 3
    for bad in ("lots", "-1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*base, "--workers", bad])
    assert "give auto or a number of processes" in capsys.readouterr().err
    for command in ("robustness", "train"):
        p = build_parser()
        action = next(a for sub in p._subparsers._group_actions for a in sub.choices[command]._actions
                      if a.dest == "workers")  # fmt: skip
        assert action.default == "auto"
