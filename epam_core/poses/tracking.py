"""Who is who across frames: the people found per frame (in no particular order) -> persons with identities.

Each person is summed up per frame by the box of its scored keypoints. An identity's box in the next frame is
predicted from its recent boxes (a straight-line fit of the box centre over its last ``HISTORY`` frames, the
last box's size), so that two people who cross keep moving the way they moved; the people of a frame are
matched to the identities seen in the last ``MAX_GAP`` frames by the Hungarian assignment
(``scipy.optimize.linear_sum_assignment``) on 1 - IoU of predicted and found boxes; a pair overlapping less
than ``MIN_IOU`` is no match, and a person without a match starts a new identity. Persons are then ordered as
pyskl expects them (its ``FormatGCNInput`` keeps the first ``num_person``): by total keypoint score over the
clip, highest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

MAX_GAP = 30  # frames an identity stays matchable after it was last seen (1 s at 30 fps)
HISTORY = 8  # frames of an identity's past boxes its motion is fitted on
MIN_IOU = 0.1  # predicted and found box overlapping less than this are not the same person


def keypoint_box(keypoint: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) of the keypoints with score > 0. Shapes: (V, 2), (V,) -> (4,)."""
    xy = keypoint[score > 0]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (K, 4) -> (N, K)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Identity:
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)  # which of the frame's people it was

    def predict(self, t: int) -> np.ndarray:
        """The box (4,) expected at frame ``t``: the centre moved on along its recent straight line."""
        frames = np.array(self.frames[-HISTORY:], dtype=np.float64)
        boxes = np.stack(self.boxes[-HISTORY:])  # (H, 4)
        centres, last = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[-1]
        if len(frames) < 2:
            return last
        velocity = np.polyfit(frames, centres, 1)[0]  # (2,) pixels per frame
        shift = velocity * (t - frames[-1])
        return last + np.concatenate([shift, shift])


def track_identities(keypoint: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """People per frame -> persons with identities, highest total keypoint score first.

    Shapes: keypoint (T, K, V, 2), score (T, K, V) with K people per frame in any order, a person with all
    scores 0 being absent -> keypoint (N, T, V, 2), score (N, T, V) for the N identities, 0 where absent.
    """
    num_frames, num_people = score.shape[:2]
    identities: list[Identity] = []
    for t in range(num_frames):
        found = [k for k in range(num_people) if (score[t, k] > 0).any()]
        if not found:
            continue
        boxes = np.stack([keypoint_box(keypoint[t, k], score[t, k]) for k in found])  # (F, 4)
        boxes += [-1, -1, 1, 1]  # a pixel around: a person reduced to one point still overlaps itself
        recent = [i for i in identities if t - i.frames[-1] <= MAX_GAP]
        matched: dict[int, Identity] = {}
        if recent:
            iou = box_iou(np.stack([i.predict(t) for i in recent]), boxes)  # (R, F)
            for r, f in zip(*linear_sum_assignment(1 - iou), strict=True):
                if iou[r, f] >= MIN_IOU:
                    matched[f] = recent[r]
        for f, k in enumerate(found):
            identity = matched.get(f)
            if identity is None:
                identity = Identity()
                identities.append(identity)
            identity.frames.append(t)
            identity.boxes.append(boxes[f])
            identity.candidates.append(k)
    out_kp = np.zeros((len(identities), *keypoint.shape[:1], *keypoint.shape[2:]), dtype=np.float32)
    out_score = np.zeros((len(identities), *score.shape[:1], *score.shape[2:]), dtype=np.float32)
    for n, identity in enumerate(identities):
        out_kp[n, identity.frames] = keypoint[identity.frames, identity.candidates]
        out_score[n, identity.frames] = score[identity.frames, identity.candidates]
    order = np.argsort(-out_score.sum(axis=(1, 2)), kind="stable")
    return out_kp[order], out_score[order]
