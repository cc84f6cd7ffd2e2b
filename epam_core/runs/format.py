"""Evaluation runs: the directory that `epam evaluate` writes and the dashboard reads.

A run directory holds:

* ``manifest.json``: ``schema_version``, ``created``, ``source`` (the command that wrote it),
  ``class_names``, ``fusion_weights`` [rgb, pose], ``num_samples``, ``has_attention``, and where the rest is:
  ``model`` {``config`` (EPAMNetConfig.to_dict()), ``checkpoint`` (path), ``checkpoint_sha256``} and
  ``dataset`` {``name``, ``annotation`` (path), ``split``, ``videos`` (directory or null), ``synth``
  (the SynthActions generator arguments, for data that can be regenerated)}. Relative paths in the
  manifest are relative to the run directory (``EvalRun.resolve``), so a run can be moved with its data.
* ``predictions.parquet``: one row per sample: ``sample_id`` (str), ``label`` (int, -1 when unknown),
  ``rgb_logits`` / ``pose_logits`` / ``fused_logits`` (``fixed_size_list<float32>[K]``) and ``rgb_pred`` /
  ``pose_pred`` / ``fused_pred`` (int).
* ``attention.npz`` (optional): ``sample_id`` (S,), ``spatial`` (S, T, h, w) and ``temporal`` (S, T),
  float16, in the order of ``predictions.parquet``.
* ``embeddings.npz`` (optional; ``epam evaluate --embeddings``): ``sample_id`` (S,), ``rgb`` (S, C_rgb) and
  ``pose`` (S, C_pose) float16, in the order of ``predictions.parquet``: each clip's pooled features as the
  two classifier heads see them (attention-guided RGB, pose). Read with
  ``epam_core.analysis.embeddings.read_embeddings``; ``embedding_map_<method>.npz`` next to it is the cached
  2-D map (``epam_core.analysis.embedding_map``), recomputed when ``embeddings.npz`` changes.
* ``robustness.parquet`` (optional): one row per (noise, level, seed, sample): ``noise`` (str),
  ``level`` (float), ``seed`` (int), ``sample_id``, ``label`` and the three streams' logits
  (``fixed_size_list<float32>[K]``) and predictions.
* ``attention_measures.parquet`` (optional): one row per sample, in the order of ``predictions.parquet``:
  where the attention falls on the body, how it follows the motion, and the RGB logits with uniform and with
  no attention (format: ``epam_core.runs.attention_measures_file``; written by `epam evaluate` and `epam attention`).

Schema versions: 2 (written since the scale work) stores each logits column as a fixed-size list, so one
stream is read as one (S, K) float32 array without per-row Python work, and ``attention.npz`` uncompressed
(float16 maps barely compress; reading is 10x faster). Schema 1 stored variable-length lists and a
compressed ``attention.npz``; it is still read (the lists are checked to have K entries each), and every
write is schema 2.

In memory an ``EvalRun`` keeps the logits apart from the table: ``run.predictions`` and
``run.robustness`` hold the scalar columns, ``run.logits(stream)`` / ``run.robustness_logits(stream)``
return read-only (S, K) float32 arrays. ``read_run`` checks types and shapes of everything (class names,
fusion weights, labels, logits, predictions, attention, the sweep), so every consumer gets one ``RunError``
naming the file and the field instead of breaking later.

Runs are written atomically: everything goes into a hidden sibling directory that is renamed into place
at the end, so a crash or Ctrl-C leaves either the old run or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from epam_core.config import BRANCHES
from epam_core.errors import RunError
from epam_core.outputs import atomic_dir, atomic_write_file

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
MANIFEST = "manifest.json"
PREDICTIONS = "predictions.parquet"
ATTENTION = "attention.npz"
ROBUSTNESS = "robustness.parquet"
EMBEDDINGS = "embeddings.npz"
STREAMS = (*BRANCHES, "fused")  # the run's score columns: one per branch and the fused sum, in this order
MANIFEST_KEYS = ("schema_version", "created", "source", "class_names", "fusion_weights", "num_samples")
SWEEP_KEYS = ("noise", "level", "seed", "sample_id", "label")
RUN_KIND = f"an evaluation run ({MANIFEST})"  # what an existing folder must be for a write to replace it


@dataclass(frozen=True)
class AttentionMaps:
    """EPAM-Net's own attention for every sample of a run."""

    sample_ids: np.ndarray  # (S,) str
    spatial: np.ndarray  # (S, T, h, w) float16, in [0, 1]
    temporal: np.ndarray  # (S, T) float16, in [0, 1]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {str(s): i for i, s in enumerate(self.sample_ids)}

    def for_sample(self, sample_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(spatial (T, h, w), temporal (T,)) as float32 for one sample."""
        i = self._index[sample_id]  # KeyError for an unknown sample
        return self.spatial[i].astype(np.float32), self.temporal[i].astype(np.float32)


@dataclass(frozen=True, eq=False)
class EvalRun:
    """A loaded, validated evaluation run. Treat it as immutable: the dashboard shares one per process."""

    path: Path
    manifest: dict[str, Any]
    predictions: pd.DataFrame  # sample_id, label, {stream}_pred; one row per sample
    stream_logits: Mapping[str, np.ndarray] = field(repr=False)  # stream -> (S, K) float32, read-only
    attention: AttentionMaps | None = None
    robustness: pd.DataFrame | None = None  # noise, level, seed, sample_id, label, {stream}_pred
    sweep_logits: Mapping[str, np.ndarray] | None = field(default=None, repr=False)  # stream -> (R, K)

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def num_classes(self) -> int:
        return len(self.manifest["class_names"])

    @cached_property
    def sample_ids(self) -> np.ndarray:
        """(S,) str, in the order of every per-sample array."""
        return _read_only(self.predictions["sample_id"].to_numpy(dtype=str))

    @cached_property
    def labels(self) -> np.ndarray:
        """(S,) int64; -1 where the label is unknown."""
        return _read_only(self.predictions["label"].to_numpy(dtype=np.int64))

    @property
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).any())

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.sample_ids.tolist())}

    def has_sample(self, sample_id: str | None) -> bool:
        return sample_id in self._index

    def index_of(self, sample_id: str) -> int:
        """Row of ``sample_id`` in every per-sample array; ``KeyError`` when the run has no such sample."""
        return self._index[sample_id]

    def preds(self, stream: str) -> np.ndarray:
        """(S,) int64 top-1 class of ``stream``."""
        _check_stream(stream)
        return self.predictions[f"{stream}_pred"].to_numpy(dtype=np.int64)

    def resolve(self, path: str | None) -> Path | None:
        """A path from the manifest: absolute as it is, relative to the run directory otherwise."""
        if path is None:
            return None
        p = Path(path)
        return p if p.is_absolute() else (self.path / p).resolve()

    def logits(self, stream: str) -> np.ndarray:
        """(S, K) float32 logits of ``stream`` (one of rgb, pose, fused); read-only, no copy."""
        _check_stream(stream)
        return self.stream_logits[stream]

    def robustness_logits(self, stream: str) -> np.ndarray:
        """(R, K) float32 logits of ``stream`` for the rows of ``robustness``; read-only."""
        _check_stream(stream)
        if self.sweep_logits is None:
            raise RunError(self.path / ROBUSTNESS, "is absent: this run has no robustness sweep")
        return self.sweep_logits[stream]


def _check_stream(stream: str) -> None:
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; choose one of {STREAMS}")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def predictions_frame(
    sample_ids: list[str] | np.ndarray,
    labels: np.ndarray,
    rgb_logits: np.ndarray,
    pose_logits: np.ndarray,
    fusion_weights: tuple[float, float] = (1.0, 1.0),
    fused_logits: np.ndarray | None = None,
) -> pd.DataFrame:
    """The predictions table to write, from per-stream logits (S, K); fused = w_rgb * rgb + w_pose * pose by
    default. Each ``{stream}_logits`` cell holds one sample's (K,) row."""
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


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds the manifest of an evaluation run (what a run write may replace)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and all(k in manifest for k in MANIFEST_KEYS)


def write_run(
    out_dir: str | Path,
    manifest: Mapping[str, Any],
    predictions: pd.DataFrame,
    attention: AttentionMaps | None = None,
    robustness: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a complete run directory atomically (schema 2) and return its path.

    ``predictions`` (and ``robustness``) are tables as ``predictions_frame`` builds them: a ``{stream}_logits``
    column of (K,) rows per stream. Everything is checked as ``read_run`` checks it before anything is written.
    """
    out_dir = Path(out_dir)
    manifest = {**manifest, "schema_version": SCHEMA_VERSION, "has_attention": attention is not None}
    _check_manifest(out_dir / MANIFEST, manifest)
    num_classes = len(manifest["class_names"])
    table = _to_arrow(out_dir / PREDICTIONS, predictions, num_classes)
    frame, logits = _split_logits(out_dir / PREDICTIONS, table, num_classes)
    _check_predictions(out_dir / PREDICTIONS, frame, logits, num_classes)
    if len(frame) != manifest["num_samples"]:
        raise RunError(
            out_dir / MANIFEST, f"num_samples={manifest['num_samples']} but {len(frame)} predictions"
        )
    sweep = None
    if robustness is not None:
        sweep = _to_arrow(out_dir / ROBUSTNESS, robustness, num_classes)
        _check_sweep(out_dir / ROBUSTNESS, *_split_logits(out_dir / ROBUSTNESS, sweep, num_classes))
    if attention is not None:
        _check_attention(out_dir / ATTENTION, attention, frame["sample_id"].to_numpy(dtype=str))
    with atomic_dir(out_dir, overwrite, is_run_dir, RUN_KIND) as tmp:
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        pq.write_table(table, tmp / PREDICTIONS)
        if attention is not None:
            np.savez(  # uncompressed: float16 maps barely compress, and np.load is then a plain read
                tmp / ATTENTION,
                sample_id=np.asarray(attention.sample_ids, dtype=str),
                spatial=np.asarray(attention.spatial, dtype=np.float16),
                temporal=np.asarray(attention.temporal, dtype=np.float16),
            )
        if sweep is not None:
            pq.write_table(sweep, tmp / ROBUSTNESS)
    return out_dir


def write_robustness(run_dir: str | Path, robustness: pd.DataFrame) -> Path:
    """Add (or replace) the robustness sweep of an existing run, atomically."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunError(run_dir, f"not an evaluation run ({MANIFEST} is missing)")
    manifest = _read_manifest(run_dir / MANIFEST)
    num_classes = len(manifest["class_names"])
    table = _to_arrow(run_dir / ROBUSTNESS, robustness, num_classes)
    _check_sweep(run_dir / ROBUSTNESS, *_split_logits(run_dir / ROBUSTNESS, table, num_classes))
    return atomic_write_file(run_dir / ROBUSTNESS, lambda p: pq.write_table(table, p))


def read_run(path: str | Path) -> EvalRun:
    """Load and validate a run directory (schema 1 or 2); raise ``RunError`` naming the file and the problem."""
    path = Path(path)
    if path.is_file():
        raise RunError(path, "is a file; an evaluation run is a directory holding manifest.json")
    if not path.is_dir():
        raise RunError(path, "evaluation run not found (no such directory)")
    manifest = _read_manifest(path / MANIFEST)
    num_classes = len(manifest["class_names"])
    predictions, logits = _split_logits(path / PREDICTIONS, _read_parquet(path / PREDICTIONS), num_classes)
    _check_predictions(path / PREDICTIONS, predictions, logits, num_classes)
    if len(predictions) != manifest["num_samples"]:
        raise RunError(
            path / PREDICTIONS,
            f"has {len(predictions)} rows but {MANIFEST} says num_samples={manifest['num_samples']} "
            "(partial or mixed-up run)",
        )
    attention = None
    if (path / ATTENTION).exists():
        attention = _read_attention(path / ATTENTION, predictions["sample_id"].to_numpy(dtype=str))
    robustness = sweep_logits = None
    if (path / ROBUSTNESS).exists():
        robustness, sweep_logits = _split_logits(
            path / ROBUSTNESS, _read_parquet(path / ROBUSTNESS), num_classes
        )
        _check_sweep(path / ROBUSTNESS, robustness, sweep_logits)
    return EvalRun(path, manifest, predictions, logits, attention, robustness, sweep_logits)


def run_from_tables(
    path: str | Path | None,
    manifest: dict[str, Any],
    predictions: pd.DataFrame,
    robustness: pd.DataFrame | None = None,
) -> EvalRun:
    """An ``EvalRun`` in memory from tables as ``write_run`` takes them, checked as ``read_run`` checks them
    (the manifest needs ``class_names`` only)."""
    where = Path(path) if path is not None else Path("<in memory>")
    num_classes = len(manifest["class_names"])
    frame, logits = _split_logits(where, _to_arrow(where, predictions, num_classes), num_classes)
    _check_predictions(where, frame, logits, num_classes)
    sweep = sweep_logits = None
    if robustness is not None:
        sweep, sweep_logits = _split_logits(where, _to_arrow(where, robustness, num_classes), num_classes)
        _check_sweep(where, sweep, sweep_logits)
    return EvalRun(where, manifest, frame, logits, None, sweep, sweep_logits)


def list_runs(root: str | Path) -> list[Path]:
    """Run directories directly under ``root`` (or ``root`` itself), sorted by name."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file() and not p.name.startswith("."))


# --- reading and checking ---------------------------------------------------------------------------------


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
    if manifest["schema_version"] not in READABLE_SCHEMAS:
        raise RunError(
            path,
            f"has schema_version {manifest['schema_version']!r}, this epam reads "
            f"{', '.join(map(str, READABLE_SCHEMAS))}",
        )
    _check_manifest(path, manifest)
    return manifest


def _check_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    names = manifest["class_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise RunError(path, "class_names must be a non-empty list of strings")
    weights = manifest["fusion_weights"]
    if (
        not isinstance(weights, list)
        or len(weights) != 2
        or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) for w in weights
        )
    ):
        raise RunError(path, f"fusion_weights must be two finite numbers [rgb, pose] (got {weights!r})")
    count = manifest["num_samples"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RunError(path, f"num_samples must be a positive integer (got {count!r}); a run has samples")


def _read_parquet(path: Path) -> pa.Table:
    if not path.is_file():
        raise RunError(path, "is missing (partial run)")
    try:
        return pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise RunError(path, f"cannot be read as parquet ({type(err).__name__}: {err})") from None


def _to_arrow(path: Path, frame: pd.DataFrame, num_classes: int) -> pa.Table:
    """A table to write: ``{stream}_logits`` columns of (K,) rows become ``fixed_size_list<float32>[K]``."""
    logit_columns = [c for c in frame.columns if str(c).endswith("_logits")]
    table = pa.Table.from_pandas(frame.drop(columns=logit_columns), preserve_index=False)
    for name in logit_columns:
        rows = frame[name].tolist()
        try:
            values = np.asarray(rows, dtype=np.float32) if rows else np.zeros((0, num_classes), np.float32)
        except (TypeError, ValueError) as err:
            raise RunError(path, f"{name} rows must each hold {num_classes} numbers ({err})") from None
        if values.ndim != 2:
            raise RunError(path, f"{name} rows must each hold {num_classes} numbers")
        flat = pa.array(values.reshape(-1), type=pa.float32())
        table = table.append_column(name, pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
    return table


def _split_logits(
    path: Path, table: pa.Table, num_classes: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(the scalar columns as a frame, {stream: (S, K) float32 read-only}) of a predictions or sweep table."""
    missing = [f"{s}_logits" for s in STREAMS if f"{s}_logits" not in table.column_names]
    if missing:
        raise RunError(path, f"lacks the columns {', '.join(missing)}")
    logits = {
        stream: _read_only(
            _logits_array(path, f"{stream}_logits", table.column(f"{stream}_logits"), num_classes)
        )
        for stream in STREAMS
    }
    scalars = table.drop_columns([f"{s}_logits" for s in STREAMS])
    for name, column in zip(scalars.column_names, scalars.columns, strict=True):
        if pa.types.is_nested(column.type):
            raise RunError(path, f"column {name} holds {column.type}, expected one value per row")
    return scalars.to_pandas(), logits


def _logits_array(path: Path, name: str, column: pa.ChunkedArray, num_classes: int) -> np.ndarray:
    """(S, K) float32 from a fixed-size (schema 2) or variable-size (schema 1) list column, checked."""
    array = column.combine_chunks()
    kind = array.type
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        raise RunError(path, f"{name} holds {kind}, expected lists of {num_classes} numbers")
    value_type = kind.value_type
    if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        raise RunError(path, f"{name} holds lists of {value_type}, expected numbers")
    if array.null_count:
        raise RunError(path, f"{name} is empty (null) in {array.null_count} rows")
    if len(array) == 0:
        return np.zeros((0, num_classes), dtype=np.float32)
    if pa.types.is_fixed_size_list(kind):
        width = kind.list_size
    else:
        lengths = array.value_lengths().to_numpy(zero_copy_only=False)
        if (lengths != lengths[0]).any():
            row = int(np.flatnonzero(lengths != lengths[0])[0])
            raise RunError(
                path, f"{name} rows differ in length ({lengths[0]} in row 0, {lengths[row]} in row {row})"
            )
        width = int(lengths[0])
    if width != num_classes:
        raise RunError(path, f"{name} have {width} classes, the manifest names {num_classes}")
    values = array.flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float32, copy=False).reshape(len(array), width)


def _require_columns(path: Path, frame: pd.DataFrame, needed: list[str]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise RunError(path, f"lacks the columns {', '.join(missing)}")


def _check_ints(path: Path, frame: pd.DataFrame, name: str, low: int, high: int, what: str) -> None:
    column = frame[name]
    if not pd.api.types.is_integer_dtype(column.dtype):
        raise RunError(path, f"column {name} holds {column.dtype} values, expected integers ({what})")
    values = column.to_numpy()
    if len(values) and (values.min() < low or values.max() > high):
        bad = int(np.flatnonzero((values < low) | (values > high))[0])
        raise RunError(path, f"column {name} has {values[bad]} in row {bad}, outside {low}..{high} ({what})")


def _check_rows(path: Path, frame: pd.DataFrame, logits: Mapping[str, np.ndarray], num_classes: int) -> None:
    """Labels, predictions and logits of a predictions or sweep table (logits already (S, K))."""
    _require_columns(path, frame, ["sample_id", "label"])
    if not (pd.api.types.is_string_dtype(frame["sample_id"].dtype) or frame["sample_id"].dtype == object):
        raise RunError(path, f"column sample_id holds {frame['sample_id'].dtype}, expected strings")
    _check_ints(path, frame, "label", -1, num_classes - 1, "class ids, -1 for unknown")
    for stream in STREAMS:
        if f"{stream}_pred" in frame.columns:
            _check_ints(path, frame, f"{stream}_pred", 0, num_classes - 1, "class ids")
        finite = np.isfinite(logits[stream]).all(axis=1)
        if not finite.all():
            bad = frame["sample_id"].iloc[int(np.flatnonzero(~finite)[0])]
            raise RunError(path, f"{stream}_logits contain NaN or infinite values (first at sample {bad!r})")


def _check_predictions(
    path: Path, frame: pd.DataFrame, logits: Mapping[str, np.ndarray], num_classes: int
) -> None:
    _require_columns(path, frame, ["sample_id", "label"] + [f"{s}_pred" for s in STREAMS])
    if len(frame) == 0:
        raise RunError(path, "has no samples")
    _check_rows(path, frame, logits, num_classes)
    if frame["sample_id"].duplicated().any():
        dup = frame["sample_id"][frame["sample_id"].duplicated()].iloc[0]
        raise RunError(path, f"lists sample {dup!r} more than once")


def _check_sweep(path: Path, frame: pd.DataFrame, logits: dict[str, np.ndarray]) -> None:
    """A robustness sweep: the condition columns typed, and a ``{stream}_pred`` column for every stream."""
    _require_columns(path, frame, list(SWEEP_KEYS))
    if len(frame) == 0:
        raise RunError(path, "has no rows (an empty sweep)")
    if not (pd.api.types.is_string_dtype(frame["noise"].dtype) or frame["noise"].dtype == object):
        raise RunError(path, f"column noise holds {frame['noise'].dtype}, expected noise names")
    if not pd.api.types.is_numeric_dtype(frame["level"].dtype) or pd.api.types.is_bool_dtype(frame["level"]):
        raise RunError(path, f"column level holds {frame['level'].dtype} values, expected numbers")
    if not np.isfinite(frame["level"].to_numpy(dtype=np.float64)).all():
        raise RunError(path, "column level holds NaN or infinite values")
    _check_ints(path, frame, "seed", 0, np.iinfo(np.int64).max, "random seeds")
    _check_rows(path, frame, logits, logits["rgb"].shape[1])
    for stream in STREAMS:  # tables written before predictions were stored get them from the logits
        if f"{stream}_pred" not in frame.columns:
            frame[f"{stream}_pred"] = logits[stream].argmax(axis=1).astype(np.int64)


def _check_attention(path: Path, maps: AttentionMaps, sample_ids: np.ndarray) -> None:
    spatial, temporal = maps.spatial, maps.temporal
    if spatial.ndim != 4 or temporal.ndim != 2 or spatial.shape[:2] != temporal.shape:
        raise RunError(
            path,
            f"spatial must be (S,T,h,w) and temporal (S,T); got {spatial.shape}, {temporal.shape}",
        )
    for name, values in (("spatial", spatial), ("temporal", temporal)):
        # a sum is NaN/inf exactly when some value is, and 5x faster than isfinite() on float16
        if not np.issubdtype(values.dtype, np.floating) or not np.isfinite(values.sum(dtype=np.float64)):
            raise RunError(path, f"{name} must hold finite numbers (found {values.dtype} with NaN/inf)")
    if not np.array_equal(np.asarray(maps.sample_ids, dtype=str), sample_ids):
        raise RunError(path, f"sample ids differ from those of {PREDICTIONS}")


def _read_attention(path: Path, sample_ids: np.ndarray) -> AttentionMaps:
    try:
        with np.load(path, allow_pickle=False) as npz:
            maps = AttentionMaps(npz["sample_id"].astype(str), npz["spatial"], npz["temporal"])
    except Exception as err:
        raise RunError(path, f"cannot be read ({type(err).__name__}: {err})") from None
    _check_attention(path, maps, sample_ids)
    return AttentionMaps(maps.sample_ids, _read_only(maps.spatial), _read_only(maps.temporal))
