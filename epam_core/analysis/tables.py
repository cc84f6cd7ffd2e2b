"""Tables for papers: CSV and LaTeX (booktabs) from the analysis frames, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from epam_core.outputs import atomic_write_file

PERCENT_COLUMNS = (
    "top1",
    "top5",
    "mean_class",
    "rgb",
    "pose",
    "fused",
    "fusion_gain",
    "rate",
    "top1_calibrated",
)
SCORE_COLUMNS = ("ece", "nll", "temperature", "ece_calibrated", "nll_calibrated", "min_prob", "rgb_prob",
                 "pose_prob", "fused_prob")  # fmt: skip  # shown with three decimals
P_VALUE_COLUMNS = ("mcnemar_p", "p_vs_fused")  # shown with three significant digits, not one decimal
# the attention tables: shares of the attention / of the crop, and RGB accuracies with and without attention
ATTENTION_PERCENT = ("mass", "chance", "model", "uniform", "none", "gain_vs_uniform", "gain_vs_none")


def to_csv(table: pd.DataFrame) -> str:
    """CSV text (no index), full precision."""
    return table.to_csv(index=False)


def to_latex(table: pd.DataFrame, caption: str = "", label: str = "", percent: bool = True) -> str:
    """A booktabs ``table`` environment; accuracy columns as percentages with one decimal, p-values with three
    significant digits; ``96.1 ± 0.3`` cells (``interval_table``) as they are."""
    shown = table.copy()
    if percent:
        for col in PERCENT_COLUMNS:
            if col in shown and pd.api.types.is_numeric_dtype(shown[col]):  # not "96.1 ± 0.3" cells
                shown[col] = shown[col] * 100
        for col in shown.columns:
            if (
                col in ATTENTION_PERCENT or str(col).endswith(("_mass", "_chance"))
            ) and pd.api.types.is_numeric_dtype(shown[col]):
                shown[col] = shown[col] * 100
    for col in SCORE_COLUMNS:
        if col in shown and pd.api.types.is_numeric_dtype(shown[col]):
            shown[col] = ["--" if not np.isfinite(v) else f"{v:.3f}" for v in shown[col]]
    for col in P_VALUE_COLUMNS:
        if col in shown and pd.api.types.is_numeric_dtype(shown[col]):
            shown[col] = [p_cell(p) for p in shown[col]]
    for col in shown.columns:
        if str(col).endswith("ratio") and pd.api.types.is_numeric_dtype(shown[col]):  # attention / chance
            shown[col] = ["--" if not np.isfinite(v) else f"{v:.2f}" for v in shown[col]]
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]
    styler = shown.style.hide(axis="index").format(precision=1, na_rep="--")
    styler = styler.format_index(escape="latex", axis=1).format(escape="latex", precision=1, na_rep="--")
    return styler.to_latex(
        caption=caption or None,
        label=label or None,
        hrules=True,
        position_float="centering",
        environment="table",
    )


def save_table(table: pd.DataFrame, stem: str | Path, caption: str = "", label: str = "") -> list[Path]:
    """Write ``stem.csv`` and ``stem.tex`` atomically; return the paths."""
    stem = Path(stem)
    csv, tex = to_csv(table), to_latex(table, caption, label)
    return [
        atomic_write_file(stem.with_suffix(".csv"), lambda p: p.write_text(csv)),
        atomic_write_file(stem.with_suffix(".tex"), lambda p: p.write_text(tex)),
    ]


def pm_cell(value: float, low: float, high: float) -> str:
    """``96.1 ± 0.3``: a fraction and its interval as percentages, the ± being half the interval's width
    (percentile intervals need not be symmetric; the CSV of ``interval_table``'s source keeps both bounds)."""
    if not all(np.isfinite([value, low, high])):
        return "--"
    return f"{value * 100:.1f} ± {(high - low) / 2 * 100:.1f}"


def p_cell(p: float) -> str:
    """A p-value with three significant digits (``0.0412``, ``1.73e-18``); ``--`` for none."""
    return "--" if not np.isfinite(p) else f"{p:.3g}"


def interval_table(
    intervals: pd.DataFrame, metrics: tuple[str, ...] = ("top1", "top5", "mean_class")
) -> pd.DataFrame:
    """``statistics.stream_intervals`` (or ``slices.slice_accuracy``) with each metric as a ``96.1 ± 0.3`` cell;
    other columns (stream, value, n, ...) kept as they are."""
    keep = [c for c in intervals.columns if not any(c == m or c.startswith(f"{m}_") for m in metrics)]
    table = intervals[keep].copy()
    for metric in metrics:
        if metric in intervals:
            table[metric] = [
                pm_cell(v, lo, hi)
                for v, lo, hi in zip(
                    intervals[metric], intervals[f"{metric}_low"], intervals[f"{metric}_high"], strict=True
                )
            ]
    return table
