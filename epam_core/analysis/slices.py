"""Slices of a run: sample metadata (from the datasets' own sample names or a user table) and the accuracy
of every stream per metadata value, with bootstrap intervals, per class and per sample.

Metadata parsed from sample ids (a field is present when at least one id matches; other samples have none):

* NTU RGB+D 60/120, ``SsssCcccPpppRrrrAaaa``: ``setup``, ``camera``, ``performer``, ``replication``;
* PKU-MMD, ``NNNN-V`` with V in L/M/R: ``view``;
* Toyota Smarthome, ``Action_pPP_rRR_vVV_cCC``: ``subject``, ``camera``.

Integer values are written as strings without leading zeros (``S002`` -> ``"2"``). A user table (CSV or
Parquet with a ``sample_id`` column) adds its other columns as fields, and wins over a parsed field of the
same name. `epam evaluate --metadata FILE` stores the table in the run as ``metadata.parquet``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from epam_core.analysis.statistics import CONFIDENCE, RESAMPLES, SEED, proportion_intervals
from epam_core.errors import DataError
from epam_core.outputs import atomic_write_file
from epam_core.runs.format import STREAMS, EvalRun

RUN_METADATA = "metadata.parquet"  # the user table stored in a run directory by `epam evaluate --metadata`
ID_PATTERNS = {  # dataset: regex with one named group per field (the prefix says the dataset)
    "ntu": r"S(?P<ntu_setup>\d{3})C(?P<ntu_camera>\d{3})P(?P<ntu_performer>\d{3})R(?P<ntu_replication>\d{3})A\d{3}",
    "pku_mmd": r"(?:^|[^0-9])\d{4}-(?P<pku_mmd_view>[LMR])(?![A-Za-z])",
    "toyota": r"_p(?P<toyota_subject>\d+)_r\d+_v\d+_c(?P<toyota_camera>\d+)",
}
ID_REGEX = re.compile("|".join(f"(?:{p})" for p in ID_PATTERNS.values()))  # one pass over the ids
TEXT_FIELDS = ("view",)  # every other parsed field is an integer
MAX_SLICE_VALUES = 200  # a field with more distinct values (an id column) is not offered as a slice


def parse_sample_ids(sample_ids: np.ndarray) -> pd.DataFrame:
    """(S, fields) of str/None metadata parsed from the ids, in their order (see the module docstring)."""
    ids = pd.Series(np.asarray(sample_ids, dtype=str))
    groups = ids.str.extract(ID_REGEX)  # (S, named groups), NaN where a pattern does not match
    fields: dict[str, pd.Series] = {}
    for group in groups.columns:
        values = groups[group].dropna()
        if values.empty:
            continue
        name = group.split("_", 2)[-1] if group.startswith("pku_mmd_") else group.split("_", 1)[1]
        if name not in TEXT_FIELDS:
            values = values.astype(np.int64).astype(str)  # "002" -> "2"
        column = values.reindex(ids.index)
        fields[name] = fields[name].combine_first(column) if name in fields else column
    return _with_none(pd.DataFrame(fields, index=ids.index))


def _with_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as object columns with None (not NaN) for missing values."""
    out = {}
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        out[column] = values
    return pd.DataFrame(out, index=frame.index, columns=frame.columns, dtype=object)


def _as_strings(column: pd.Series) -> pd.Series:
    """A user column as str values (integral numbers without ``.0``), None where missing."""
    missing = column.isna()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column[~missing]
        if len(values) and np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0):
            column = column.astype("Int64")
    out = np.asarray(column.astype(str), dtype=object)
    out[missing.to_numpy()] = None
    return pd.Series(out, index=column.index, dtype=object)


