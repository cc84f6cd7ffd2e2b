"""Training EPAM-Net in the paper's two stages (docs/epam_net_spec.md §5.1).

Stage ``rgb`` / ``pose``: one stream on its own (``forward_rgb`` / ``forward_pose``, no attention), loss
CE. Stage ``joint``: the two-stream model, started from the stage-1 weights, with the attention block from
scratch; loss CE(rgb) + CE(pose). All stages: SGD (momentum 0.9, weight decay 3e-4), cosine decay of the
learning rate stepped every iteration, gradient clipping at L2 norm 40.

Determinism: the shuffling of epoch e is seeded by (seed, e) and the dropout RNG is reseeded with
(seed, e) at the start of every epoch, so a run resumed from the checkpoint of epoch e continues exactly
as the uninterrupted run would. ``OUT/last.pt`` (written atomically after every epoch) holds the model,
optimizer, scheduler, epoch and history; ``OUT/model.pt`` is the model alone (``load_checkpoint``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler
from tqdm import tqdm

from epam_core.checkpoint import load_unimodal_weights, save_checkpoint
from epam_core.data.dataset import PoseRGBDataset, default_videos
from epam_core.data.loader import EpamLoader
from epam_core.data.pyskl import load_annotations
from epam_core.distributed import DistContext, all_reduce_sum, barrier, loader_options, to_device
from epam_core.errors import CheckpointError, DataError, EpamError, OutputError
from epam_core.models import EPAMNet, build_model
from epam_core.outputs import check_writable
from epam_core.train_state import load_state, save_state

log = logging.getLogger(__name__)

STAGES = ("rgb", "pose", "joint")
STATE_FILE = "last.pt"
MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class TrainSettings:
    """The hyper-parameters of one training stage; a resumed run must use the same ones."""

    stage: str
    epochs: int
    lr: float
    batch_size: int = 8
    momentum: float = 0.9
    weight_decay: float = 3e-4
    clip_grad: float = 40.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; choose one of {STAGES}")
        if self.epochs < 1 or self.batch_size < 1 or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"epochs, batch size and lr must be positive (got {self})")


class StageForward(nn.Module):
    """The forward pass of one stage, as a module DDP can wrap: returns the logits the loss sums over."""

    def __init__(self, model: EPAMNet, stage: str) -> None:
        super().__init__()
        self.model = model
        self.stage = stage

    def forward(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, ...]:
        if self.stage == "rgb":
            return (self.model.forward_rgb(rgb),)
        if self.stage == "pose":
            return (self.model.forward_pose(pose),)
        out = self.model(rgb, pose)
        return out.rgb_logits, out.pose_logits


def stage_parameters(model: EPAMNet, stage: str) -> list[nn.Parameter]:
    """The parameters a stage trains: one stream (backbone + head) or the whole model."""
    if stage == "joint":
        return list(model.parameters())
    parts = (
        (model.rgb_backbone, model.rgb_cls_head)
        if stage == "rgb"
        else (model.pose_backbone, model.pose_cls_head)
    )
    return [p for part in parts for p in part.parameters()]


def predicted_logits(logits: tuple[Tensor, ...], fusion_weights: tuple[float, float]) -> Tensor:
    """The logits training top-1 is measured on: the one stream, or the fused score in the joint stage."""
    if len(logits) == 1:
        return logits[0]
    return fusion_weights[0] * logits[0] + fusion_weights[1] * logits[1]


def _seed(settings: TrainSettings, epoch: int) -> int:
    return settings.seed * 100_003 + epoch


def train(
    annotation: str | Path,
    out_dir: str | Path,
    settings: TrainSettings,
    *,
    preset: str = "demo",
    videos: str | Path | None = None,
    split: str | None = "train",
    workers: int = 0,
    init_rgb: str | Path | None = None,
    init_pose: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    ctx: DistContext | None = None,
    cache: str | Path | None = None,
) -> list[dict[str, float]]:
    """Train one stage of a ``preset`` model on ``split`` of ``annotation`` into ``out_dir``; the history.

    The joint stage starts from the stage-1 checkpoints ``init_rgb`` / ``init_pose`` (each stream's
    backbone and head); the attention block always starts from scratch.
    """
    ctx = ctx or DistContext()
    anns = load_annotations(annotation)
    samples = anns.annotations
    class_names = anns.class_names or [f"class_{i}" for i in range(max(a["label"] for a in samples) + 1)]
    torch.manual_seed(settings.seed)
    model = build_model(preset, len(class_names))
    if settings.stage == "joint" and not (init_rgb and init_pose):
        log.warning("joint stage without --init-rgb and --init-pose: those streams start from scratch")
    for stream, path in (("rgb", init_rgb), ("pose", init_pose)):
        if path is not None:
            load_unimodal_weights(model, stream, path)
    dataset = PoseRGBDataset(
        anns,
        default_videos(annotation, videos),
        model.config.input,
        split,
        True,
        class_names,
        seed=settings.seed,
        cache=cache,
    )
    log.info(
        "%s stage: %d samples, %d classes, preset %s, %s",
        settings.stage,
        len(dataset),
        len(class_names),
        preset,
        ctx.device,
    )
    meta = {
        "preset": preset,
        "annotation": str(annotation),
        "split": split,
        "init_rgb": None if init_rgb is None else str(init_rgb),
        "init_pose": None if init_pose is None else str(init_pose),
        "settings": asdict(settings),
    }
    return fit(model, dataset, settings, out_dir, ctx, class_names, workers, resume, overwrite, meta)


def fit(
    model: EPAMNet,
    dataset: Dataset,
    settings: TrainSettings,
    out_dir: str | Path,
    ctx: DistContext,
    class_names: list[str],
    workers: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    meta: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on ``dataset`` (items ``(rgb, heatmaps, label, sample_id)``); return the history.

    ``dataset`` may have ``set_epoch(epoch)`` to reseed its augmentation. Rank 0 writes ``OUT/last.pt`` and
    ``OUT/model.pt`` after every epoch.
    """
    out_dir = Path(out_dir)
    state_path = out_dir / STATE_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(out_dir, f"is a file; --out names the folder for {MODEL_FILE} and {STATE_FILE}")
    check_writable(state_path)  # now, not after the first epoch
    if (out_dir / MODEL_FILE).exists() and not state_path.exists() and not overwrite:
        raise CheckpointError(out_dir / MODEL_FILE, "already exists; pass --overwrite to replace it")
    if state_path.exists() and not (resume or overwrite):
        raise CheckpointError(
            state_path, "already exists; pass --resume to continue it or --overwrite to restart"
        )
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(settings.seed)
    model.to(ctx.device)
    if ctx.distributed and ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    params = stage_parameters(model, settings.stage)
    optimizer = torch.optim.SGD(
        params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    sampler = DistributedSampler(
        dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=settings.seed
    )
    loader = EpamLoader(
        dataset, batch_size=settings.batch_size, sampler=sampler, num_workers=workers, drop_last=True,
        **loader_options(ctx.device),
    )  # fmt: skip
    if len(loader) == 0:
        raise DataError(
            None,
            f"{len(dataset)} training samples over {ctx.world_size} process(es) give no full batch of "
            f"{settings.batch_size}; lower --batch-size",
        )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * len(loader))
    history: list[dict[str, float]] = []
    start = 0
    if resume and state_path.exists():
        start, history = load_state(state_path, model, optimizer, scheduler, asdict(settings))
        log.info("resuming %s after epoch %d from %s", settings.stage, start, state_path)
    elif resume:
        log.info("no %s to resume from: starting %s from scratch", state_path, settings.stage)
    forward = StageForward(model, settings.stage)
    if ctx.distributed:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        forward = DistributedDataParallel(
            forward, device_ids=device_ids, find_unused_parameters=settings.stage != "joint"
        )
    for epoch in range(start, settings.epochs):
        record = _train_epoch(
            forward, model, loader, sampler, dataset, optimizer, scheduler, settings, epoch, ctx
        )
        history.append(record)
        log.info(
            "%s epoch %d/%d  loss %.4f  lr %.5f  top-1 %.1f%%  (%.1f s)",
            settings.stage,
            epoch + 1,
            settings.epochs,
            record["loss"],
            record["lr"],
            100 * record["top1"],
            record["seconds"],
        )
        if ctx.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            save_state(state_path, model, optimizer, scheduler, asdict(settings), epoch + 1, history)
            checkpoint_meta = {
                **(meta or {}),
                "stage": settings.stage,
                "epoch": epoch + 1,
                "history": history,
            }
            save_checkpoint(out_dir / MODEL_FILE, model, class_names=class_names, **checkpoint_meta)
        barrier(ctx)
    return history


