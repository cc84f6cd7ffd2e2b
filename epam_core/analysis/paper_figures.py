"""Matplotlib figures for papers: vector PDF/SVG and PNG without a browser (the primary export backend).

Figures are built on ``matplotlib.figure.Figure`` (no pyplot, so no global state and thread-safe inside the
dashboard). Two styles: ``paper`` (Times-metric serif, 8 pt, TrueType fonts embedded) and ``screen``
(sans-serif, 11 pt). Colours are colour-blind safe (Okabe-Ito, viridis, purple-orange).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from epam_core.analysis.figure_size import FigureSize
from epam_core.analysis.figures import STREAM_COLOURS, STREAM_LABELS, VALUES_MAX_CLASSES
from epam_core.outputs import atomic_write_file

FORMATS = ("pdf", "svg", "png")
STYLES = {
    "paper": {
        "font.family": "serif",
        "font.serif": ["Liberation Serif", "Times New Roman", "DejaVu Serif"],
        "mathtext.fontset": "stix",
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.labelsize": 8,
        "legend.fontsize": 7,
        "xtick.labelsize": 7,
        "ytick.labelsize": 7,
        "axes.linewidth": 0.6,
        "lines.linewidth": 1.2,
    },
    "screen": {
        "font.family": "sans-serif",
        "font.sans-serif": ["Liberation Sans", "DejaVu Sans"],
        "font.size": 11,
        "axes.titlesize": 12,
    },
}
BASE_RC = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextmanager
def style(name: str = "paper") -> Iterator[None]:
    """Temporarily apply a figure style (fonts, sizes, embedded TrueType fonts)."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; choose one of {sorted(STYLES)}")
    with matplotlib.rc_context({**BASE_RC, **STYLES[name]}):
        yield


def _figure(size: FigureSize) -> Figure:
    return Figure(figsize=(size.width, size.height), dpi=size.dpi, layout="constrained")


def accuracy_bars(summary: pd.DataFrame, size: FigureSize = FigureSize()) -> Figure:
    """Grouped bars of top-1 / top-5 / mean-class accuracy per stream."""
    fig = _figure(size)
    ax = fig.add_subplot()
    metrics = {"top1": "top-1", "top5": "top-5", "mean_class": "mean class"}
    x = np.arange(len(metrics))
    width = 0.8 / max(len(summary), 1)
    for i, (_, row) in enumerate(summary.iterrows()):
        values = [row[m] * 100 for m in metrics]
        bars = ax.bar(
            x + (i - (len(summary) - 1) / 2) * width,
            values,
            width,
            color=STREAM_COLOURS.get(row["stream"]),
            label=STREAM_LABELS.get(row["stream"], row["stream"]),
        )
        ax.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=1)
    ax.set_xticks(x, list(metrics.values()))
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 110)
    ax.legend(frameon=False, ncols=len(summary), loc="upper center", bbox_to_anchor=(0.5, 1.12))
    return fig


