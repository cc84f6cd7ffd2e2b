"""Pose extraction time per frame (``epam_core.poses``): MediaPipe BlazePose for up to ``max_persons`` people.

Run: ``.venv/bin/python benchmarks/bench_poses.py [--repeats 2] [--shared-data ../shared/data]``. Prints a
Markdown table: per video and ``max_persons``, the median wall time of ``extract_video_poses`` (decoding,
the worker process and its model loading included) divided by the frames, and the persons found. Videos:
the real NTU clip (1920x1080, one person, skipped when the shared data is absent) and the rendered
SynthActions crossing clip (640x360, two people).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from epam_core.data.synth.crossing import render_crossing_clip
from epam_core.poses.extract import extract_video_poses, to_annotation

REPO = Path(__file__).resolve().parents[1]
NTU_CLIP = "ntu_S001C001P001R001A001_rgb.avi"


def write_crossing_clip(path: Path) -> Path:
    clip = render_crossing_clip(0)
    height, width = clip.frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20, (width, height))
    for frame in clip.frames:
        writer.write(frame[..., ::-1])  # RGB -> BGR
    writer.release()
    return path


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
        print("| video | frames | max_persons | persons found | ms per frame | total (s) |")
        print("|---|---|---|---|---|---|")
        for name, video in videos:
            for max_persons in (1, 2):
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    poses = extract_video_poses([video], max_persons=max_persons)[0]
                    times.append(time.perf_counter() - start)
                ann = to_annotation(poses)
                frames, total = ann["total_frames"], float(np.median(times))
                print(
                    f"| {name} | {frames} | {max_persons} | {len(ann['keypoint'])} | "
                    f"{1000 * total / frames:.1f} | {total:.2f} |"
                )


if __name__ == "__main__":
    main()