def metadata_table(frame: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """Validate a user metadata table: a ``sample_id`` column, unique ids, other columns as str fields.
    Returns it indexed by sample_id; ``source`` names the file in errors."""
    if "sample_id" not in frame.columns:
        raise DataError(source, f"has no sample_id column (columns: {', '.join(map(str, frame.columns))})")
    ids = frame["sample_id"].astype(str)
    if ids.duplicated().any():
        raise DataError(source, f"lists sample {ids[ids.duplicated()].iloc[0]!r} more than once")
    fields = [c for c in frame.columns if c != "sample_id"]
    if not fields:
        raise DataError(source, "has only a sample_id column; add columns to slice by")
    table = pd.DataFrame({str(c): _as_strings(frame[c]) for c in fields})
    table.index = pd.Index(ids, name="sample_id")
    return table


def read_metadata(path: str | Path) -> pd.DataFrame:
    """A user metadata file (``.csv`` or ``.parquet``), validated (see ``metadata_table``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "metadata file not found")
    return metadata_from_bytes(path.name, path.read_bytes(), source=path)


def metadata_from_bytes(name: str, data: bytes, source: str | Path | None = None) -> pd.DataFrame:
    """A metadata table from the bytes of a CSV or Parquet file called ``name`` (an upload, a read file)."""
    source = source or name
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        elif suffix in (".csv", ".txt"):
            frame = pd.read_csv(io.BytesIO(data), dtype={"sample_id": str})
        else:
            raise DataError(source, "is neither .csv nor .parquet; write the metadata table as one of them")
    except DataError:
        raise
    except Exception as err:  # pandas/pyarrow raise many types for a damaged file
        raise DataError(source, f"cannot be read ({type(err).__name__}: {err})") from None
    return metadata_table(frame, source)


def save_run_metadata(run_dir: str | Path, table: pd.DataFrame) -> Path:
    """Store a validated user table in a run directory (atomically) so later reports slice by it."""
    stored = table.reset_index()
    return atomic_write_file(Path(run_dir) / RUN_METADATA, lambda p: stored.to_parquet(p, index=False))


def run_metadata(
    run: EvalRun, user: pd.DataFrame | None = None, source: str | Path = "metadata"
) -> pd.DataFrame:
    """(S, fields) metadata of every sample of ``run`` in its order: parsed from the ids, then the table the run
    stores, then ``user`` (later ones win a field of the same name). Raises ``DataError`` when ``user`` matches
    none of the run's samples."""
    ids = run.sample_ids
    meta = parse_sample_ids(ids)
    tables = []
    stored = run.path / RUN_METADATA
    if stored.is_file():
        tables.append((read_metadata(stored), stored))
    if user is not None:
        tables.append((user, source))
    for table, where in tables:
        aligned = table.reindex(pd.Index(ids))  # (S, fields), NaN for ids the table lacks
        matched = int(table.index.isin(ids).sum())
        if matched == 0:
            raise DataError(where, f"none of its {len(table)} sample ids is in the run {run.path}")
        for column in aligned.columns:
            meta[column] = aligned[column].to_numpy(dtype=object)
    return _with_none(meta)


def slice_fields(meta: pd.DataFrame) -> list[str]:
    """The metadata fields worth slicing by: at least one value, at most ``MAX_SLICE_VALUES`` distinct ones."""
    return [c for c in meta.columns if 0 < meta[c].nunique(dropna=True) <= MAX_SLICE_VALUES]


def _natural_order(values: np.ndarray) -> np.ndarray:
    """Distinct values sorted numerically when they are all integers, else as text."""
    if all(re.fullmatch(r"-?\d+", v) for v in values):
        return values[np.argsort([int(v) for v in values], kind="stable")]
    return np.sort(values)


def slice_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes (S,) int, -1 where missing; distinct values in natural order) of one metadata field."""
    values = pd.Series(values, dtype=object)
    present = values.notna()
    uniques = (
        _natural_order(np.asarray(values[present].unique(), dtype=str))
        if present.any()
        else np.array([], str)
    )
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[present.to_numpy()] = pd.Index(uniques).get_indexer(values[present].astype(str))
    return codes, uniques


def correct_by_stream(run: EvalRun) -> dict[str, np.ndarray]:
    """(S,) bool per stream: top-1 equals the label (False for unlabelled samples)."""
    labels = run.labels
    return {s: (run.logits(s).argmax(axis=1) == labels) & (labels >= 0) for s in STREAMS}


def slice_accuracy(
    values: pd.Series | np.ndarray,
    labels: np.ndarray,
    correct: dict[str, np.ndarray],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per value of a field: value, n (labelled samples), and per stream its top-1 with ``_low`` /
    ``_high`` bootstrap bounds (each slice resampled on its own)."""
    codes, uniques = slice_codes(values)
    keep = (codes >= 0) & (np.asarray(labels) >= 0)
    n = np.bincount(codes[keep], minlength=len(uniques))
    table = pd.DataFrame({"value": uniques, "n": n})
    for stream, right in correct.items():
        hits = np.bincount(codes[keep], weights=right[keep], minlength=len(uniques)).astype(np.int64)
        low, high = proportion_intervals(hits, n, resamples, seed, confidence)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[stream] = np.where(n > 0, hits / np.maximum(n, 1), np.nan)
        table[f"{stream}_low"], table[f"{stream}_high"] = low, high
    return table


def slice_class_accuracy(
    values: pd.Series | np.ndarray, labels: np.ndarray, correct: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accuracy (V, K) NaN where empty, counts (V, K), values (V,)) of one stream per (field value, class)."""
    codes, uniques = slice_codes(values)
    labels = np.asarray(labels, dtype=np.int64)
    keep = (codes >= 0) & (labels >= 0)
    cell = codes[keep] * num_classes + labels[keep]
    size = len(uniques) * num_classes
    counts = np.bincount(cell, minlength=size).reshape(len(uniques), num_classes)
    hits = np.bincount(cell, weights=np.asarray(correct)[keep], minlength=size).reshape(counts.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return accuracy, counts, uniques


def slice_samples(
    sample_ids: np.ndarray,
    values: pd.Series | np.ndarray,
    value: str,
    labels: np.ndarray,
    preds: dict[str, np.ndarray],
    class_id: int | None = None,
) -> pd.DataFrame:
    """The samples of one field value (and one true class): sample_id, label, and each stream's prediction."""
    member = np.asarray(values, dtype=object) == str(value)  # (S,) bool; None never equals a value
    if class_id is not None:
        member &= np.asarray(labels) == class_id
    idx = np.flatnonzero(member)
    table = pd.DataFrame(
        {"sample_id": np.asarray(sample_ids, dtype=str)[idx], "label": np.asarray(labels)[idx]}
    )
    for stream, pred in preds.items():
        table[f"{stream}_pred"] = np.asarray(pred)[idx]
    return table
