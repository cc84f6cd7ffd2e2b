"""Evaluation: run a checkpoint over a dataset split and write an evaluation run (see ``epam_core.runs.format``).

Under ``torchrun`` each process takes every N-th sample (``ShardSampler``, no padding), the results are
gathered and put back into dataset order, and rank 0 writes the run, so the run is the same as the one a
single process writes. On CUDA batches come in pinned memory and move asynchronously; ``precision`` runs
the forward pass under autocast (``epam_core.precision``) and the run records it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from epam_core.analysis.embeddings import Embeddings, capture_head_inputs, first_head_inputs, write_embeddings
from epam_core.analysis.metrics import top1_accuracy
from epam_core.checkpoint import load_checkpoint, nonfinite_weight
from epam_core.data.class_names import class_names_from_arg
from epam_core.data.dataset import PoseRGBDataset, default_videos
from epam_core.data.loader import EpamLoader
from epam_core.data.pyskl import load_annotations
from epam_core.distributed import (
    DistContext,
    ShardSampler,
    gather_by_index,
    loader_options,
    prepare_model,
    to_device,
)
from epam_core.errors import CheckpointError, DataError, RunError
from epam_core.outputs import check_replaceable
from epam_core.precision import autocast, check_precision, float_output
from epam_core.runs.attention_measures_file import measures_frame, write_attention_measures
from epam_core.runs.format import (
    EMBEDDINGS,
    MANIFEST,
    RUN_KIND,
    STREAMS,
    AttentionMaps,
    is_run_dir,
    predictions_frame,
    read_run,
    write_run,
)
from epam_core.runs.manifest import resolve_class_names, run_manifest
from epam_core.runs.measure_attention import (
    BodyGeometryDataset,
    attention_grid,
    forward_with_attention_variants,
    measure_rows,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """Per-sample outputs of the model over a dataset, in dataset order."""

    sample_ids: list[str]
    labels: np.ndarray  # (S,) int64
    rgb_logits: np.ndarray  # (S, K) float32
    pose_logits: np.ndarray  # (S, K)
    fused_logits: np.ndarray  # (S, K)
    spatial: np.ndarray  # (S, T, h, w) float16
    temporal: np.ndarray  # (S, T) float16
    attention_measures: list[dict] | None = None  # attention_measures.parquet rows (BodyGeometryDataset)
    rgb_embeddings: np.ndarray | None = None  # (S, C_rgb) float16, with embeddings=True
    pose_embeddings: np.ndarray | None = None  # (S, C_pose) float16

    def frame(self, fusion_weights: tuple[float, float]):
        """The ``predictions.parquet`` table (fused logits as the model computed them)."""
        return predictions_frame(
            self.sample_ids,
            self.labels,
            self.rgb_logits,
            self.pose_logits,
            fusion_weights=fusion_weights,
            fused_logits=self.fused_logits,
        )

    def attention(self) -> AttentionMaps:
        return AttentionMaps(np.asarray(self.sample_ids, dtype=str), self.spatial, self.temporal)

    def embeddings(self) -> Embeddings | None:
        if self.rgb_embeddings is None or self.pose_embeddings is None:
            return None
        return Embeddings(np.asarray(self.sample_ids, dtype=str), self.rgb_embeddings, self.pose_embeddings)


@torch.inference_mode()
def predict(
    model: nn.Module,
    dataset: Dataset,
    ctx: DistContext,
    batch_size: int = 8,
    workers: int = 0,
    desc: str = "evaluate",
    model_path: str | Path | None = None,
    embeddings: bool = False,
    precision: str = "fp32",
) -> Predictions:
    """Run ``model`` (in eval mode) over every sample of ``dataset``; every rank returns all predictions.

    ``dataset[i]`` is ``(rgb (3, T, S, S), heatmaps (V, T_pose, H, W), label, sample_id)``; a
    ``BodyGeometryDataset`` adds the body's geometry, and then the predictions carry the attention measures.
    Non-finite weights, inputs or scores stop it with an ``EpamError`` naming ``model_path`` (the checkpoint)
    or the sample. With ``embeddings``, the pooled features at the two heads' linear layers are kept too
    (float16). ``precision`` (``fp32``, ``bf16``, ``fp16``): the forward pass under autocast with that dtype;
    the outputs are cast to float32 before anything is kept. ``model`` must already be on ``ctx.device``.
    """
    check_precision(precision, ctx.device)
    if (problem := nonfinite_weight(model.state_dict())) is not None:  # fused kernels could hide the NaN
        raise CheckpointError(model_path, f"the model's {problem}; refusing to evaluate it")
    measure = isinstance(dataset, BodyGeometryDataset)
    model.eval()
    sampler = ShardSampler(len(dataset), ctx.rank, ctx.world_size)
    loader = EpamLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, **loader_options(ctx.device)
    )
    indices = iter(sampler)
    order: list[int] = []
    rows: list[tuple[Any, ...]] = []
    with (
        tqdm(total=len(sampler), desc=desc, unit="clip", disable=not ctx.is_main) as bar,
        capture_head_inputs(model) if embeddings else nullcontext() as captured,
    ):
        for rgb, heatmaps, labels, ids, *geometry in loader:
            check_inputs_finite(rgb, heatmaps, ids)
            rgb, heatmaps = to_device(rgb, ctx.device), to_device(heatmaps, ctx.device)
            if measure:  # the RGB head also without the attention (measure_attention.py)
                with autocast(precision, ctx.device):
                    forward = forward_with_attention_variants(model, rgb, heatmaps)
                forward = float_output(forward, cpu=True)
                out, measures = forward.output, measure_rows(list(ids), forward, *geometry)
            else:
                with autocast(precision, ctx.device):
                    out = model(rgb, heatmaps)
                out = float_output(out, cpu=True)  # float32 on the CPU: one copy per batch
            check_scores_finite(out, ids, model_path, precision)
            rgb_emb = pose_emb = None
            if embeddings:  # (N, C_rgb), (N, C_pose) at the heads' linear layers, this batch only
                rgb_emb, pose_emb = (
                    t.float().cpu().numpy().astype(np.float16) for t in first_head_inputs(captured)
                )
                captured.clear()
            for j, sample_id in enumerate(ids):
                order.append(next(indices))
                rows.append(
                    (
                        str(sample_id),
                        int(labels[j]),
                        out.rgb_logits[j].numpy(),
                        out.pose_logits[j].numpy(),
                        out.fused_logits[j].numpy(),
                        out.spatial_attention[j].numpy().astype(np.float16),  # (T, h, w)
                        out.temporal_attention[j].numpy().astype(np.float16),  # (T,)
                        measures[j] if measure else None,
                        None if rgb_emb is None else rgb_emb[j],
                        None if pose_emb is None else pose_emb[j],
                    )
                )
            bar.update(len(ids))
    rows = gather_by_index(ctx, order, rows)
    if len(rows) != len(dataset):
        raise RuntimeError(f"gathered {len(rows)} predictions for {len(dataset)} samples")
    ids, labels, rgb, pose, fused, spatial, temporal, measures, rgb_emb, pose_emb = (
        zip(*rows, strict=True) if rows else ([],) * 10
    )
    return Predictions(
        sample_ids=list(ids),
        labels=np.asarray(labels, dtype=np.int64),
        rgb_logits=np.stack(rgb) if rows else np.zeros((0, 0), np.float32),
        pose_logits=np.stack(pose) if rows else np.zeros((0, 0), np.float32),
        fused_logits=np.stack(fused) if rows else np.zeros((0, 0), np.float32),
        spatial=np.stack(spatial) if rows else np.zeros((0, 0, 0, 0), np.float16),
        temporal=np.stack(temporal) if rows else np.zeros((0, 0), np.float16),
        attention_measures=list(measures) if measure else None,
        rgb_embeddings=_stack_embeddings(rgb_emb) if embeddings else None,
        pose_embeddings=_stack_embeddings(pose_emb) if embeddings else None,
    )


def check_inputs_finite(rgb: torch.Tensor, heatmaps: torch.Tensor, ids: Sequence[str]) -> None:
    """A ``DataError`` naming the first sample of the batch whose network inputs hold NaN or infinity."""
    good = torch.isfinite(rgb).flatten(1).all(1) & torch.isfinite(heatmaps).flatten(1).all(1)  # (N,)
    if not bool(good.all()):
        sample = ids[int((~good).nonzero()[0])]
        raise DataError(None, f"sample {sample!r}: its frames or keypoints give NaN or infinite model inputs")


def check_scores_finite(
    out: Any, ids: Sequence[str], model_path: str | Path | None, precision: str = "fp32"
) -> None:
    """A ``CheckpointError`` naming the model and the first sample with NaN or infinite scores (its inputs
    were finite, so the model overflowed; under ``--precision fp16`` the message says so)."""
    logits = torch.cat([out.rgb_logits, out.pose_logits, out.fused_logits], dim=1)  # (N, 3K)
    good = torch.isfinite(logits).all(1)
    if not bool(good.all()):
        sample = ids[int((~good).nonzero()[0])]
        hint = "" if precision == "fp32" else f" under --precision {precision}; try a wider one"
        raise CheckpointError(
            model_path,
            f"gives NaN or infinite scores for sample {sample!r} (finite inputs: the model overflows{hint})",
        )


def _stack_embeddings(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Per-sample (C,) float16 embeddings -> (S, C)."""
    return np.stack(rows) if len(rows) else np.zeros((0, 0), np.float16)


