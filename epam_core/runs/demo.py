"""The bundled demo: SynthActions data, a ``demo``-preset EPAM-Net trained on it, its evaluation run (with
clip embeddings and their cached UMAP maps) and a robustness sweep, all regenerated deterministically by
``epam demo`` (about 22 CPU-minutes: ~11 minutes on 2 cores).

Recipe (the paper's, shortened): stage 1 trains the RGB and the pose stream on their own from scratch,
stage 2 fine-tunes the two-stream model from them with the attention block from scratch
(docs/epam_net_spec.md §5.1).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from epam_core.analysis.embedding_map import load_or_compute_maps
from epam_core.analysis.metrics import robustness_curves, top1_accuracy
from epam_core.checkpoint import load_checkpoint, save_checkpoint
from epam_core.data.synth.generate import ANNOTATION_FILE, generate_synthactions
from epam_core.distributed import DistContext
from epam_core.runs.evaluate import evaluate
from epam_core.runs.format import STREAMS, read_run
from epam_core.runs.robustness import run_robustness
from epam_core.training import MODEL_FILE, TrainSettings, train

log = logging.getLogger(__name__)

SYNTH = {"num_classes": 12, "per_class": 40, "seed": 0}  # generator arguments, kept in the run's manifest
STAGES = (
    TrainSettings(stage="pose", epochs=8, lr=0.2, batch_size=8, seed=0),
    TrainSettings(stage="rgb", epochs=8, lr=0.2, batch_size=8, seed=0),
    TrainSettings(stage="joint", epochs=3, lr=0.02, batch_size=8, seed=0),
)
NOISE = (
    ("jitter_px", (0.0, 1.0, 2.0, 4.0, 8.0)),
    ("joint_dropout", (0.0, 0.2, 0.4, 0.6, 0.8)),
    ("frame_dropout", (0.0, 0.25, 0.5, 0.75)),
    ("lr_swap", (0.0, 0.5, 1.0)),
)
SEEDS = (0, 1)
SWEEP_SUBSET = 60  # test clips in the sweep (5 per class)
CHECKPOINT = "epam_demo.pt"
RUN = Path("runs") / "demo_synthactions"


def run_demo(
    out_dir: str | Path = "checkpoints",
    data_dir: str | Path = "data/synthactions",
    work_dir: str | Path = "runs/demo_training",
    workers: int = 2,
    regenerate: bool = False,
) -> dict[str, Any]:
    """Data, three training stages, evaluation and sweep; returns the numbers ``summarize`` computes."""
    tic = time.perf_counter()
    out_dir, data_dir, work_dir = Path(out_dir), Path(data_dir), Path(work_dir)
    annotation = data_dir / ANNOTATION_FILE
    if regenerate or not annotation.is_file():
        generate_synthactions(data_dir, **SYNTH, workers=workers, overwrite=True)
    ctx = DistContext()
    stage_dirs = {s.stage: work_dir / s.stage for s in STAGES}
    for settings in STAGES:
        init = {"init_rgb": stage_dirs["rgb"] / MODEL_FILE, "init_pose": stage_dirs["pose"] / MODEL_FILE}
        train(
            annotation,
            stage_dirs[settings.stage],
            settings,
            preset="demo",
            split="train",
            workers=workers,
            overwrite=True,
            ctx=ctx,
            **(init if settings.stage == "joint" else {}),
        )
    trained = load_checkpoint(stage_dirs["joint"] / MODEL_FILE)
    checkpoint = out_dir / CHECKPOINT
    save_checkpoint(
        checkpoint,
        trained.model,
        class_names=trained.class_names,
        recipe=[asdict(s) for s in STAGES],
        synth=SYNTH,
        history={s.stage: load_checkpoint(stage_dirs[s.stage] / MODEL_FILE).meta["history"] for s in STAGES},
    )
    run_dir = out_dir / RUN
    source = "epam demo"
    evaluate(checkpoint, annotation, run_dir, split="test", batch_size=16, workers=workers, synth=SYNTH,
             overwrite=True, source=source, ctx=ctx, embeddings=True)  # fmt: skip
    load_or_compute_maps(read_run(run_dir))  # the Embeddings page's UMAP maps, cached in the run
    run_robustness(checkpoint, annotation, run_dir, NOISE, SEEDS, split="test", subset=SWEEP_SUBSET,
                   batch_size=16, workers=workers, ctx=ctx)  # fmt: skip
    numbers = summarize(run_dir)
    numbers["minutes"] = (time.perf_counter() - tic) / 60
    log.info("demo done in %.1f min: %s", numbers["minutes"], format_summary(numbers))
    return numbers


def summarize(run_dir: str | Path) -> dict[str, Any]:
    """Top-1 of each stream on the run, and pose / fused top-1 against Gaussian joint jitter (mean over seeds)."""
    run = read_run(run_dir)
    top1 = {s: top1_accuracy(run.preds(s), run.labels) for s in STREAMS}
    numbers: dict[str, Any] = {"top1": top1, "chance": 1 / run.num_classes, "num_samples": len(run.labels)}
    if run.robustness is not None:
        curves = robustness_curves(run.robustness, "jitter_px")
        numbers["jitter_px"] = {
            s: dict(zip(*curves[curves["stream"] == s][["level", "top1"]].to_numpy().T.tolist(), strict=True))
            for s in ("pose", "fused")
        }
    return numbers


def format_summary(numbers: dict[str, Any]) -> str:
    top1 = "  ".join(f"{s} {100 * v:.1f}%" for s, v in numbers["top1"].items())
    text = f"top-1 {top1} (chance {100 * numbers['chance']:.1f}%, {numbers['num_samples']} clips)"
    if "jitter_px" in numbers:
        curve = "  ".join(f"{lv:g}px {100 * acc:.1f}%" for lv, acc in numbers["jitter_px"]["pose"].items())
        text += f"; pose top-1 vs jitter_px: {curve}"
    return text
