"""Real-video evaluation throughput: the paper preset on full-HD NTU RGB+D clips, decode before/after, crop cache.

The real NTU clip (1920x1080 H.264 AVI, 103 frames) from ../shared/data is copied to many files in a
temporary directory (every configuration reads files of its own, evicted from the page cache first with
``posix_fadvise(DONTNEED)``), with an annotation file naming them. Three tables:

1. decode: ``read_frames_opencv`` (a plain OpenCV grab/retrieve loop) against ``read_frames`` over the same
   16 test-time frames, interleaved clip by clip in one process; frames checked equal.
2. end to end: ``runs.evaluate.predict`` (what ``epam evaluate`` runs) for data workers x batch sizes, clips/s,
   and the time per clip in decode, crop + resize, heatmaps, the rest of data loading, host-to-device copy
   and the model (random weights: throughput does not depend on them). CUDA is used when present, as
   `epam evaluate` uses it: pinned batches, non-blocking copies (timed here with a synchronize, which
   removes their overlap with the model), channels_last weights; ``--precision`` as in `epam evaluate`.
3. crop cache: ``epam prepare``'s cache written, then a second evaluation and a 3-noise x 4-level sweep from
   the cache against the same from the videos.

    .venv/bin/python benchmarks/bench_real_videos.py [--clips 16] [--workers 0 1 2] [--batch-sizes 1 8 16]
        [--precision fp32|bf16|fp16]

Exits with a message (status 0) when the shared data is absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from epam_core.config import build_config
from epam_core.data import crop_cache, pipeline, video
from epam_core.data.dataset import PoseRGBDataset
from epam_core.data.pyskl import load_annotations, save_annotations
from epam_core.data.sampling import pose_indices, rgb_indices
from epam_core.distributed import DistContext, prepare_model
from epam_core.models import build_model
from epam_core.precision import check_precision
from epam_core.runs import evaluate
from epam_core.runs.evaluate import predict
from epam_core.runs.robustness import ClipDataset, sweep, sweep_conditions

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EPAM_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIP = "ntu_S001C001P001R001A001_rgb.avi"
POSES = "ntu_samples_mediapipe_coco17.pkl"
SWEEP = [
    ("jitter_px", (0.0, 2.0, 4.0, 8.0)),
    ("joint_dropout", (0.0, 0.1, 0.2, 0.4)),
    ("translate_px", (0.0, 4.0, 8.0, 16.0)),
]
STAGES = ("decode", "crop", "heatmaps", "total")  # per-sample data-loading times, seconds


# --- instrumentation: per-stage time of every sample, written by whichever process loads it -------------

_clock = dict.fromkeys(STAGES, 0.0)


def _timed(stage: str, fn):
    def wrapper(*args, **kwargs):
        tic = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _clock[stage] += time.perf_counter() - tic

    return wrapper


pipeline.read_frames = _timed("decode", pipeline.read_frames)
pipeline.video_info = _timed("decode", pipeline.video_info)
pipeline.crop_resize = _timed("crop", pipeline.crop_resize)
pipeline.keypoints_to_heatmaps = _timed("heatmaps", pipeline.keypoints_to_heatmaps)


class TimedDataset(PoseRGBDataset):
    """``PoseRGBDataset`` that records each sample's stage times into a shared tensor (DataLoader workers fork)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.times = torch.zeros(len(self), len(STAGES), dtype=torch.float64).share_memory_()

    def __getitem__(self, index: int):
        for stage in STAGES:
            _clock[stage] = 0.0
        tic = time.perf_counter()
        item = super().__getitem__(index)
        _clock["total"] = time.perf_counter() - tic
        self.times[index] = torch.tensor([_clock[s] for s in STAGES], dtype=torch.float64)
        return item


class TimedClips(ClipDataset):
    """``ClipDataset`` adding up the time spent loading clips (run with 0 workers)."""

    spent = 0.0

    def __getitem__(self, index: int):
        tic = time.perf_counter()
        try:
            return super().__getitem__(index)
        finally:
            self.spent += time.perf_counter() - tic


class TimedModel(nn.Module):
    """The model's forward pass timed (with a CUDA synchronize before and after on a GPU); ``h2d`` adds up
    the host-to-device copies of ``runs.evaluate.predict`` (its ``to_device``, patched below)."""

    h2d = 0.0

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.model, self.device = model, device
        self.forward_s = 0.0

    def forward(self, rgb: torch.Tensor, pose: torch.Tensor):
        _sync(self.device)
        tic = time.perf_counter()
        out = self.model(rgb, pose)
        _sync(self.device)
        self.forward_s += time.perf_counter() - tic
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    tic = time.perf_counter()
    out = _to_device(tensor, device)
    _sync(device)
    TimedModel.h2d += time.perf_counter() - tic
    return out


_to_device, evaluate.to_device = evaluate.to_device, _timed_to_device


# --- data ---------------------------------------------------------------------------------------------


