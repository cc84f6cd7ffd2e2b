"""Turn mmaction2 / pyskl test-result pickles into an evaluation run (without attention maps).

A result pickle holds one entry per test sample, in the dataset's order, as ``tools/test.py --out`` writes it:

* a list of score arrays (K,) or an array (S, K) (mmaction2 0.x, pyskl), or
* a list of dicts with the scores under ``pred_score`` / ``pred_scores`` / ``scores`` (a (K,) array or
  ``{"item": array}``), and optionally the sample under ``sample_id`` / ``frame_dir`` and the label under
  ``gt_label`` / ``gt_labels`` / ``label`` (mmaction2 1.x, after converting tensors to numpy).

Entries with ids are matched to the annotation's samples by id; entries without ids must come in the
split's order, which is checked against their labels when they carry any. Pickles are read with the same
numpy-only allow-list as annotation files, so a pickle from the internet cannot run code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from epam_core.data.class_names import class_names_from_arg
from epam_core.data.pyskl import load_annotations, safe_load_pickle, select_split
from epam_core.errors import DataError, RunError
from epam_core.runs.format import predictions_frame, write_run
from epam_core.runs.manifest import relative_to_run, resolve_class_names, run_manifest, sha256

log = logging.getLogger(__name__)

SCORE_KEYS = ("pred_score", "pred_scores", "scores", "score")
ID_KEYS = ("sample_id", "frame_dir")
LABEL_KEYS = ("gt_label", "gt_labels", "label")


def read_scores(path: str | Path) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
    """One result pickle -> (scores (S, K) float32, sample ids or None, labels (S,) or None)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "score file not found")
    data = safe_load_pickle(path, "score", hint="; convert tensors to numpy arrays")
    if isinstance(data, np.ndarray) and data.ndim == 2:
        data = list(data)
    if not isinstance(data, list) or not data:
        raise DataError(path, "expected a non-empty list of per-sample scores (the output of test.py --out)")
    if all(isinstance(entry, dict) for entry in data):
        return _from_dicts(path, data)
    return _stack(path, data), None, None


def _stack(path: Path, entries: Sequence[Any]) -> np.ndarray:
    try:
        rows = [np.asarray(e, dtype=np.float32).reshape(-1) for e in entries]
    except (TypeError, ValueError) as err:
        raise DataError(path, f"has entries that are not score arrays ({err})") from None
    sizes = {len(r) for r in rows}
    if len(sizes) != 1:
        raise DataError(path, f"has score arrays of different lengths {sorted(sizes)}")
    scores = np.stack(rows)  # (S, K)
    bad = ~np.isfinite(scores).all(axis=1)
    if bad.any():
        raise DataError(
            path,
            f"holds NaN or infinite scores ({int(bad.sum())} entries, first: entry {int(np.argmax(bad))})",
        )
    return scores


def _pick(entry: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in entry:
            value = entry[key]
            return value["item"] if isinstance(value, dict) and "item" in value else value
    return None


def _from_dicts(
    path: Path, entries: list[dict[str, Any]]
) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
    scores = [_pick(e, SCORE_KEYS) for e in entries]
    if any(s is None for s in scores):
        raise DataError(path, f"has an entry without scores (looked for {', '.join(SCORE_KEYS)})")
    ids = [_pick(e, ID_KEYS) for e in entries]
    labels = [_pick(e, LABEL_KEYS) for e in entries]
    has_ids = all(i is not None for i in ids)
    has_labels = all(lab is not None for lab in labels)
    return (
        _stack(path, scores),
        [str(i) for i in ids] if has_ids else None,
        np.asarray([_label(path, i, lab) for i, lab in enumerate(labels)]) if has_labels else None,
    )


def _label(path: Path, index: int, value: Any) -> int:
    """One entry's label: an integer, or an array / list holding one (mmaction2 1.x ``gt_label``)."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biu":
        raise DataError(path, f"entry {index} has label {value!r}; expected one integer class index")
    return int(arr.reshape(-1)[0])


def align_scores(
    path: Path,
    scores: np.ndarray,
    ids: list[str] | None,
    labels: np.ndarray | None,
    samples: list[dict[str, Any]],
) -> np.ndarray:
    """Scores (S, K) in the order of ``samples``; a ``RunError`` naming ``path`` when they do not fit."""
    want = [s["frame_dir"] for s in samples]
    if ids is not None:
        if len(set(ids)) != len(ids):
            raise RunError(path, "lists a sample id more than once")
        missing, extra = set(want) - set(ids), set(ids) - set(want)
        if missing or extra:
            example = sorted(missing)[:1] or sorted(extra)[:1]
            raise RunError(
                path,
                f"ids do not match the split: {len(missing)} samples missing, {len(extra)} unknown "
                f"(e.g. {example[0]!r})",
            )
        position = {sample_id: i for i, sample_id in enumerate(ids)}
        order = [position[s] for s in want]
        return scores[order]
    if len(scores) != len(samples):
        raise RunError(
            path, f"has {len(scores)} entries but the split has {len(samples)} samples (length mismatch)"
        )
    if labels is not None:
        truth = np.asarray([s["label"] for s in samples])
        wrong = np.flatnonzero(labels != truth)
        if wrong.size:
            i = int(wrong[0])
            raise RunError(
                path,
                f"entry {i} has label {labels[i]} but sample {want[i]!r} has label {truth[i]} "
                f"({wrong.size} disagree): the entries are not in the split's order",
            )
    return scores


def import_scores(
    rgb_path: str | Path,
    pose_path: str | Path,
    annotation: str | Path,
    out: str | Path,
    split: str | None = None,
    videos: str | Path | None = None,
    class_names_file: str | Path | None = None,
    fusion_weights: tuple[float, float] = (1.0, 1.0),
    overwrite: bool = False,
    source: str = "epam import-scores",
) -> Path:
    """Write a run from an RGB and a pose result pickle over ``split`` of ``annotation``."""
    rgb_path, pose_path = Path(rgb_path), Path(pose_path)
    anns = load_annotations(annotation)
    samples = select_split(anns, split)
    rgb = align_scores(rgb_path, *read_scores(rgb_path), samples)
    pose = align_scores(pose_path, *read_scores(pose_path), samples)
    if rgb.shape[1] != pose.shape[1]:
        raise RunError(pose_path, f"has {pose.shape[1]} classes, {rgb_path} has {rgb.shape[1]}")
    class_names = resolve_class_names(
        rgb.shape[1],
        (str(anns.path), anns.class_names),
        (str(class_names_file), class_names_from_arg(class_names_file)),
    )
    labels = np.asarray([s["label"] for s in samples], dtype=np.int64)
    frame = predictions_frame(
        [s["frame_dir"] for s in samples], labels, rgb, pose, fusion_weights=fusion_weights
    )
    manifest = run_manifest(
        source=source,
        run_dir=out,
        class_names=class_names,
        num_samples=len(samples),
        annotation=annotation,
        split=split,
        videos=videos,
        fusion_weights=fusion_weights,
        imported={
            stream: {"scores": relative_to_run(p, out), "sha256": sha256(p)}
            for stream, p in (("rgb", rgb_path), ("pose", pose_path))
        },
    )
    log.info("imported %d samples x %d classes into %s", len(samples), rgb.shape[1], out)
    return write_run(out, manifest, frame, overwrite=overwrite)
