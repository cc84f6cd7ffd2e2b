"""MediaPipe Pose over videos. Runs inside the pose environment (``make poses`` creates .venv-poses).

It imports only the standard library, numpy, OpenCV and MediaPipe, never ``epam_core``, so it runs in an
environment whose protobuf (< 5, which MediaPipe needs) would conflict with the main one's. The main
environment starts it as a subprocess (``epam_core.poses.extract``)::

    python mediapipe_worker.py --out-dir DIR [--max-side N] VIDEO [VIDEO ...]

Protocol: the lines on stdout that start with ``EPAM `` carry one JSON object each (anything else is
MediaPipe's own chatter):

    {"event": "plan", "frames": [n0, n1, ...]}         frame counts from the containers (0 when unknown)
    {"event": "frame", "video": i, "frame": t}         after each decoded frame
    {"event": "done", "video": i, "file": "DIR/i.npz"}
    {"event": "error", "video": i, "problem": "..."}   and the worker exits with status 3

``DIR/i.npz`` holds ``landmarks`` float32 (T, 33, 3): x, y in pixels of the original frame and the
landmark visibility, all 0 in frames where nobody was found; ``detected`` bool (T,); ``height``,
``width`` (original frame size) and ``fps``.

MediaPipe's legacy ``solutions.pose`` tracks one person: it detects a person, then follows that person's
landmarks from frame to frame and detects again only when tracking is lost. ``model_complexity=1`` is the
model whose weights ship inside the wheel (0 and 2 are downloaded on first use).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NUM_LANDMARKS = 33
ERROR_STATUS = 3


def emit(**event: object) -> None:
    print("EPAM " + json.dumps(event), flush=True)


def frame_count(path: str) -> int:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) if cap.isOpened() else 0
    finally:
        cap.release()


def track_video(index: int, path: str, out_dir: Path, max_side: int) -> bool:
    """Run MediaPipe Pose on every frame of one video and save its landmarks; False on a bad video."""
    import cv2
    import mediapipe as mp
    import numpy as np

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        emit(event="error", video=index, problem="is not a video OpenCV can open")
        return False
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames, detected = [], []
    height = width = 0
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True) as pose:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            scale = max_side / max(height, width)
            if scale < 1:  # the landmark model sees a 256x256 crop: full HD only costs decoding time
                bgr = cv2.resize(
                    bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
                )
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            marks = np.zeros((NUM_LANDMARKS, 3), dtype=np.float32)  # (33, [x px, y px, visibility])
            if result.pose_landmarks is not None:
                for j, lm in enumerate(result.pose_landmarks.landmark):
                    marks[j] = (lm.x * width, lm.y * height, lm.visibility)  # normalised -> original pixels
            frames.append(marks)
            detected.append(result.pose_landmarks is not None)
            emit(event="frame", video=index, frame=len(frames) - 1)
    cap.release()
    if not frames:
        emit(event="error", video=index, problem="has no decodable frames (zero-length or damaged video)")
        return False
    out = out_dir / f"{index}.npz"
    np.savez(
        out,
        landmarks=np.stack(frames),  # (T, 33, 3)
        detected=np.asarray(detected, dtype=bool),  # (T,)
        height=height,
        width=width,
        fps=fps,
    )
    emit(event="done", video=index, file=str(out))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--max-side", type=int, default=640, help="downscale larger frames to this side")
    parser.add_argument("videos", nargs="+")
    args = parser.parse_args(argv)
    emit(event="plan", frames=[frame_count(v) for v in args.videos])
    for i, video in enumerate(args.videos):
        if not track_video(i, video, args.out_dir, args.max_side):
            return ERROR_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main())
