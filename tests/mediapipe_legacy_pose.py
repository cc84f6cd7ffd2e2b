"""Today's reference for the one-person case: MediaPipe's own single-person tracker (legacy
``solutions.pose``, model_complexity=1, smoothing on), as the worker ran it before it followed several people.

Run in the pose environment by tests/test_poses.py::

    python mediapipe_legacy_pose.py VIDEO OUT.npy [MAX_SIDE]

writes the landmarks (T, 33, 3): x, y in pixels of the original frame and the visibility, 0 without a person.
"""

from __future__ import annotations

import sys

import cv2
import mediapipe as mp
import numpy as np


def main(video: str, out: str, max_side: int = 640) -> None:
    cap = cv2.VideoCapture(video)
    frames = []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True) as pose:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            scale = max_side / max(height, width)
            if scale < 1:
                bgr = cv2.resize(
                    bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
                )
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            marks = np.zeros((33, 3), dtype=np.float32)
            if result.pose_landmarks is not None:
                for j, lm in enumerate(result.pose_landmarks.landmark):
                    marks[j] = (lm.x * width, lm.y * height, lm.visibility)
            frames.append(marks)
    cap.release()
    np.save(out, np.stack(frames))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:]])
