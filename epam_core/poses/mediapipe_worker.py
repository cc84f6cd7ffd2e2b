"""MediaPipe BlazePose over videos, up to ``--max-persons`` people per frame. Runs inside the pose environment
(``make poses`` creates .venv-poses).

It imports only the standard library, numpy, OpenCV and MediaPipe, never ``epam_core``, so it runs in an
environment whose protobuf (< 5, which MediaPipe needs) would conflict with the main one's. The main
environment starts it as a subprocess (``epam_core.poses.extract``)::

    python mediapipe_worker.py --out-dir DIR [--max-side N] [--max-persons K] VIDEO [VIDEO ...]

Protocol: the lines on stdout that start with ``EPAM `` carry one JSON object each (anything else is
MediaPipe's own chatter):

    {"event": "plan", "frames": [n0, n1, ...]}         frame counts from the containers (0 when unknown)
    {"event": "frame", "video": i, "frame": t}         after each decoded frame
    {"event": "done", "video": i, "file": "DIR/i.npz"}
    {"event": "error", "video": i, "problem": "..."}   and the worker exits with status 3

``DIR/i.npz`` holds ``landmarks`` float32 (T, K, 33, 3): x, y in pixels of the original frame and the
landmark visibility, per track slot, all 0 where the slot is empty; ``detected`` bool (T, K); ``height``,
``width`` (original frame size) and ``fps``. A slot is one track of this worker (a person followed from
frame to frame); who is who across the whole video is decided afterwards (``epam_core.poses.tracking``).

How people are found, with the two models inside the wheel (no download): MediaPipe's legacy
``solutions.pose`` graph tracks one person; this worker runs the same building blocks itself, once per
person. The BlazePose detector (``pose_detection.tflite``, subgraph ``PoseDetectionCpu``) returns every
person it finds, each as a region (``PoseDetectionToRoi``); each track has its own landmark graph
(``PoseLandmarkByRoiCpu`` with ``model_complexity=1``, ``pose_landmark_full.tflite``, then the landmark
smoothing filter ``PoseLandmarkFiltering`` and ``PoseLandmarksToRoi`` for the next frame's region), exactly
the nodes of ``pose_landmark_cpu.binarypb``. So one person alone gets the very landmarks of
``solutions.pose`` (until lost: then this worker looks again in the same frame, solutions.pose in the next). Per frame: every track runs on the region its last landmarks give; a track whose person
is gone (the model's presence score < 0.5) ends; two tracks that landed on the same person (keypoint boxes
overlapping by more than ``DUPLICATE_IOU``, or their visible landmarks in the same places) become one, the one that moved less from its last box staying;
while fewer than K tracks run, the detector looks for people whose hips lie outside every tracked person's
box, and each one gets a new track.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NUM_LANDMARKS = 33
ERROR_STATUS = 3
DUPLICATE_IOU = 0.5  # two tracks whose landmark boxes overlap this much follow the same person
# ... as do two whose landmarks visible in both (visibility > VISIBLE, at least MIN_SHARED of them) lie this
# close, as a fraction of the smaller box's diagonal: a face close-up, whose body MediaPipe extrapolates
VISIBLE, MIN_SHARED, DUPLICATE_DISTANCE = 0.5, 5, 0.1
HIPS = [23, 24]  # BlazePose left and right hip
SIDE_PACKETS = {"model_complexity": 1, "smooth_landmarks": True, "enable_segmentation": False}

# The landmark half of pose_landmark_cpu.binarypb (mediapipe/modules/pose_landmark), with the region given.
TRACK_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:pose_landmarks"
output_stream: "ROI_FROM_LANDMARKS:pose_rect_from_landmarks"
input_side_packet: "MODEL_COMPLEXITY:model_complexity"
input_side_packet: "SMOOTH_LANDMARKS:smooth_landmarks"
input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image" output_stream: "SIZE:image_size" }
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:unfiltered_pose_landmarks"
  output_stream: "AUXILIARY_LANDMARKS:unfiltered_auxiliary_landmarks"
  output_stream: "WORLD_LANDMARKS:unfiltered_world_landmarks"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
}
node {
  calculator: "PoseLandmarkFiltering"
  input_stream: "IMAGE_SIZE:image_size"
  input_stream: "NORM_LANDMARKS:unfiltered_pose_landmarks"
  input_stream: "AUX_NORM_LANDMARKS:unfiltered_auxiliary_landmarks"
  input_stream: "WORLD_LANDMARKS:unfiltered_world_landmarks"
  output_stream: "FILTERED_NORM_LANDMARKS:pose_landmarks"
  output_stream: "FILTERED_AUX_NORM_LANDMARKS:auxiliary_landmarks"
  output_stream: "FILTERED_WORLD_LANDMARKS:pose_world_landmarks"
  input_side_packet: "ENABLE:smooth_landmarks"
}
node {
  calculator: "PoseLandmarksToRoi"
  input_stream: "LANDMARKS:auxiliary_landmarks"
  input_stream: "IMAGE_SIZE:image_size"
  output_stream: "ROI:pose_rect_from_landmarks"
}
"""

