"""A run's ``attention_measures.parquet``: what EPAM-Net's attention looks at and what it buys, per sample.

One row per sample, in the order of ``predictions.parquet``: ``sample_id``; the float measures of
``epam_core.analysis.attention_measures.MEASURE_COLUMNS`` (``on_body``, ``on_body_chance``,
``<part>_mass`` / ``<part>_chance`` for head, arms, torso, legs, ``temporal_motion_corr``; NaN where
undefined); ``motion`` (list of T floats: mean joint speed at each RGB frame, grid cells per pose frame);
``rgb_uniform_logits`` and ``rgb_none_logits`` (lists of K floats: the RGB stream with the attention replaced
by its per-sample mean, and with ``A = 0``). `epam evaluate` writes it after the rest of the run and
`epam attention` adds it to an existing run, each atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from epam_core.analysis.attention_measures import MEASURE_COLUMNS
from epam_core.errors import RunError
from epam_core.outputs import atomic_write_file
from epam_core.runs.format import MANIFEST, EvalRun

ATTENTION_MEASURES = "attention_measures.parquet"
LOGIT_COLUMNS = ("rgb_uniform_logits", "rgb_none_logits")
LIST_COLUMNS = ("motion", *LOGIT_COLUMNS)
COLUMNS = ("sample_id", *MEASURE_COLUMNS, *LIST_COLUMNS)


def measures_frame(rows: list[dict]) -> pd.DataFrame:
    """The table from one dict per sample (keys ``COLUMNS``; lists / arrays for motion and logits)."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["sample_id"] = frame["sample_id"].astype(str)
    for col in MEASURE_COLUMNS:
        frame[col] = frame[col].astype(np.float64)
    for col in ("motion", *LOGIT_COLUMNS):
        frame[col] = [np.asarray(v, dtype=np.float32) for v in frame[col]]
    return frame


def write_attention_measures(run_dir: str | Path, measures: pd.DataFrame) -> Path:
    """Add (or replace) the attention measures of an existing run, atomically."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunError(run_dir, f"not an evaluation run ({MANIFEST} is missing)")
    return atomic_write_file(run_dir / ATTENTION_MEASURES, lambda p: measures.to_parquet(p, index=False))


def read_attention_measures(run: EvalRun) -> pd.DataFrame | None:
    """The run's attention measures (None when it has none); ``RunError`` naming the file when they do not
    fit the run (other samples, other classes, missing columns)."""
    path = run.path / ATTENTION_MEASURES
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise RunError(path, f"cannot be read as parquet ({type(err).__name__}: {err})") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise RunError(path, f"lacks the columns {', '.join(missing)}")
    frame = table.select([c for c in COLUMNS if c not in LIST_COLUMNS]).to_pandas()
    if not np.array_equal(frame["sample_id"].to_numpy(dtype=str), run.sample_ids):
        raise RunError(path, "lists other samples (or another order) than predictions.parquet: a stale file?")
    for col in LIST_COLUMNS:
        values = _rows(path, col, table.column(col), 0 if col == "motion" else run.num_classes)
        frame[col] = list(values)  # (S, n) -> one read-only row view per sample
    return frame


def _rows(path: Path, name: str, column: pa.ChunkedArray, width: int) -> np.ndarray:
    """A list column of equal-length rows -> (S, n) float32 (``width`` > 0: n must be it)."""
    lists = column.combine_chunks()
    lengths = np.diff(lists.offsets.to_numpy()) if len(lists) else np.zeros(0, np.int64)
    n = int(lengths[0]) if len(lengths) else max(width, 0)
    if (lengths != n).any() or (width and n != width):
        raise RunError(path, f"{name} must have {width or n} values in every row")
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    out = values.reshape(len(lists), n)
    out.flags.writeable = False
    return out
