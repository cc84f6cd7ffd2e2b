"""Evaluation runs: the directory that `epam evaluate` writes and the dashboard reads.

A run directory holds:

* ``manifest.json``: ``schema_version``, ``created``, ``source`` (the command that wrote it),
  ``class_names``, ``fusion_weights`` [rgb, pose], ``num_samples``, ``has_attention``, and where the rest is:
  ``model`` {``config`` (EPAMNetConfig.to_dict()), ``checkpoint`` (path), ``checkpoint_sha256``} and
  ``dataset`` {``name``, ``annotation`` (path), ``split``, ``videos`` (directory or null), ``synth``
  (the SynthActions generator arguments, for data that can be regenerated)}. Relative paths in the
  manifest are relative to the run directory (``EvalRun.resolve``), so a run can be moved with its data.
* ``predictions.parquet``: one row per sample: ``sample_id`` (str), ``label`` (int, -1 when unknown),
  ``rgb_logits`` / ``pose_logits`` / ``fused_logits`` (lists of K floats) and ``rgb_pred`` /
  ``pose_pred`` / ``fused_pred`` (int).
* ``attention.npz`` (optional): ``sample_id`` (S,), ``spatial`` (S, T, h, w) and ``temporal`` (S, T),
  float16, in the order of ``predictions.parquet``.
* ``robustness.parquet`` (optional): one row per (noise, level, seed, sample): ``noise`` (str),
  ``level`` (float), ``seed`` (int), ``sample_id``, ``label`` and the three streams' logits and predictions.

Runs are written atomically: everything goes into a hidden sibling directory that is renamed into place
at the end, so a crash or Ctrl-C leaves either the old run or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from epam_core.errors import RunError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
PREDICTIONS = "predictions.parquet"
ATTENTION = "attention.npz"
ROBUSTNESS = "robustness.parquet"
STREAMS = ("rgb", "pose", "fused")
MANIFEST_KEYS = ("schema_version", "created", "source", "class_names", "fusion_weights", "num_samples")


@dataclass(frozen=True)
class AttentionMaps:
    """EPAM-Net's own attention for every sample of a run."""

    sample_ids: np.ndarray  # (S,) str
    spatial: np.ndarray  # (S, T, h, w) float16, in [0, 1]
    temporal: np.ndarray  # (S, T) float16, in [0, 1]

    def for_sample(self, sample_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(spatial (T, h, w), temporal (T,)) as float32 for one sample."""
        idx = np.flatnonzero(self.sample_ids == sample_id)
        if idx.size == 0:
            raise KeyError(sample_id)
        return self.spatial[idx[0]].astype(np.float32), self.temporal[idx[0]].astype(np.float32)


@dataclass(frozen=True)
class EvalRun:
    """A loaded evaluation run."""

    path: Path
    manifest: dict[str, Any]
    predictions: pd.DataFrame
    attention: AttentionMaps | None
    robustness: pd.DataFrame | None

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def num_classes(self) -> int:
        return len(self.manifest["class_names"])

    @property
    def sample_ids(self) -> np.ndarray:
        return self.predictions["sample_id"].to_numpy(dtype=str)

    @property
    def labels(self) -> np.ndarray:
        """(S,) int64; -1 where the label is unknown."""
        return self.predictions["label"].to_numpy(dtype=np.int64)

    @property
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).any())

    def resolve(self, path: str | None) -> Path | None:
        """A path from the manifest: absolute as it is, relative to the run directory otherwise."""
        if path is None:
            return None
        p = Path(path)
        return p if p.is_absolute() else (self.path / p).resolve()

    def logits(self, stream: str) -> np.ndarray:
        """(S, K) float32 logits of ``stream`` (one of rgb, pose, fused)."""
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {STREAMS}")
        return stack_logits(self.predictions[f"{stream}_logits"])


def stack_logits(column: pd.Series) -> np.ndarray:
    """A parquet list column of logits -> (S, K) float32."""
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in column])


def predictions_frame(
    sample_ids: list[str] | np.ndarray,
    labels: np.ndarray,
    rgb_logits: np.ndarray,
    pose_logits: np.ndarray,
    fusion_weights: tuple[float, float] = (1.0, 1.0),
    fused_logits: np.ndarray | None = None,
) -> pd.DataFrame:
    """The predictions table from per-stream logits (S, K); fused = w_rgb * rgb + w_pose * pose by default."""
    rgb_logits = np.asarray(rgb_logits, dtype=np.float32)
    pose_logits = np.asarray(pose_logits, dtype=np.float32)
    if fused_logits is None:
        fused_logits = fusion_weights[0] * rgb_logits + fusion_weights[1] * pose_logits
    fused_logits = np.asarray(fused_logits, dtype=np.float32)
    frame = pd.DataFrame({"sample_id": [str(s) for s in sample_ids], "label": np.asarray(labels, np.int64)})
    for name, logits in zip(STREAMS, (rgb_logits, pose_logits, fused_logits), strict=True):
        frame[f"{name}_logits"] = list(logits)
        frame[f"{name}_pred"] = logits.argmax(axis=1).astype(np.int64) if logits.size else np.int64(-1)
    return frame


def new_manifest(
    *,
    source: str,
    class_names: list[str],
    num_samples: int,
    fusion_weights: tuple[float, float] = (1.0, 1.0),
    **extra: Any,
) -> dict[str, Any]:
    """A manifest with the required keys; ``extra`` adds model, checkpoint, dataset, videos, ..."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "class_names": list(class_names),
        "fusion_weights": [float(w) for w in fusion_weights],
        "num_samples": int(num_samples),
        **extra,
    }