def evaluate(
    checkpoint: str | Path,
    annotation: str | Path,
    out: str | Path,
    *,
    videos: str | Path | None = None,
    split: str | None = None,
    batch_size: int = 8,
    workers: int = 0,
    class_names_file: str | Path | None = None,
    synth: dict[str, Any] | None = None,
    overwrite: bool = False,
    source: str = "epam evaluate",
    ctx: DistContext | None = None,
    cache: str | Path | None = None,
    embeddings: bool = False,
    precision: str = "fp32",
) -> Path:
    """Evaluate ``checkpoint`` on ``split`` of ``annotation`` and write the run ``out`` (rank 0 writes).

    With ``cache`` (``epam prepare``'s crop cache) the clips come from it rather than from the videos; with
    ``embeddings`` the run gets ``embeddings.npz`` too (see ``epam_core.analysis.embeddings``).
    ``precision``: ``fp32``, ``bf16`` or ``fp16`` (CUDA only) for the forward pass, recorded in the manifest.
    """
    ctx = ctx or DistContext()
    check_precision(precision, ctx.device)  # before the long part
    out = Path(out)
    check_replaceable(out, overwrite, is_run_dir, RUN_KIND)  # before the long part
    loaded = load_checkpoint(checkpoint)
    config = loaded.model.config
    anns = load_annotations(annotation)
    class_names = resolve_class_names(
        config.num_classes,
        (str(checkpoint), loaded.class_names),
        (str(annotation), anns.class_names),
        (str(class_names_file), class_names_from_arg(class_names_file)),
    )
    videos = default_videos(annotation, videos)
    dataset = BodyGeometryDataset(
        anns,
        videos,
        config.input,
        split=split,
        class_names=class_names,
        cache=cache,
        grid=attention_grid(config),
    )
    log.info("evaluating %s on %d samples of %s (split %s)", checkpoint, len(dataset), annotation, split)
    preds = predict(
        prepare_model(loaded.model, ctx.device),
        dataset,
        ctx,
        batch_size=batch_size,
        workers=workers,
        model_path=checkpoint,
        embeddings=embeddings,
        precision=precision,
    )
    if ctx.is_main:
        manifest = run_manifest(
            source=source,
            run_dir=out,
            class_names=class_names,
            num_samples=len(dataset),
            annotation=annotation,
            split=split,
            videos=videos,
            config=config,
            checkpoint=checkpoint,
            synth=synth,
            fusion_weights=loaded.model.fusion_weights,
            cache=cache,
            precision=precision,
        )
        write_run(
            out, manifest, preds.frame(loaded.model.fusion_weights), preds.attention(), overwrite=overwrite
        )
        write_attention_measures(out, measures_frame(preds.attention_measures))
        if embeddings:  # a run that is complete without it: written right after, atomically
            write_embeddings(out, preds.embeddings())
        log.info("wrote %s: %s", out, summary(preds))
    return out


