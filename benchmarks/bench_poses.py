"""Pose extraction time per frame (``epam_core.poses``): MediaPipe BlazePose for up to ``max_persons`` people.

Run: ``.venv/bin/python benchmarks/bench_poses.py [--repeats 2] [--shared-data ../shared/data]``. Prints a
Markdown table: per video and ``max_persons``, the median wall time of ``extract_video_poses`` (decoding,
the worker process and its model loading included) divided by the frames, the CPU time (user + sys) of the
worker process per frame (less sensitive to other jobs on a shared machine), and the persons found. Videos:
the real NTU clip (1920x1080, one person, skipped when the shared data is absent) and the rendered
SynthActions crossing clip (640x360, two people). For comparison, the row "legacy" is MediaPipe's own
one-person tracker (``solutions.pose``, what this tool ran before; ``tests/mediapipe_legacy_pose.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from epam_core.data.synth.crossing import render_crossing_clip
from epam_core.poses.extract import extract_video_poses, pose_python, to_annotation

REPO = Path(__file__).resolve().parents[1]
NTU_CLIP = "ntu_S001C001P001R001A001_rgb.avi"
LEGACY = REPO / "tests" / "mediapipe_legacy_pose.py"


def write_crossing_clip(path: Path) -> Path:
    clip = render_crossing_clip(0)
    height, width = clip.frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20, (width, height))
    for frame in clip.frames:
        writer.write(frame[..., ::-1])  # RGB -> BGR
    writer.release()
    return path


def timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of the child processes, result) of ``fn(*args, **kwargs)``."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = fn(*args, **kwargs)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), result


def row(name: str, frames: int, max_persons: object, persons: int, times: list[tuple]) -> str:
    wall, cpu = np.median(np.array([t[:2] for t in times]), axis=0)
    return (
        f"| {name} | {frames} | {max_persons} | {persons} | {1000 * wall / frames:.1f} | "
        f"{1000 * cpu / frames:.1f} | {wall:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        videos = [("SynthActions crossing, 640x360, 2 people", write_crossing_clip(Path(tmp) / "cross.avi"))]
        if (args.shared_data / NTU_CLIP).is_file():
            videos.insert(0, ("NTU S001C001P001R001A001, 1920x1080, 1 person", args.shared_data / NTU_CLIP))
        print(
            f"# {platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}, ", end=""
        )
        print(f"median of {args.repeats}\n")
        print(
            "| video | frames | max_persons | persons found | wall ms / frame | worker CPU ms / frame | wall (s) |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, video in videos:
            out = Path(tmp) / "legacy.npy"
            legacy = [str(pose_python()), str(LEGACY), str(video), str(out)]
            times = [timed(subprocess.run, legacy, check=True) for _ in range(args.repeats)]
            print(row(name, len(np.load(out)), "legacy", 1, times))
            for max_persons in (1, 2):
                times = [
                    timed(extract_video_poses, [video], max_persons=m) for m in [max_persons] * args.repeats
                ]
                ann = to_annotation(times[-1][2][0])
                print(row(name, ann["total_frames"], max_persons, len(ann["keypoint"]), times))


if __name__ == "__main__":
    main()