def fusion_sweep(sweep: pd.DataFrame, best_alpha: float, size: FigureSize = FigureSize()) -> Figure:
    """Fused top-1 and mean-class accuracy vs the RGB weight alpha, best alpha marked."""
    fig = _figure(size)
    ax = fig.add_subplot()
    ax.plot(sweep["alpha"], sweep["top1"] * 100, "-o", ms=2.5, color=STREAM_COLOURS["fused"], label="top-1")
    ax.plot(sweep["alpha"], sweep["mean_class"] * 100, ":", color=STREAM_COLOURS["fused"], label="mean class")
    if np.isfinite(best_alpha):
        ax.axvline(best_alpha, color="#CC79A7", ls="--", lw=0.8, label=f"best α = {best_alpha:.2f}")
    ax.set_xlabel(r"$\alpha$ (fused = $\alpha\,$RGB + $(1-\alpha)\,$pose)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0, 1)
    ax.legend(frameon=False)
    return fig


def per_class(table: pd.DataFrame, size: FigureSize = FigureSize(7.0, 2.6)) -> Figure:
    """Per-class accuracy of the three streams, classes in the table's order."""
    fig = _figure(size)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    for stream, marker in (("rgb", "s"), ("pose", "^"), ("fused", "o")):
        ax.plot(
            x, table[stream] * 100, marker, ms=3, color=STREAM_COLOURS[stream], label=STREAM_LABELS[stream]
        )
    ax.set_xticks(x, table["class"], rotation=90, fontsize="x-small" if len(table) <= 40 else 4)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.legend(frameon=False, ncols=3, loc="lower left")
    return fig


def confusion(
    matrix: np.ndarray,
    class_names: list[str],
    class_ids: np.ndarray | None = None,
    title: str = "",
    diverging: bool = False,
    size: FigureSize = FigureSize(3.5, 3.3),
) -> Figure:
    """A confusion matrix (rows true, columns predicted); values printed up to 30 classes."""
    ids = np.arange(len(class_names)) if class_ids is None else np.asarray(class_ids)
    sub = np.asarray(matrix, dtype=np.float64)[np.ix_(ids, ids)]
    names = [class_names[i] for i in ids]
    n = len(ids)
    fig = _figure(size)
    ax = fig.add_subplot()
    bound = float(np.abs(sub).max()) or 1.0
    image = ax.imshow(
        sub,
        cmap="PuOr" if diverging else "viridis",
        vmin=-bound if diverging else 0,
        vmax=bound,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    tick_size = "x-small" if n <= 30 else max(2.0, 200.0 / n)
    ax.set_xticks(np.arange(n), names, rotation=90, fontsize=tick_size)
    ax.set_yticks(np.arange(n), names, fontsize=tick_size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.spines[:].set_visible(False)
    if title:
        ax.set_title(title)
    if n <= VALUES_MAX_CLASSES:
        integer = np.allclose(sub, np.round(sub))
        for (i, j), v in np.ndenumerate(sub):
            if v != 0:
                ax.text(
                    j,
                    i,
                    f"{v:.0f}" if integer else f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=max(3.0, 60.0 / n),
                    color="white" if abs(v) < 0.6 * bound else "black",
                )
    return fig


def robustness(curves: pd.DataFrame, noise: str, unit: str, size: FigureSize = FigureSize()) -> Figure:
    """Top-1 accuracy vs noise level for the three streams (columns level, stream, top1[, top1_std])."""
    fig = _figure(size)
    ax = fig.add_subplot()
    for stream, marker in (("rgb", "s"), ("pose", "^"), ("fused", "o")):
        part = curves[curves["stream"] == stream].sort_values("level")
        if part.empty:
            continue
        ax.errorbar(
            part["level"],
            part["top1"] * 100,
            yerr=part["top1_std"] * 100 if "top1_std" in part else None,
            fmt="-" + marker,
            ms=3,
            capsize=2,
            color=STREAM_COLOURS[stream],
            label=STREAM_LABELS[stream],
        )
    ax.set_xlabel(f"{noise} ({unit})")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 103)
    ax.legend(frameon=False)
    return fig


def attention_strip(
    frames: np.ndarray, temporal: np.ndarray, title: str = "", size: FigureSize = FigureSize(7.0, 1.6)
) -> Figure:
    """Frames (T, S, S, 3) uint8 (e.g. with attention and skeleton drawn) in a row, the temporal attention as
    a bar under each, and the colour bar of the overlay."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from epam_core.analysis.overlay import CMAP, colourise

    t = len(frames)
    fig = _figure(size)
    grid = fig.add_gridspec(2, t + 1, height_ratios=(3, 1), width_ratios=(*([1] * t), 0.08))
    colours = colourise(np.asarray(temporal, dtype=np.float32)) / 255
    for i in range(t):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frames[i])
        ax.set_axis_off()
        bar = fig.add_subplot(grid[1, i])
        bar.bar([0], [float(temporal[i])], color=colours[i], width=0.6)
        bar.set_ylim(0, 1)
        bar.set_xlim(-0.5, 0.5)
        bar.set_xticks([], [])
        bar.set_yticks([0, 1] if i == 0 else [], [0, 1] if i == 0 else [])
        bar.set_xlabel(str(i), fontsize="x-small")
    fig.colorbar(ScalarMappable(Normalize(0, 1), CMAP), cax=fig.add_subplot(grid[:, t]), label="attention")
    if title:
        fig.suptitle(title)
    return fig


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as pdf, svg or png."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Figure, stem: str | Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``stem.pdf``, ``stem.svg``, ``stem.png`` atomically; return the paths."""
    stem = Path(stem)
    paths = []
    for fmt in formats:
        data = figure_bytes(fig, fmt)
        paths.append(atomic_write_file(stem.with_suffix(f".{fmt}"), lambda p, d=data: p.write_bytes(d)))
    return paths


def embedding_map(
    xy: np.ndarray,
    codes: np.ndarray,
    groups: list[str],
    title: str = "",
    size: FigureSize = FigureSize(3.5, 3.5),
) -> Figure:
    """A 2-D embedding map, one colour per group (legend up to 24 groups); the points are rasterised so a
    50k-point PDF stays small while axes and text stay vector."""
    from epam_core.analysis.figures import group_colours

    fig = _figure(size)
    ax = fig.add_subplot()
    marker = 4 if len(xy) <= 2_000 else 1
    for g, (name, colour) in enumerate(zip(groups, group_colours(groups), strict=True)):
        rows = codes == g
        if rows.any():
            ax.scatter(
                xy[rows, 0], xy[rows, 1], s=marker, c=colour, label=name, linewidths=0, rasterized=True
            )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    if len(groups) <= 24:
        ax.legend(frameon=False, markerscale=3 if marker == 1 else 1.5, fontsize="x-small", loc="center left",
                  bbox_to_anchor=(1.0, 0.5))  # fmt: skip
    if title:
        ax.set_title(title)
    return fig