def _partial_name(final: Path) -> Path:
    """A hidden, unique sibling of ``final`` to write into before the rename.

    Created with plain mkdir()/open() rather than mkdtemp()/mkstemp(), so the result gets the permissions
    the umask gives any other file (mkstemp/mkdtemp would leave it 0600/0700).
    """
    return final.with_name(f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")


@contextmanager
def atomic_dir(out_dir: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary directory that replaces ``out_dir`` when the block ends without error."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise RunError(out_dir, "already exists; choose another --out or pass --overwrite")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_name(out_dir)
    tmp.mkdir()
    try:
        yield tmp
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_file(path: str | Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path`` (no half-written file on failure)."""
    path = Path(path)
    tmp = _partial_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_run(
    out_dir: str | Path,
    manifest: Mapping[str, Any],
    predictions: pd.DataFrame,
    attention: AttentionMaps | None = None,
    robustness: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a complete run directory atomically and return its path."""
    manifest = {**manifest, "has_attention": attention is not None}
    _check_predictions(Path(out_dir) / PREDICTIONS, predictions, len(manifest["class_names"]))
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        predictions.to_parquet(tmp / PREDICTIONS, index=False)
        if attention is not None:
            np.savez_compressed(
                tmp / ATTENTION,
                sample_id=np.asarray(attention.sample_ids, dtype=str),
                spatial=np.asarray(attention.spatial, dtype=np.float16),
                temporal=np.asarray(attention.temporal, dtype=np.float16),
            )
        if robustness is not None:
            robustness.to_parquet(tmp / ROBUSTNESS, index=False)
    return Path(out_dir)


def write_robustness(run_dir: str | Path, robustness: pd.DataFrame) -> Path:
    """Add (or replace) the robustness sweep of an existing run, atomically."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunError(run_dir, f"not an evaluation run ({MANIFEST} is missing)")
    return atomic_write_file(run_dir / ROBUSTNESS, lambda p: robustness.to_parquet(p, index=False))


def read_run(path: str | Path) -> EvalRun:
    """Load and validate a run directory; raise ``RunError`` naming the file and the problem."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(path, "evaluation run not found (no such directory)")
    manifest = _read_manifest(path / MANIFEST)
    num_classes = len(manifest["class_names"])
    predictions = _read_parquet(path / PREDICTIONS)
    _check_predictions(path / PREDICTIONS, predictions, num_classes)
    if len(predictions) != manifest["num_samples"]:
        raise RunError(
            path / PREDICTIONS,
            f"has {len(predictions)} rows but {MANIFEST} says num_samples={manifest['num_samples']} "
            "(partial or mixed-up run)",
        )
    attention = _read_attention(path / ATTENTION, predictions) if (path / ATTENTION).exists() else None
    robustness = _read_parquet(path / ROBUSTNESS) if (path / ROBUSTNESS).exists() else None
    return EvalRun(path, manifest, predictions, attention, robustness)


def list_runs(root: str | Path) -> list[Path]:
    """Run directories directly under ``root`` (or ``root`` itself), sorted by name."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file() and not p.name.startswith("."))


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RunError(path.parent, f"not an evaluation run ({MANIFEST} is missing)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunError(path, f"is not valid JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise RunError(path, "is not a JSON object")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RunError(path, f"is missing {', '.join(missing)} (not an epam run manifest)")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise RunError(
            path, f"has schema_version {manifest['schema_version']}, this epam reads {SCHEMA_VERSION}"
        )
    return manifest


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise RunError(path, "is missing (partial run)")
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise RunError(path, f"cannot be read as parquet ({type(err).__name__}: {err})") from None


def _check_predictions(path: Path, frame: pd.DataFrame, num_classes: int) -> None:
    needed = ["sample_id", "label"] + [f"{s}_{kind}" for s in STREAMS for kind in ("logits", "pred")]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise RunError(path, f"lacks the columns {', '.join(missing)}")
    if frame["sample_id"].duplicated().any():
        dup = frame["sample_id"][frame["sample_id"].duplicated()].iloc[0]
        raise RunError(path, f"lists sample {dup!r} more than once")
    labels = frame["label"].to_numpy()
    if len(labels) and (labels.max() >= num_classes or labels.min() < -1):
        raise RunError(path, f"has labels outside 0..{num_classes - 1} (and -1 for unknown)")
    for stream in STREAMS:
        logits = stack_logits(frame[f"{stream}_logits"])
        if len(frame) and logits.shape[1] != num_classes:
            raise RunError(
                path, f"{stream}_logits have {logits.shape[1]} classes, the manifest names {num_classes}"
            )
        if not np.isfinite(logits).all():
            bad = frame["sample_id"].iloc[int(np.flatnonzero(~np.isfinite(logits).all(axis=1))[0])]
            raise RunError(path, f"{stream}_logits contain NaN or infinite values (first at sample {bad!r})")


def _read_attention(path: Path, predictions: pd.DataFrame) -> AttentionMaps:
    try:
        with np.load(path, allow_pickle=False) as npz:
            maps = AttentionMaps(npz["sample_id"].astype(str), npz["spatial"], npz["temporal"])
    except Exception as err:
        raise RunError(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if maps.spatial.ndim != 4 or maps.temporal.ndim != 2:
        raise RunError(
            path,
            f"spatial must be (S,T,h,w) and temporal (S,T); got {maps.spatial.shape}, {maps.temporal.shape}",
        )
    if not np.array_equal(maps.sample_ids, predictions["sample_id"].to_numpy(dtype=str)):
        raise RunError(path, f"sample ids differ from those of {PREDICTIONS}")
    return maps
