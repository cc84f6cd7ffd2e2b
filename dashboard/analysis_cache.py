"""Cached analysis of a run for the Overview, Confusion, Statistics, Calibration and Slices pages.

Every function is keyed by ``loaders.run_key`` (the run's path and the latest change of its files: a
re-written run is recomputed); the run itself and an uploaded metadata table are passed unhashed (``_``
prefix), the table by the hash of its bytes. The results are small tables and arrays, so reruns cost a copy,
not a recomputation; the computing is done by the pure functions of ``epam_core.analysis``.
"""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import session_keys as keys
from dashboard.loaders import RunKey, read_cached_run, run_key
from epam_core.analysis import calibration, label_errors, slices, statistics
from epam_core.analysis.run_report import ReportInputs, compare_section, paired_section
from epam_core.runs.format import STREAMS, EvalRun

log = logging.getLogger("epam.dashboard.analysis")


def _key(run: EvalRun) -> tuple[str, float]:
    """(resolved path, modification time): the fields of ``loaders.run_key``."""
    return tuple(run_key(run))


@st.cache_data(max_entries=8, show_spinner="Computing accuracies…")
def _run_summary(key: RunKey) -> tuple[pd.DataFrame, pd.DataFrame]:
    from epam_core.analysis import metrics

    tic = time.perf_counter()
    run = read_cached_run(*key)
    out = metrics.stream_summary(run), metrics.per_class_table(run)
    log.info("accuracies of %s computed in %.2f s", key.path, time.perf_counter() - tic)
    return out


@st.cache_data(max_entries=8, show_spinner="Sweeping the fusion weight…")
def _fusion_sweep(key: RunKey) -> pd.DataFrame:
    from epam_core.analysis import fusion

    run = read_cached_run(*key)
    return fusion.weight_sweep(run.logits("rgb"), run.logits("pose"), run.labels)


def run_summary(run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-stream summary, per-class table) of a run, computed once per run (what a compared run needs)."""
    return _run_summary(run_key(run))


def run_analysis(run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-stream summary, fusion-weight sweep, per-class table) of a run, computed once per run."""
    summary, per_class = run_summary(run)
    return summary, _fusion_sweep(run_key(run)), per_class


@st.cache_data(max_entries=32, show_spinner=False)
def _confusion(key: RunKey, stream: str) -> np.ndarray:
    from epam_core.analysis import metrics

    return metrics.stream_confusion(read_cached_run(*key), stream)


def confusion_counts(run: EvalRun, stream: str) -> np.ndarray:
    """(K, K) confusion counts of one stream, computed once per run and stream."""
    return _confusion(run_key(run), stream)


@st.cache_data(max_entries=64, show_spinner=False)
def _class_order(key: RunKey, stream: str, method: str) -> np.ndarray:
    from epam_core.analysis import confusion

    run = read_cached_run(*key)
    return confusion.order_classes(_confusion(key, stream), method, run.class_names)


def class_order(run: EvalRun, stream: str, method: str) -> np.ndarray:
    """The class permutation of ``confusion.order_classes`` for one stream's matrix, once per run."""
    return _class_order(run_key(run), stream, method)


def _logits(run: EvalRun) -> dict[str, np.ndarray]:
    return {s: run.logits(s) for s in STREAMS}


def uploaded_metadata() -> tuple[str, pd.DataFrame | None]:
    """(hash key, table) of the metadata table uploaded in this session ("" and None without one)."""
    upload = st.session_state.get(keys.SLICE_METADATA)
    return (upload["key"], upload["table"]) if upload else ("", None)


def store_upload(name: str, data: bytes) -> None:
    """Parse an uploaded CSV/Parquet metadata file and keep it for this session; raises ``DataError``."""
    table = slices.metadata_from_bytes(name, data)
    st.session_state[keys.SLICE_METADATA] = {
        "name": name,
        "key": hashlib.sha1(data).hexdigest(),
        "table": table,
    }


@st.cache_data(max_entries=8, show_spinner=False)
def _predictions(path: str, mtime: float, _run: EvalRun) -> dict[str, np.ndarray]:
    return {s: z.argmax(axis=1) for s, z in _logits(_run).items()}


def predictions(run: EvalRun) -> dict[str, np.ndarray]:
    """(S,) top-1 class of each stream."""
    return _predictions(*_key(run), run)


@st.cache_data(max_entries=8, show_spinner="Bootstrapping intervals…")
def _intervals(path: str, mtime: float, _run: EvalRun) -> pd.DataFrame:
    return statistics.stream_intervals(_logits(_run), _run.labels, _run.num_classes)


