"""Matplotlib paper figures of the attention measures: the class x body-part heatmap and the attention-gain
bars (same style, sizes and export as ``paper_figures``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from epam_core.analysis.attention_figures import REGIONS, VARIANT_COLOURS
from epam_core.analysis.attention_measures import VARIANT_LABELS
from epam_core.analysis.figures import VALUES_MAX_CLASSES
from epam_core.analysis.paper_figures import FigureSize, _figure

HEATMAP_SIZE = FigureSize(3.5, 3.3)
WIDE_SIZE = FigureSize(7.0, 2.6)  # one bar pair per class: two columns wide
RATIO_TICKS = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0)


def class_part_heatmap(table: pd.DataFrame, size: FigureSize = HEATMAP_SIZE) -> Figure:
    """Classes (rows) x regions (columns): attention mass / chance, log2 colour centred on chance."""
    ratio = table[[f"{r}_ratio" for r in REGIONS]].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2(ratio)
    bound = max(float(np.nanmax(np.abs(log_ratio))) if np.isfinite(log_ratio).any() else 1.0, 0.1)
    n = len(table)
    fig = _figure(size)
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(log_ratio),
        cmap="PuOr",
        norm=TwoSlopeNorm(0.0, -bound, bound),
        aspect="auto",
        interpolation="nearest",
    )
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("mass / chance")
    ticks = [r for r in RATIO_TICKS if abs(np.log2(r)) <= bound + 1e-9]
    bar.set_ticks(np.log2(ticks), labels=[f"{r:g}×" for r in ticks])
    ax.set_xticks(np.arange(len(REGIONS)), REGIONS)
    ax.set_yticks(np.arange(n), table["class"], fontsize="x-small" if n <= 30 else max(2.0, 200.0 / n))
    ax.spines[:].set_visible(False)
    if n <= VALUES_MAX_CLASSES:
        for (i, j), v in np.ndenumerate(ratio):
            if np.isfinite(v):
                strong = abs(log_ratio[i, j]) > 0.6 * bound
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=max(3.0, 60.0 / max(n, 6)),
                        color="white" if strong else "black")  # fmt: skip
    return fig


def attention_gain_bars(gain: pd.DataFrame, size: FigureSize = WIDE_SIZE) -> Figure:
    """Per class: RGB top-1 with the model's attention minus that with uniform and with no attention."""
    fig = _figure(size)
    ax = fig.add_subplot()
    x = np.arange(len(gain))
    for k, (column, variant) in enumerate((("gain_vs_uniform", "uniform"), ("gain_vs_none", "none"))):
        ax.bar(x + (k - 0.5) * 0.4, gain[column] * 100, 0.4, color=VARIANT_COLOURS[variant],
               label=f"vs {VARIANT_LABELS[variant]}")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, gain["class"], rotation=90, fontsize="x-small" if len(gain) <= 40 else 4)
    ax.set_ylabel("Δ RGB top-1 (points)")
    ax.legend(frameon=False, ncols=2, loc="upper center", bbox_to_anchor=(0.5, 1.15))
    return fig