# The detection half: every detection of the frame and its region, as solutions.pose would make it.
DETECT_GRAPH = """
input_stream: "IMAGE:image"
output_stream: "ROIS:rois"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image" output_stream: "SIZE:image_size" }
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:pose_detections" }
node {
  calculator: "BeginLoopDetectionCalculator"
  input_stream: "ITERABLE:pose_detections"
  input_stream: "CLONE:image_size"
  output_stream: "ITEM:pose_detection"
  output_stream: "CLONE:loop_image_size"
  output_stream: "BATCH_END:detections_timestamp"
}
node {
  calculator: "PoseDetectionToRoi"
  input_stream: "DETECTION:pose_detection"
  input_stream: "IMAGE_SIZE:loop_image_size"
  output_stream: "ROI:roi"
}
node {
  calculator: "EndLoopNormalizedRectCalculator"
  input_stream: "ITEM:roi"
  input_stream: "BATCH_END:detections_timestamp"
  output_stream: "ITERABLE:rois"
}
"""


def emit(**event: object) -> None:
    print("EPAM " + json.dumps(event), flush=True)


def frame_count(path: str) -> int:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) if cap.isOpened() else 0
    finally:
        cap.release()


def graph(text: str, side_inputs: dict | None = None):
    """A MediaPipe graph from its text config, run frame by frame (``SolutionBase``, as solutions.pose)."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    return SolutionBase(
        graph_config=text_format.Parse(text, calculator_pb2.CalculatorGraphConfig()), side_inputs=side_inputs
    )


def box_iou(a, b) -> float:
    """IoU of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


class Track:
    """One person followed by its own landmark graph (its own smoothing filter and region)."""

    def __init__(self, slot: int, roi) -> None:
        self.slot, self.roi, self.graph = slot, roi, graph(TRACK_GRAPH, SIDE_PACKETS)
        self.marks = self.box = self.last_box = None

    def step(self, rgb, width: int, height: int) -> bool:
        """Landmarks in this frame from the current region; False when the person is gone."""
        import numpy as np

        result = self.graph.process({"image": rgb, "roi": self.roi})
        if result.pose_landmarks is None:
            return False
        marks = np.array(  # (33, [x px, y px, visibility]), normalised -> original pixels
            [(lm.x * width, lm.y * height, lm.visibility) for lm in result.pose_landmarks.landmark],
            dtype=np.float32,
        )
        self.last_box = self.box
        self.marks, self.roi = marks, result.pose_rect_from_landmarks
        xy = marks[:, :2]
        self.box = (*xy.min(axis=0), *xy.max(axis=0))
        return True

    def same_person(self, other: Track) -> bool:
        """Whether two tracks follow the same person: boxes overlapping by more than ``DUPLICATE_IOU``, or
        the landmarks both see (at least ``MIN_SHARED``) closer than ``DUPLICATE_DISTANCE`` of a box."""
        import numpy as np

        if box_iou(self.box, other.box) > DUPLICATE_IOU:
            return True
        shared = (self.marks[:, 2] > VISIBLE) & (other.marks[:, 2] > VISIBLE)  # (33,)
        if shared.sum() < MIN_SHARED:
            return False
        distance = np.linalg.norm(self.marks[shared, :2] - other.marks[shared, :2], axis=1)
        diagonal = min(np.hypot(b[2] - b[0], b[3] - b[1]) for b in (self.box, other.box))
        return float(np.median(distance)) < DUPLICATE_DISTANCE * diagonal

    def is_new_person(self, tracks: list[Track]) -> bool:
        """Whether this track's first landmarks are someone else than ``tracks``: hips outside their boxes
        and not the same person (``same_person``)."""
        hips = self.marks[HIPS, :2].mean(axis=0)
        return all(not self.same_person(t) and not inside(hips, t.box) for t in tracks)

    def close(self) -> None:
        self.graph.close()


