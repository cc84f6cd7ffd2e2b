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

from epam_core.analysis.attention_measures import MEASURE_COLUMNS
from epam_core.errors import RunError
from epam_core.runs import MANIFEST, EvalRun, atomic_write_file, stack_logits

ATTENTION_MEASURES = "attention_measures.parquet"
LOGIT_COLUMNS = ("rgb_uniform_logits", "rgb_none_logits")
COLUMNS = ("sample_id", *MEASURE_COLUMNS, "motion", *LOGIT_COLUMNS)


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
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise RunError(path, f"cannot be read as parquet ({type(err).__name__}: {err})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RunError(path, f"lacks the columns {', '.join(missing)}")
    if not np.array_equal(frame["sample_id"].to_numpy(dtype=str), run.sample_ids):
        raise RunError(path, "lists other samples (or another order) than predictions.parquet: a stale file?")
    for col in LOGIT_COLUMNS:
        logits = stack_logits(frame[col])
        if len(frame) and logits.shape[1] != run.num_classes:
            raise RunError(path, f"{col} have {logits.shape[1]} classes, the run has {run.num_classes}")
    return frame
