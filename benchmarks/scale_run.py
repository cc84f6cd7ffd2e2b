"""Realistic evaluation runs of any size for the dashboard scale benchmark (bench_dashboard_scale.py).

A run looks like what `epam evaluate` writes for a real test split, written with the public writer
(``epam_core.runs.write_run``, so it is stored in whatever format that writes now):

* sample ids in NTU RGB+D's ``SsssCcccPpppRrrrAaaa`` form (setups 1-32, cameras 1-3, replications 1-2),
  performers from NTU-120's cross-subject *test* subjects, action = label + 1, classes balanced;
* per-stream logits with target top-1 accuracies (defaults rgb 85 %, pose 82 %, fused = rgb + pose 90 %):
  a sample's difficulty is shared between the streams (correlated errors, tuned so that the sum reaches
  the fused target), classes differ in difficulty, and a wrong prediction goes mostly to a class of the
  same cluster of similar classes (clusters of 6, with a preferred partner), so the confusion matrix has
  the block structure of a real one;
* attention maps (S, 16, 7, 7) float16: a Gaussian blob that wanders over the 7x7 grid, temporal
  attention (S, 16) a smooth bump, both in [0, 1];
* a robustness sweep over evenly spaced clips (default 2,000) x 2 noises x 4 levels x 2 seeds, where the
  pose stream degrades with the level and the RGB stream a little (its attention comes from the pose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from epam_core.data.class_names import get_class_names
from epam_core.runs.format import AttentionMaps, new_manifest, predictions_frame, write_run

NTU_ID = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$")
# NTU RGB+D 120 cross-subject training subjects (Liu et al. 2019); the test subjects are the others of 1..106.
NTU120_XSUB_TRAIN = (
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50, 52, 53,
    54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
)  # fmt: skip
TEST_PERFORMERS = np.array([p for p in range(1, 107) if p not in NTU120_XSUB_TRAIN])
SETUPS, CAMERAS, REPLICATIONS = 32, 3, 2
CLUSTER_SIZE = 6
ROBUSTNESS_NOISES = (("jitter_px", (0.0, 2.0, 4.0, 8.0)), ("joint_dropout", (0.0, 0.2, 0.4, 0.6)))
ROBUSTNESS_SEEDS = (0, 1)
LOGIT_SCALE = {"rgb": 2.2, "pose": 1.8}  # streams are not equally confident: the fusion sweep has a peak


@dataclass(frozen=True)
class Targets:
    """Top-1 accuracies the generated logits aim at (fused = rgb + pose logits)."""

    rgb: float = 0.85
    pose: float = 0.82
    fused: float = 0.90


def class_names_for(num_classes: int) -> list[str]:
    """The built-in ``ntu120`` names for 120 classes (``ntu60`` for 60), else ``class_000``..."""
    if num_classes == 120:
        return get_class_names("ntu120")
    if num_classes == 60:
        return get_class_names("ntu60")
    return [f"class_{i:03d}" for i in range(num_classes)]


def ntu_sample_ids(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unique ``SsssCcccPpppRrrrAaaa`` ids, action = label + 1 (S,) str."""
    if labels.max() >= 999:
        raise ValueError("NTU ids have 3 digits for the action: at most 999 classes")
    per_action = SETUPS * CAMERAS * len(TEST_PERFORMERS) * REPLICATIONS
    ids = np.empty(len(labels), dtype="<U20")
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) > per_action:
            raise ValueError(f"at most {per_action} clips per class have distinct NTU ids")
        combo = rng.choice(per_action, size=len(rows), replace=False)
        setup, rest = np.divmod(combo, CAMERAS * len(TEST_PERFORMERS) * REPLICATIONS)
        camera, rest = np.divmod(rest, len(TEST_PERFORMERS) * REPLICATIONS)
        performer, replication = np.divmod(rest, REPLICATIONS)
        ids[rows] = [
            f"S{s + 1:03d}C{c + 1:03d}P{TEST_PERFORMERS[p]:03d}R{r + 1:03d}A{label + 1:03d}"
            for s, c, p, r in zip(setup, camera, performer, replication, strict=True)
        ]
    return ids


