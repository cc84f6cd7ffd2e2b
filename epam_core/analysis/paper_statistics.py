"""Matplotlib paper figures of the statistics: reliability diagrams, confidence histograms and per-slice
accuracy with intervals (same styles, palette and export as ``paper_figures``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from epam_core.analysis.figures import STREAM_COLOURS, STREAM_LABELS
from epam_core.analysis.paper_figures import FigureSize, _figure
from epam_core.runs.format import STREAMS

DEFAULT_SIZE = FigureSize()


def reliability(bins: dict[str, pd.DataFrame], size: FigureSize = DEFAULT_SIZE) -> Figure:
    """Accuracy against mean confidence per bin (``calibration.reliability``), one curve per stream."""
    fig = _figure(size)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ":", color="#999999", lw=0.8, label="perfect")
    for stream, table in bins.items():
        filled = table[table["count"] > 0]
        ax.plot(filled["confidence"], filled["accuracy"], "-o", ms=2.5, color=STREAM_COLOURS.get(stream),
                label=STREAM_LABELS.get(stream, stream))  # fmt: skip
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, loc="upper left")
    return fig


def confidence_histogram(hist: pd.DataFrame, title: str, size: FigureSize = DEFAULT_SIZE) -> Figure:
    """Stacked counts of right and wrong predictions per confidence bin (``calibration.confidence_histogram``)."""
    fig = _figure(size)
    ax = fig.add_subplot()
    width = hist["high"] - hist["low"]
    ax.bar(hist["low"], hist["right"], width, align="edge", color=STREAM_COLOURS["fused"], label="right")
    ax.bar(
        hist["low"], hist["wrong"], width, bottom=hist["right"], align="edge", color="#D55E00", label="wrong"
    )
    ax.set_xlabel("confidence")
    ax.set_ylabel("samples")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left")
    return fig


def slice_accuracy(table: pd.DataFrame, field: str, size: FigureSize = DEFAULT_SIZE) -> Figure:
    """Grouped bars of each stream's top-1 per value of ``field`` (``slices.slice_accuracy``), with intervals."""
    fig = _figure(size)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    width = 0.8 / 3
    for i, stream in enumerate(STREAMS):
        acc = table[stream].to_numpy() * 100
        err = np.stack([acc - table[f"{stream}_low"] * 100, table[f"{stream}_high"] * 100 - acc])
        ax.bar(x + (i - 1) * width, acc, width, yerr=err, color=STREAM_COLOURS[stream], label=STREAM_LABELS[stream],
               error_kw={"elinewidth": 0.6, "capsize": 1.0})  # fmt: skip
    ax.set_xticks(x, table["value"].astype(str), rotation=90 if len(table) > 12 else 0)
    ax.set_xlabel(field)
    ax.set_ylabel("top-1 (%)")
    ax.set_ylim(0, 110)
    ax.legend(frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    return fig