def _train_epoch(
    forward: nn.Module,
    model: EPAMNet,
    loader: EpamLoader,
    sampler: DistributedSampler,
    dataset: Dataset,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    settings: TrainSettings,
    epoch: int,
    ctx: DistContext,
) -> dict[str, float]:
    """One pass over the data; loss and top-1 are averaged over all samples of all ranks."""
    sampler.set_epoch(epoch)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    torch.manual_seed(_seed(settings, epoch))  # dropout of this epoch, whatever ran before
    forward.train()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    loss_sum, correct, seen = 0.0, 0.0, 0.0
    tic = time.perf_counter()
    desc = f"{settings.stage} {epoch + 1}/{settings.epochs}"
    with tqdm(loader, desc=desc, unit="batch", leave=False, disable=not ctx.is_main) as bar:
        for rgb, heatmaps, labels, ids in bar:
            rgb, heatmaps = to_device(rgb, ctx.device), to_device(heatmaps, ctx.device)
            labels = to_device(labels, ctx.device)
            logits = forward(rgb, heatmaps)
            loss = sum(F.cross_entropy(stream, labels) for stream in logits)
            if not torch.isfinite(loss):  # stop before the step writes NaN into the weights
                raise EpamError(
                    None,
                    f"the {settings.stage} training loss became {float(loss.detach())} at epoch {epoch + 1}, batch "
                    f"{bar.n + 1} (samples {', '.join(map(str, ids[:4]))}); lower --lr (now {settings.lr:g}). "
                    f"Nothing of this epoch was saved.",
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, settings.clip_grad)
            optimizer.step()
            scheduler.step()
            n = len(labels)
            loss_sum += float(loss.detach()) * n
            correct += float((predicted_logits(logits, model.fusion_weights).argmax(1) == labels).sum())
            seen += n
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", lr=f"{scheduler.get_last_lr()[0]:.4f}")
    loss_sum, correct, seen = all_reduce_sum(ctx, [loss_sum, correct, seen])
    return {
        "epoch": epoch + 1,
        "loss": loss_sum / seen,
        "top1": correct / seen,
        "lr": scheduler.get_last_lr()[0],
        "seconds": time.perf_counter() - tic,
    }