def _confusers(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(rgb confuser, pose confuser) per sample: mostly a similar class (same cluster), never the label."""
    perm = rng.permutation(num_classes)
    cluster = np.empty(num_classes, dtype=np.int64)
    cluster[perm] = np.arange(num_classes) // CLUSTER_SIZE
    members = [np.flatnonzero(cluster == c) for c in range(cluster.max() + 1)]
    # one preferred partner per class (half of the in-cluster confusions), the rest spread over the cluster
    partner = np.array([rng.choice(members[cluster[k]][members[cluster[k]] != k] if len(members[cluster[k]]) > 1
                                   else np.delete(np.arange(num_classes), k)) for k in range(num_classes)])  # fmt: skip

    def draw() -> np.ndarray:
        out = partner[labels].copy()
        spread = rng.random(len(labels)) < 0.5
        for i in np.flatnonzero(spread):
            group = members[cluster[labels[i]]]
            group = group[group != labels[i]]
            out[i] = rng.choice(group) if len(group) else out[i]
        far = rng.random(len(labels)) < 0.2  # some confusions with unrelated classes
        out[far] = (labels[far] + rng.integers(1, num_classes, far.sum())) % num_classes
        return out

    rgb = draw()
    pose = np.where(rng.random(len(labels)) < 0.6, rgb, draw())  # the streams often share the confusion
    return rgb, pose


class _LogitModel:
    """Logits = scale * (N(0, 1) + bonuses on the true class and on each stream's confuser).

    Only three columns per sample carry a bonus, so accuracy for any margins is computed from the noise at
    those columns and the maximum of the noise over the others (computed once), without rebuilding (S, K).
    """

    def __init__(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator):
        s = len(labels)
        self.labels = labels
        conf_rgb, conf_pose = _confusers(labels, num_classes, rng)
        self.special = np.stack([labels, conf_rgb, conf_pose], axis=1)  # (S, 3) columns with a bonus
        self.noise = {k: rng.standard_normal((s, num_classes), dtype=np.float32) for k in ("rgb", "pose")}
        self.z = rng.standard_normal(s)  # shared difficulty
        self.e = {k: rng.standard_normal(s) for k in ("rgb", "pose")}  # stream-specific difficulty
        shared_class = rng.normal(0.0, 0.8, num_classes)
        self.class_offset = {
            k: (shared_class + rng.normal(0.0, 0.5, num_classes))[labels] for k in ("rgb", "pose")
        }
        rows = np.arange(s)[:, None]
        mask = np.zeros((s, num_classes), dtype=bool)
        mask[rows, self.special] = True
        scaled = {k: LOGIT_SCALE[k] * self.noise[k] for k in ("rgb", "pose")}
        self.at_special = {k: scaled[k][rows, self.special] for k in ("rgb", "pose")}  # (S, 3)
        fused = scaled["rgb"] + scaled["pose"]
        self.at_special["fused"] = fused[rows, self.special]
        self.other_max = {
            k: np.where(mask, -np.inf, v).max(axis=1) for k, v in (*scaled.items(), ("fused", fused))
        }
        # bonus of column j lands on every special column equal to it (a confuser may equal the other's)
        self.same = self.special[:, :, None] == self.special[:, None, :]  # (S, 3, 3)

    def raw_bonus(self, stream: str, margin: float, rho: float) -> np.ndarray:
        """(S, 3) bonus of ``stream`` on (label, rgb confuser, pose confuser), before the logit scale."""
        g = rho * self.z + np.sqrt(1 - rho**2) * self.e[stream] + self.class_offset[stream]
        raw = np.zeros((len(self.labels), 3))
        raw[:, 0] = margin + 1.2 * g
        raw[:, 1 if stream == "rgb" else 2] = np.clip(2.0 - 1.2 * g, 0.0, None)
        return raw

    def _spread(self, raw: np.ndarray) -> np.ndarray:
        return np.einsum("sjk,sk->sj", self.same, raw)

    def accuracy(self, stream: str, margins: dict[str, float], rho: float) -> float:
        if stream == "fused":
            bonus = sum(
                LOGIT_SCALE[k] * self._spread(self.raw_bonus(k, margins[k], rho)) for k in ("rgb", "pose")
            )
        else:
            bonus = LOGIT_SCALE[stream] * self._spread(self.raw_bonus(stream, margins[stream], rho))
        score = self.at_special[stream] + bonus
        rival = np.maximum(self.other_max[stream], score[:, 1:].max(axis=1))
        return float(np.mean(score[:, 0] > rival))

    def logits(self, stream: str, margin: float, rho: float) -> np.ndarray:
        """(S, K) float32 logits of one stream."""
        out = self.noise[stream].copy()
        raw = self.raw_bonus(stream, margin, rho)
        rows = np.arange(len(self.labels))
        for j in range(3):  # one column at a time: duplicated columns accumulate
            out[rows, self.special[:, j]] += raw[:, j].astype(np.float32)
        return LOGIT_SCALE[stream] * out


def _bisect(fn, lo: float, hi: float, target: float, increasing: bool = True, steps: int = 30) -> float:
    for _ in range(steps):
        mid = (lo + hi) / 2
        if (fn(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def calibrated_logits(
    labels: np.ndarray, num_classes: int, targets: Targets, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """rgb and pose logits (S, K) whose top-1 (and that of their sum) is close to ``targets``."""
    model = _LogitModel(labels, num_classes, rng)

    def margins_for(rho: float) -> dict[str, float]:
        m: dict[str, float] = {}
        for stream in ("rgb", "pose"):
            target = getattr(targets, stream)
            m[stream] = _bisect(lambda x, s=stream: model.accuracy(s, {s: x}, rho), -5.0, 12.0, target)
        return m

    # more shared difficulty -> more shared errors -> less to gain from fusion: fused top-1 falls with rho
    rho = _bisect(lambda r: model.accuracy("fused", margins_for(r), r), 0.0, 0.99, targets.fused, False, 14)
    margins = margins_for(rho)
    return {stream: model.logits(stream, margins[stream], rho) for stream in ("rgb", "pose")}


def attention_maps(
    sample_ids: np.ndarray, rng: np.random.Generator, frames: int = 16, grid: int = 7
) -> AttentionMaps:
    """Spatial (S, T, grid, grid) and temporal (S, T) attention in [0, 1], float16."""
    s = len(sample_ids)
    start = rng.uniform(1.5, grid - 2.5, (s, 1, 2))
    centre = np.clip(start + np.cumsum(rng.normal(0, 0.25, (s, frames, 2)), axis=1), 0, grid - 1)  # (S, T, 2)
    width = rng.uniform(0.8, 1.8, (s, 1, 1, 1))
    axis = np.arange(grid)
    dy = (axis[None, None, :, None] - centre[..., 0, None, None]) ** 2
    dx = (axis[None, None, None, :] - centre[..., 1, None, None]) ** 2
    spatial = np.exp(-(dy + dx) / (2 * width**2))  # (S, T, grid, grid)
    peak = rng.uniform(0, frames - 1, (s, 1))
    temporal = 0.25 + 0.75 * np.exp(
        -((np.arange(frames)[None] - peak) ** 2) / (2 * rng.uniform(2, 5, (s, 1)) ** 2)
    )
    return AttentionMaps(sample_ids, spatial.astype(np.float16), temporal.astype(np.float16))


def robustness_sweep(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    logits: dict[str, np.ndarray],
    clips: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``robustness.parquet`` table (built by ``epam_core.runs.robustness.robustness_frame``) of ``clips``
    evenly spaced samples: pose logits lose signal and gain noise with the level, RGB logits move a little."""
    from epam_core.runs.robustness import robustness_frame, subset_indices, sweep_conditions

    index = subset_indices(len(sample_ids), clips)
    conditions = sweep_conditions(ROBUSTNESS_NOISES, ROBUSTNESS_SEEDS)
    top = {n: max(levels) for n, levels in ROBUSTNESS_NOISES}
    rgb, pose = logits["rgb"][index], logits["pose"][index]
    per_condition = []
    for cond in conditions:
        f = cond.level / top[cond.noise]  # 0..1
        noisy = np.random.default_rng([cond.seed, int(cond.level * 100), len(cond.noise)])
        p = (1 - 0.55 * f) * pose + f * 2.5 * noisy.standard_normal(pose.shape, dtype=np.float32)
        r = rgb + f * 0.4 * noisy.standard_normal(rgb.shape, dtype=np.float32)
        per_condition.append((r.astype(np.float32), p.astype(np.float32), (r + p).astype(np.float32)))
    per_sample = [[(r[i], p[i], fu[i]) for r, p, fu in per_condition] for i in range(len(index))]
    samples = [{"frame_dir": sample_ids[i], "label": int(labels[i])} for i in index]
    return robustness_frame(samples, conditions, per_sample)


def write_scale_run(
    out_dir: str | Path,
    num_samples: int,
    num_classes: int,
    targets: Targets = Targets(),
    seed: int = 0,
    robustness_clips: int = 2000,
    label_seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write one run; runs with the same ``label_seed`` share sample ids and labels (comparable runs)."""
    id_rng = np.random.default_rng([label_seed, num_samples, num_classes])
    labels = np.sort(np.arange(num_samples) % num_classes)  # balanced, grouped by action
    sample_ids = ntu_sample_ids(labels, id_rng)
    order = np.argsort(sample_ids)  # a split file lists clips by name
    sample_ids, labels = sample_ids[order], labels[order]
    rng = np.random.default_rng([seed, num_samples, num_classes, 1])
    logits = calibrated_logits(labels, num_classes, targets, rng)
    names = class_names_for(num_classes)
    dataset = "ntu120" if num_classes == 120 else "ntu60" if num_classes == 60 else f"synthetic_{num_classes}"
    manifest = new_manifest(
        source=f"benchmarks/scale_run.py (synthetic {num_samples} x {num_classes}, seed {seed})",
        class_names=names,
        num_samples=num_samples,
        dataset={"name": dataset, "split": "xsub_test", "annotation": None, "videos": None},
    )
    return write_run(
        out_dir,
        manifest,
        predictions_frame(sample_ids, labels, logits["rgb"], logits["pose"]),
        attention=attention_maps(sample_ids, rng),
        robustness=robustness_sweep(sample_ids, labels, logits, robustness_clips, rng)
        if robustness_clips
        else None,
        overwrite=overwrite,
    )
