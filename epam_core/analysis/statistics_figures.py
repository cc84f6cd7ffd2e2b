"""Plotly figures of the Statistics, Calibration and Slices pages (same palette as ``figures``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from epam_core.analysis.figures import SEQUENTIAL, STREAM_COLOURS, STREAM_LABELS, _layout
from epam_core.runs.format import STREAMS


def interval_bars(
    table: pd.DataFrame, metric: str = "top1", title: str = "Top-1 with 95 % intervals"
) -> go.Figure:
    """One bar per stream of ``table`` (``statistics.stream_intervals``) with its bootstrap interval."""
    fig = go.Figure()
    for _, row in table.iterrows():
        value = row[metric] * 100
        fig.add_bar(
            name=STREAM_LABELS.get(row["stream"], row["stream"]),
            x=[STREAM_LABELS.get(row["stream"], row["stream"])],
            y=[value],
            marker_color=STREAM_COLOURS.get(row["stream"]),
            error_y={"type": "data", "symmetric": False, "array": [row[f"{metric}_high"] * 100 - value],
                     "arrayminus": [value - row[f"{metric}_low"] * 100]},
            text=[f"{value:.1f}"],
            textposition="inside",
        )  # fmt: skip
    return _layout(fig, title, showlegend=False, yaxis={"title": "accuracy (%)", "range": [0, 105]})


def reliability_diagram(bins: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """Accuracy against mean confidence per bin (``calibration.reliability``) for each named curve, with the
    diagonal of perfect calibration; marker size grows with the bin's share of samples."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"color": "#999999", "dash": "dot"}
    )
    for (name, table), dash in zip(bins.items(), ("solid", "dash", "dot", "dashdot"), strict=False):
        filled = table[table["count"] > 0]
        share = filled["count"] / max(filled["count"].sum(), 1)
        stream = name.split(" ")[0]
        fig.add_scatter(
            x=filled["confidence"], y=filled["accuracy"], mode="lines+markers", name=name,
            line={"color": STREAM_COLOURS.get(stream, "#CC79A7"), "dash": dash},
            marker={"size": 5 + 25 * np.sqrt(share.to_numpy())},
            customdata=np.stack([filled["count"], filled["low"], filled["high"]], axis=1),
            hovertemplate="confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{customdata[0]} samples in "
            "(%{customdata[1]:.3f}, %{customdata[2]:.3f}]<extra></extra>",
        )  # fmt: skip
    return _layout(
        fig, title, xaxis={"title": "confidence (top-1 probability)", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1.02]},
    )  # fmt: skip


def confidence_histogram(hist: pd.DataFrame, title: str) -> go.Figure:
    """Stacked counts of right and wrong predictions per confidence bin (``calibration.confidence_histogram``)."""
    centres = (hist["low"] + hist["high"]) / 2
    width = float((hist["high"] - hist["low"]).iloc[0]) if len(hist) else 0.05
    fig = go.Figure()
    fig.add_bar(x=centres, y=hist["right"], width=width, name="right", marker_color=STREAM_COLOURS["fused"])
    fig.add_bar(x=centres, y=hist["wrong"], width=width, name="wrong", marker_color="#D55E00")
    return _layout(fig, title, barmode="stack", xaxis={"title": "confidence", "range": [0, 1]},
                   yaxis={"title": "samples"})  # fmt: skip


def slice_bars(table: pd.DataFrame, field: str) -> go.Figure:
    """Top-1 per value of ``field`` (``slices.slice_accuracy``), one bar group per value, with intervals."""
    fig = go.Figure()
    values = table["value"].astype(str).tolist()
    for stream in STREAMS:
        acc = table[stream].to_numpy() * 100
        fig.add_bar(
            name=STREAM_LABELS[stream], x=values, y=acc, marker_color=STREAM_COLOURS[stream],
            error_y={"type": "data", "symmetric": False, "array": table[f"{stream}_high"] * 100 - acc,
                     "arrayminus": acc - table[f"{stream}_low"] * 100},
            customdata=table["n"], hovertemplate="%{x}: %{y:.1f} % of %{customdata}<extra></extra>",
        )  # fmt: skip
    return _layout(
        fig, f"Top-1 by {field} (95 % intervals)", barmode="group",
        xaxis={"title": field, "type": "category"}, yaxis={"title": "accuracy (%)", "range": [0, 105]},
    )  # fmt: skip


def slice_class_heatmap(
    accuracy: np.ndarray,
    counts: np.ndarray,
    values: np.ndarray,
    class_names: list[str],
    field: str,
    stream: str,
) -> go.Figure:
    """(V, K) accuracy per (field value, class), classes on x; empty cells blank."""
    fig = go.Figure(
        go.Heatmap(
            z=accuracy * 100, x=class_names, y=[str(v) for v in values], customdata=counts,
            colorscale=SEQUENTIAL, zmin=0, zmax=100, colorbar={"title": "top-1 %"},
            hovertemplate=f"{field} %{{y}}<br>%{{x}}<br>%{{z:.1f}} % of %{{customdata}}<extra></extra>",
        )
    )  # fmt: skip
    return _layout(
        fig, f"{STREAM_LABELS.get(stream, stream)} top-1 by {field} and class",
        xaxis={"title": "class", "tickangle": -60}, yaxis={"title": field, "type": "category"},
        height=max(320, 60 + 22 * len(values)),
    )  # fmt: skip