def summary(preds: Predictions) -> str:
    """Top-1 of the three streams over the labelled samples, e.g. ``rgb 81.2%  pose 90.1%  fused 95.0%``."""
    if not len(preds.labels):
        return "no samples"
    logits = dict(zip(STREAMS, (preds.rgb_logits, preds.pose_logits, preds.fused_logits), strict=True))
    return "  ".join(f"{s} {100 * top1_accuracy(z.argmax(1), preds.labels):.1f}%" for s, z in logits.items())


def extract_embeddings(
    run_dir: str | Path,
    *,
    batch_size: int = 8,
    workers: int = 0,
    ctx: DistContext | None = None,
    atol: float = 1e-2,
) -> Path:
    """Add ``embeddings.npz`` to an existing run: re-run the checkpoint its manifest names on its dataset
    split (SynthActions data are regenerated from the manifest when absent) and write the embeddings,
    after checking that the logits agree with the run's within ``atol`` (same model, same clips, the run's
    precision)."""
    ctx = ctx or DistContext()
    run = read_run(run_dir)
    manifest = run.path / MANIFEST
    dataset_info = run.manifest.get("dataset") or {}
    checkpoint = run.resolve((run.manifest.get("model") or {}).get("checkpoint"))
    annotation, videos = run.resolve(dataset_info.get("annotation")), run.resolve(dataset_info.get("videos"))
    if checkpoint is None or annotation is None or videos is None:
        raise RunError(
            manifest, "names no model checkpoint, annotation or videos: the clips cannot be re-run"
        )
    if not checkpoint.is_file():
        raise RunError(manifest, f"names the checkpoint {checkpoint}, which does not exist")
    if dataset_info.get("synth") and not (annotation.is_file() and videos.is_dir()):
        from epam_core.data.synth import generate_synthactions

        log.info("regenerating the SynthActions data into %s", annotation.parent)
        generate_synthactions(
            annotation.parent, **dataset_info["synth"], workers=max(workers, 1), overwrite=True
        )
    loaded = load_checkpoint(checkpoint)
    dataset = PoseRGBDataset(
        load_annotations(annotation), videos, loaded.model.config.input, split=dataset_info.get("split"),
        train=False, class_names=run.class_names,
    )  # fmt: skip
    preds = predict(
        prepare_model(loaded.model, ctx.device),
        dataset,
        ctx,
        batch_size,
        workers,
        "embeddings",
        checkpoint,
        embeddings=True,
        precision=run.manifest.get("precision", "fp32"),  # the run's, so that its logits are reproduced
    )
    if preds.sample_ids != list(run.sample_ids):
        raise RunError(
            run.path, f"its samples differ from those of split {dataset_info.get('split')} of {annotation}"
        )
    for stream, logits in (("rgb", preds.rgb_logits), ("pose", preds.pose_logits)):
        gap = float(np.abs(logits - run.logits(stream)).max()) if len(logits) else 0.0
        if gap > atol:
            raise RunError(
                run.path,
                f"{checkpoint} does not reproduce its {stream} logits (max difference {gap:.3g}); "
                "re-evaluate with `epam evaluate --embeddings` instead",
            )
    return write_embeddings(run.path, preds.embeddings()) if ctx.is_main else run.path / EMBEDDINGS