def intervals(run: EvalRun) -> pd.DataFrame:
    """``statistics.stream_intervals`` of the run (top1 / top5 / mean_class with _low / _high per stream)."""
    return _intervals(*_key(run), run)


@st.cache_data(max_entries=8, show_spinner=False)
def _paired(path: str, mtime: float, _run: EvalRun) -> dict:
    return paired_section(ReportInputs(_run)) or {}


def paired(run: EvalRun) -> dict:
    """The report's ``paired`` section: exact McNemar tests between the streams."""
    return _paired(*_key(run), run)


@st.cache_data(max_entries=8, show_spinner="Matching the two runs…")
def _compare(
    path: str, mtime: float, other_path: str, other_mtime: float, _run: EvalRun, _other: EvalRun
) -> dict:
    return compare_section(ReportInputs(_run, compare=_other)) or {}


def compare(run: EvalRun, other: EvalRun) -> dict:
    """The report's ``compare`` section: run vs run on the samples both hold."""
    return _compare(*_key(run), *_key(other), run, other)


@st.cache_data(max_entries=8, show_spinner="Fitting temperatures…")
def _calibration(path: str, mtime: float, _run: EvalRun) -> calibration.RunCalibration:
    return calibration.calibrate_run(_logits(_run), _run.labels, tuple(_run.manifest["fusion_weights"]))


@st.cache_data(max_entries=32, show_spinner=False)
def _calibration_view(path: str, mtime: float, stream: str, _run: EvalRun) -> dict[str, object]:
    calib = _calibration(path, mtime, _run)
    raw, scaled = calib.raw[stream], calib.calibrated[stream]
    return {
        "table": calibration.calibration_table(calib),
        "temperature": float(calib.temperatures[stream].mean()),
        "reliability": calibration.reliability(raw.confidence, raw.correct),
        "reliability_scaled": calibration.reliability(scaled.confidence, scaled.correct),
        "histogram": calibration.confidence_histogram(raw.confidence, raw.correct),
        "histogram_scaled": calibration.confidence_histogram(scaled.confidence, scaled.correct),
    }


def calibration_view(run: EvalRun, stream: str) -> dict[str, object]:
    """What the Calibration page draws for one stream: the table of every stream, the stream's mean
    temperature, reliability bins and confidence histograms before and after scaling (small tables only)."""
    return _calibration_view(*_key(run), stream, run)


@st.cache_data(max_entries=8, show_spinner="Finding telling samples…")
def _telling(path: str, mtime: float, _run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    logits = _logits(_run)
    return (
        label_errors.likely_label_errors(_run.sample_ids, _run.labels, logits),
        label_errors.fusion_outcomes(_run.sample_ids, _run.labels, logits),
    )


def telling_samples(run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(likely label errors, fusion rescues and breaks) of the run."""
    return _telling(*_key(run), run)


@st.cache_data(max_entries=8, show_spinner="Reading sample metadata…")
def _metadata_codes(
    path: str, mtime: float, upload_key: str, _run: EvalRun, _upload: pd.DataFrame | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    meta = slices.run_metadata(_run, _upload, "the uploaded table")
    return {field: slices.slice_codes(meta[field]) for field in slices.slice_fields(meta)}


def metadata_codes(run: EvalRun) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per slice field: (codes (S,), -1 where missing; values) from the ids, the run's table and an upload;
    raises ``DataError`` when the upload matches no sample."""
    upload_key, upload = uploaded_metadata()
    return _metadata_codes(*_key(run), upload_key, run, upload)


def field_values(run: EvalRun, field: str) -> np.ndarray:
    """(S,) object: the field's value per sample, None where missing."""
    codes, values = metadata_codes(run)[field]
    out = np.full(codes.shape, None, dtype=object)
    out[codes >= 0] = values[codes[codes >= 0]]
    return out


@st.cache_data(max_entries=32, show_spinner="Computing slice accuracies…")
def _slice_tables(
    path: str, mtime: float, upload_key: str, field: str, stream: str, _run: EvalRun, _values: np.ndarray
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    correct = slices.correct_by_stream(_run)
    table = slices.slice_accuracy(_values, _run.labels, correct)
    return table, slices.slice_class_accuracy(_values, _run.labels, correct[stream], _run.num_classes)


def slice_tables(
    run: EvalRun, field: str, stream: str
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(``slices.slice_accuracy`` of the field, ``slices.slice_class_accuracy`` of one stream)."""
    upload_key, _ = uploaded_metadata()
    return _slice_tables(*_key(run), upload_key, field, stream, run, field_values(run, field))
