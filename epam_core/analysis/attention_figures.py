"""Plotly figures of the attention measures (the Attention, Sample and Robustness pages).

Ratios to chance are drawn on a log2 scale centred on 1 (purple-orange: below / above chance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from epam_core.analysis.attention_measures import PARTS, VARIANT_LABELS, VARIANTS
from epam_core.analysis.figures import DIVERGING, FONT, STREAM_COLOURS, probability_panels

REGIONS = ("body", *PARTS)
VARIANT_COLOURS = {"model": STREAM_COLOURS["rgb"], "uniform": "#56B4E9", "none": "#999999"}  # Okabe-Ito


def _layout(fig: go.Figure, title: str, **kw: object) -> go.Figure:
    fig.update_layout(title={"text": title}, font=FONT, template="plotly_white", **kw)
    return fig


def part_ratio_bars(parts: pd.DataFrame, title: str = "Attention mass vs chance, per body part") -> go.Figure:
    """Grouped bars: attention mass and chance (area share) per region (``attention_measures.part_table``);
    the ratio under each region's name."""
    regions = [
        f"{p}<br>{r:.2f}× chance" if np.isfinite(r) else p
        for p, r in zip(parts["part"], parts["ratio"], strict=True)
    ]
    fig = go.Figure()
    for column, name, colour in (
        ("mass", "attention", STREAM_COLOURS["rgb"]),
        ("chance", "chance (area)", "#999999"),
    ):
        fig.add_bar(
            name=name,
            x=regions,
            y=parts[column] * 100,
            marker_color=colour,
            text=[f"{v * 100:.1f}" for v in parts[column]],
            textposition="outside",
        )
    return _layout(fig, title, barmode="group", yaxis={"title": "share of the attention / of the crop (%)"})


def class_part_heatmap(
    table: pd.DataFrame, title: str = "Attention / chance per class and body part"
) -> go.Figure:
    """Classes (rows) x regions (columns): mass / chance, colour on log2 (``class_part_table`` rows)."""
    ratio = table[[f"{r}_ratio" for r in REGIONS]].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2(ratio)
    bound = float(np.nanmax(np.abs(log_ratio))) if np.isfinite(log_ratio).any() else 1.0
    text = [[f"{v:.2f}" if np.isfinite(v) else "" for v in row] for row in ratio]
    fig = go.Figure(
        go.Heatmap(
            z=log_ratio,
            x=list(REGIONS),
            y=list(table["class"]),
            text=text,
            texttemplate="%{text}",
            colorscale=DIVERGING,
            zmid=0,
            zmin=-max(bound, 0.1),
            zmax=max(bound, 0.1),
            colorbar={"title": "log2(mass / chance)"},
            hovertemplate="%{y} · %{x}: %{text}× chance<extra></extra>",
        )
    )
    return _layout(fig, title, height=max(320, 22 * len(table) + 120), yaxis={"autorange": "reversed"})


def attention_gain_bars(
    gain: pd.DataFrame, title: str = "RGB accuracy the attention buys, per class"
) -> go.Figure:
    """Per class: RGB top-1 of the model minus that with uniform / with no attention (``attention_gain_table``)."""
    fig = go.Figure()
    for column, variant in (("gain_vs_uniform", "uniform"), ("gain_vs_none", "none")):
        fig.add_bar(
            name=f"vs {VARIANT_LABELS[variant]}",
            x=gain["class"],
            y=gain[column] * 100,
            marker_color=VARIANT_COLOURS[variant],
        )
    return _layout(
        fig,
        title,
        barmode="group",
        yaxis={"title": "Δ top-1 (points)", "zeroline": True},
        legend={"orientation": "h", "y": -0.35},
    )


def rgb_variant_bars(
    probs: pd.DataFrame, title: str = "RGB scores with and without the attention"
) -> go.Figure:
    """Three panels side by side (the model's attention, uniform, none), each with horizontal bars of the
    same classes (rows of ``probs``: column ``class`` and one probability column per variant)."""
    panels = [(VARIANT_LABELS[v], probs["class"], probs[v], VARIANT_COLOURS[v]) for v in VARIANTS]
    return probability_panels(panels, title, names=True)


def temporal_vs_motion(
    temporal: np.ndarray, motion: np.ndarray, title: str = "Temporal attention and motion"
) -> go.Figure:
    """The temporal attention (left axis) and the mean joint speed (right axis) per RGB frame."""
    frames = np.arange(len(temporal))
    fig = go.Figure()
    fig.add_scatter(
        x=frames,
        y=temporal,
        name="temporal attention",
        mode="lines+markers",
        line={"color": STREAM_COLOURS["rgb"]},
    )
    fig.add_scatter(
        x=frames,
        y=motion,
        name="joint speed",
        mode="lines+markers",
        yaxis="y2",
        line={"color": STREAM_COLOURS["pose"], "dash": "dot"},
    )
    return _layout(
        fig,
        title,
        height=300,
        xaxis={"title": "RGB frame", "dtick": 1},
        yaxis={"title": "attention", "range": [0, 1]},
        yaxis2={"title": "cells / pose frame", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.35},
    )