def evict(paths) -> None:
    """Drop the files' pages from the page cache, so that reading them costs what a fresh file costs."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def make_dataset(root: Path, num_files: int) -> tuple[Path, list[Path], dict]:
    """``num_files`` copies of the NTU clip and an annotation file naming them (split 'test', label 0)."""
    ann = load_annotations(SHARED / POSES).sample("S001C001P001R001A001")
    videos = root / "videos"
    videos.mkdir()
    paths, samples = [], []
    for i in range(num_files):
        name = f"clip{i:04d}"
        shutil.copyfile(SHARED / CLIP, videos / f"{name}_rgb.avi")
        paths.append(videos / f"{name}_rgb.avi")
        samples.append({**ann, "frame_dir": name, "label": 0})
    os.sync()  # written back, so that DONTNEED can drop the pages
    annotation = save_annotations(
        root / "ntu_copies.pkl", samples, {"test": [s["frame_dir"] for s in samples]}
    )
    return annotation, paths, ann


# --- the three tables -----------------------------------------------------------------------------------


def decode_table(files: list[Path], indices: np.ndarray) -> None:
    print(f"\n### Decode: 16 of 103 frames, 1920x1080 H.264, {len(files)} files, page cache evicted\n")
    opencv = "OpenCV grab/retrieve loop (`read_frames_opencv`)"
    names = (opencv, "`read_frames`, 1 thread", "`read_frames`")
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    threads = video.decoder_threads()
    for path in files:
        for name in names:
            evict([path])
            video.MAX_DECODE_THREADS = 1 if "1 thread" in name else threads
            read = video.read_frames_opencv if name == opencv else video.read_frames
            tic, cpu_tic = time.perf_counter(), time.process_time()
            frames = read(path, indices)
            wall[name].append(time.perf_counter() - tic)
            cpu[name].append(time.process_time() - cpu_tic)  # all threads of this process
            if name == opencv:
                reference = frames
            elif not np.array_equal(frames, reference):
                sys.exit(f"{name} gave other frames than OpenCV on {path}")
    video.MAX_DECODE_THREADS = threads
    base, cpu_base = statistics.median(wall[opencv]), statistics.median(cpu[opencv])
    print(f"`read_frames` uses {threads} FFmpeg frame threads here; all frames equal to OpenCV's.\n")
    print(
        "| decoder | median ms / clip | best ms | speed-up (median wall) | CPU ms / clip (median) | "
        "CPU speed-up |\n|---|---|---|---|---|---|"
    )
    for name in names:
        med, cpu_med = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"| {name} | {1000 * med:.0f} | {1000 * min(wall[name]):.0f} | {base / med:.2f}x | "
            f"{1000 * cpu_med:.0f} | {cpu_base / cpu_med:.2f}x |"
        )


def run_predict(
    model: TimedModel, dataset: TimedDataset, batch_size: int, workers: int, precision: str = "fp32"
) -> dict[str, float]:
    TimedModel.h2d = model.forward_s = 0.0
    tic = time.perf_counter()
    ctx = DistContext(device=model.device)
    predict(model, dataset, ctx, batch_size=batch_size, workers=workers, desc="bench", precision=precision)
    wall = time.perf_counter() - tic
    per_clip = dataset.times.mean(0).tolist()
    n = len(dataset)
    return {
        "wall": wall,
        "clips/s": n / wall,
        **{s: 1000 * t for s, t in zip(STAGES, per_clip, strict=True)},
        "h2d": 1000 * TimedModel.h2d / n,
        "model": 1000 * model.forward_s / n,
    }


def stage_row(label: str, r: dict[str, float]) -> str:
    other = r["total"] - r["decode"] - r["crop"] - r["heatmaps"]
    return (
        f"| {label} | {r['clips/s']:.2f} | {r['decode']:.0f} | {r['crop']:.1f} | {r['heatmaps']:.1f} | "
        f"{other:.1f} | {r['h2d']:.2f} | {r['model']:.0f} |"
    )


STAGE_HEADER = (
    "| {first} | clips/s | decode | crop + resize | heatmaps | other loading | host-to-device | model |\n"
    "|---|---|---|---|---|---|---|---|"
)


def end_to_end_table(annotation, files, model, cfg, args) -> None:
    print(f"\n### End to end (`runs.evaluate.predict`), {args.clips} clips per row, ms per clip by stage\n")
    print(
        "Stage times are summed over the clips where they ran (in the workers when workers > 0, overlapping "
        "the model), divided by the number of clips.\n"
    )
    print(STAGE_HEADER.format(first="workers, batch"))
    anns = load_annotations(annotation)
    row = 0
    for workers in args.workers:
        for batch_size in args.batch_sizes:
            names = [
                f.name.removesuffix("_rgb.avi") for f in files[row * args.clips : (row + 1) * args.clips]
            ]
            evict(files[row * args.clips : (row + 1) * args.clips])
            anns.split["bench"] = names
            dataset = TimedDataset(anns, files[0].parent, cfg, split="bench")
            r = run_predict(model, dataset, batch_size, workers, args.precision)
            print(stage_row(f"{workers}, {batch_size}", r), flush=True)
            row += 1


def cache_table(annotation, files, model, cfg, args) -> None:
    root = Path(args.tmp)
    names = [f.name.removesuffix("_rgb.avi") for f in files[: args.clips]]
    anns = load_annotations(annotation)
    anns.split["bench"] = names
    samples = [anns.sample(n) for n in names]
    evict(files[: args.clips])
    tic = time.perf_counter()
    crop_cache.prepare_cache(samples, files[0].parent, root / "cache", cfg, workers=max(args.workers))
    prepare_s = time.perf_counter() - tic
    cache_mb = sum(p.stat().st_size for p in (root / "cache" / "clips").iterdir()) / 2**20
    workers, batch_size = max(args.workers), 8
    print(f"\n### Crop cache: {args.clips} clips, batch {batch_size}, {workers} workers\n")
    print(
        f"`prepare_cache` ({workers} workers): {prepare_s:.1f} s, {args.clips / prepare_s:.2f} clips/s, "
        f"{cache_mb / args.clips:.1f} MB per clip.\n"
    )
    print(STAGE_HEADER.format(first="evaluation from"))
    results = {}
    for source in ("videos", "cache"):
        evict(files[: args.clips])
        evict((root / "cache" / "clips").iterdir())
        dataset = TimedDataset(
            anns, files[0].parent, cfg, split="bench", cache=root / "cache" if source == "cache" else None
        )
        results[source] = run_predict(model, dataset, batch_size, workers, args.precision)
        print(stage_row(source, results[source]), flush=True)
    print(
        f"\nSecond evaluation: {results['cache']['clips/s'] / results['videos']['clips/s']:.2f}x the clips/s; "
        f"data loading per clip {results['videos']['total']:.0f} ms -> {results['cache']['total']:.1f} ms "
        f"({results['videos']['total'] / max(results['cache']['total'], 1e-9):.0f}x)."
    )
    conditions = sweep_conditions(SWEEP, seeds=(0,))
    samples = samples[: args.sweep_clips]
    print(f"\n### Robustness sweep: 3 noises x 4 levels x 1 seed on {len(samples)} clips (0 workers)\n")
    print("| clips from | wall s | of which loading clips s | clips x conditions / s |\n|---|---|---|---|")
    for source in ("videos", "cache"):
        evict(files[: args.sweep_clips])
        evict((root / "cache" / "clips").iterdir())
        clips = TimedClips(samples, files[0].parent, cfg, cache=root / "cache" if source == "cache" else None)
        tic = time.perf_counter()
        sweep(
            model.model, clips, conditions, DistContext(device=model.device), batch_size=len(conditions),
            precision=args.precision,
        )  # fmt: skip
        wall = time.perf_counter() - tic
        print(
            f"| {source} | {wall:.1f} | {clips.spent:.2f} | {len(samples) * len(conditions) / wall:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="clips per configuration (default 16)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--decode-files", type=int, default=24, help="files in the decode table")
    parser.add_argument("--sweep-clips", type=int, default=4, help="clips in the robustness sweep")
    parser.add_argument("--skip", nargs="*", default=[], choices=("decode", "e2e", "cache"))
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="as `epam evaluate --precision`"
    )
    args = parser.parse_args()
    if not (SHARED / CLIP).is_file() or not (SHARED / POSES).is_file():
        print(f"skipped: the real NTU clip and its poses are not in {SHARED} (set EPAM_SHARED_DATA)")
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the temporary copies are removed
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_precision(args.precision, device)
    cfg = build_config("paper").input
    indices = rgb_indices(pose_indices(103, cfg), cfg.frame_stride)
    rows = len(args.workers) * len(args.batch_sizes)
    num_files = max(args.decode_files, args.clips * rows, args.clips)
    with tempfile.TemporaryDirectory(prefix="epam_bench_") as tmp:
        args.tmp = tmp
        annotation, files, _ = make_dataset(Path(tmp), num_files)
        load = os.getloadavg()
        print(
            f"{num_files} copies of {CLIP} in {tmp}; {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{args.threads} threads, precision {args.precision}, device {device}"
            + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else " (no GPU)")
            + f"; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        torch.manual_seed(0)
        model = TimedModel(prepare_model(build_model("paper"), device).eval(), device)
        warm = load_annotations(annotation)
        warm.split["warm"] = [files[0].name.removesuffix("_rgb.avi")]
        warm_data = TimedDataset(warm, files[0].parent, cfg, split="warm")
        predict(model, warm_data, DistContext(device=device), desc="warm-up", precision=args.precision)
        if "decode" not in args.skip:
            decode_table(files[: args.decode_files], indices)
        if "e2e" not in args.skip:
            end_to_end_table(annotation, files, model, cfg, args)
        if "cache" not in args.skip:
            cache_table(annotation, files, model, cfg, args)
        load = os.getloadavg()
        print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
