"""Sharding without padding and gathering back into dataset order (the 2-process run is in test_evaluation)."""

from __future__ import annotations

import pytest
import torch

from epam_core.distributed import DistContext, ShardSampler, gather_by_index, init, pick_device


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
