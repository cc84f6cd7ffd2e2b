"""Running the same command on one process or on many under ``torchrun``.

``torchrun --nproc_per_node=N epam ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; ``init`` then
joins the process group (nccl on CUDA, gloo on CPU) and gives each process its device. Without those
variables everything here degrades to the single-process case, so commands have one code path.

Evaluation must see every sample exactly once: ``ShardSampler`` gives rank r the indices r, r + N, ...
without the padding that ``DistributedSampler`` adds, and ``gather_by_index`` puts the results of all
ranks back into dataset order.

On CUDA the data path is the usual one: the ``DataLoader`` pins its batches (``loader_options``), they
move with ``non_blocking=True`` (``to_device``), and the convolution weights are kept channels_last
(``prepare_model``), the layout the backbones' activations have. Data workers per process default to this
process's share of the CPUs (``data_workers``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files, logs progress and shows bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` is this process's GPU when CUDA is available, else the CPU; ``cuda`` gets the local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def init(device: str = "auto") -> DistContext:
    """Join the ``torchrun`` process group if there is one; return this process's context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext(device=pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)  # progress is reported once, by rank 0
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    log.debug("rank %d/%d on %s", rank, world_size, dev)
    return DistContext(rank, world_size, local_rank, dev)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (after a barrier, so that no rank exits while others still talk)."""
    if ctx.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def workers_per_process(cpus: int, local_world_size: int = 1) -> int:
    """Data-loading workers for one of ``local_world_size`` processes on a node with ``cpus`` usable CPUs:
    its share of the CPUs, less one for the process itself (which runs the model and collates), at least 0.

    >>> workers_per_process(16, 1), workers_per_process(16, 4), workers_per_process(2, 1), workers_per_process(4, 8)
    (15, 3, 1, 0)
    """
    if cpus < 1 or local_world_size < 1:
        raise ValueError(f"cpus and local_world_size must be >= 1 (got {cpus}, {local_world_size})")
    return max(cpus // local_world_size - 1, 0)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: what a batch scheduler or ``taskset`` gives)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows: no affinity mask


def data_workers(workers: int | str = "auto") -> int:
    """``workers`` as given, or for ``"auto"`` ``workers_per_process(usable_cpus(), LOCAL_WORLD_SIZE)``
    (``torchrun`` sets ``LOCAL_WORLD_SIZE`` to the processes on this node; 1 without it)."""
    if workers != "auto":
        return int(workers)
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return workers_per_process(usable_cpus(), local_world_size)


def loader_options(device: torch.device) -> dict[str, Any]:
    """``DataLoader`` keyword arguments for batches bound for ``device``: pinned host memory on CUDA, so that
    ``to_device`` copies them asynchronously (pinning CPU-bound batches would be a wasted copy)."""
    return {"pin_memory": device.type == "cuda"}


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; ``non_blocking`` (asynchronous from pinned memory on CUDA, a no-op on the
    CPU: the same tensor)."""
    return tensor.to(device, non_blocking=True)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device`` (moved in place, as ``Module.to``); on CUDA with ``channels_last_weights``.

    The input needs nothing: it arrives as (N, C, T, H, W) and ``models.x_shift_net.to_frames`` makes its
    one channels_last copy on the device, the layout every backbone activation has.
    """
    model = model.to(device)
    return channels_last_weights(model) if device.type == "cuda" else model


def channels_last_weights(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its 5-D (Conv3d-shaped) weights in channels_last_3d memory (in place; same values).

    The backbones run every convolution as a 2-D one on a channels_last (N*T, C, H, W) batch of frames with
    ``weight.squeeze(2)``: squeezing the unit depth of a channels_last_3d (C_out, C_in, 1, k, k) weight gives a
    channels_last 2-D weight, so cuDNN gets input and weight in one layout instead of converting the weight
    on every call. Other parameters (linear, Conv1d, BN) are left as they are.
    """
    return model.to(memory_format=torch.channels_last_3d)


class ShardSampler(Sampler[int]):
    """Rank r of N gets dataset indices r, r + N, r + 2N, ...: every index exactly once, no padding."""

    def __init__(self, length: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def gather_by_index(ctx: DistContext, indices: Sequence[int], items: Sequence[Any]) -> list[Any]:
    """All ranks' ``items`` (one per dataset index) in dataset order; every rank gets the full list."""
    if len(indices) != len(items):
        raise ValueError(f"{len(indices)} indices but {len(items)} items")
    pairs = list(zip(indices, items, strict=True))
    if ctx.distributed:
        parts: list[Any] = [None] * ctx.world_size
        dist.all_gather_object(parts, pairs)
        pairs = [pair for part in parts for pair in part]
    pairs.sort(key=lambda pair: pair[0])
    seen = [i for i, _ in pairs]
    if len(set(seen)) != len(seen):
        raise RuntimeError("a dataset index was processed by more than one rank")
    return [item for _, item in pairs]


def all_reduce_sum(ctx: DistContext, values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (as float64 on the CPU or this rank's GPU)."""
    tensor = torch.tensor(list(values), dtype=torch.float64, device=ctx.device)
    if ctx.distributed:
        dist.all_reduce(tensor)
    return tensor.tolist()