def drop_duplicates(tracks: list[Track]) -> list[Track]:
    """Of two tracks on the same person keep the one that moved less from its own last box."""
    keep = list(tracks)
    for a in tracks:
        for b in tracks:
            if a is b or a not in keep or b not in keep or not a.same_person(b):
                continue
            stay = [0.0 if t.last_box is None else box_iou(t.box, t.last_box) for t in (a, b)]
            gone = b if stay[0] >= stay[1] else a
            gone.close()
            keep.remove(gone)
    return keep


def inside(xy, box) -> bool:
    return box[0] <= xy[0] <= box[2] and box[1] <= xy[1] <= box[3]


def hips_untracked(roi, tracks: list[Track], width: int, height: int) -> bool:
    """Whether a detection's region centre (the hip centre) lies outside every tracked person's box."""
    return not any(inside((roi.x_center * width, roi.y_center * height), t.box) for t in tracks)


def track_video(index: int, path: str, out_dir: Path, max_side: int, max_persons: int) -> bool:
    """Find and follow up to ``max_persons`` people in every frame of one video; False on a bad video."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        emit(event="error", video=index, problem="is not a video OpenCV can open")
        return False
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames, detected = [], []
    height = width = 0
    detector, tracks = graph(DETECT_GRAPH), []
    try:
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
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            alive = []
            for track in tracks:
                if track.step(rgb, width, height):
                    alive.append(track)
                else:
                    track.close()
            tracks = drop_duplicates(alive)
            if len(tracks) < max_persons:
                for roi in detector.process(rgb).rois or []:  # best detection first
                    if len(tracks) >= max_persons:
                        break
                    if not hips_untracked(roi, tracks, width, height):
                        continue
                    free = min(set(range(max_persons)) - {t.slot for t in tracks})
                    new = Track(free, roi)
                    if new.step(rgb, width, height) and new.is_new_person(tracks):
                        tracks.append(new)
                    else:
                        new.close()
            marks = np.zeros((max_persons, NUM_LANDMARKS, 3), dtype=np.float32)  # (K, 33, 3)
            for track in tracks:
                marks[track.slot] = track.marks
            frames.append(marks)
            detected.append([any(t.slot == k for t in tracks) for k in range(max_persons)])
            emit(event="frame", video=index, frame=len(frames) - 1)
    finally:
        cap.release()
        detector.close()
        for track in tracks:
            track.close()
    if not frames:
        emit(event="error", video=index, problem="has no decodable frames (zero-length or damaged video)")
        return False
    out = out_dir / f"{index}.npz"
    np.savez(
        out,
        landmarks=np.stack(frames),  # (T, K, 33, 3)
        detected=np.asarray(detected, dtype=bool),  # (T, K)
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
    parser.add_argument("--max-persons", type=int, default=2, help="people followed per frame")
    parser.add_argument("videos", nargs="+")
    args = parser.parse_args(argv)
    emit(event="plan", frames=[frame_count(v) for v in args.videos])
    for i, video in enumerate(args.videos):
        if not track_video(i, video, args.out_dir, args.max_side, args.max_persons):
            return ERROR_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main())
