"""Plotly figure builders for the dashboard: the same figure objects are shown on screen and exported.

Colours are colour-blind safe (Okabe-Ito for the streams, viridis / a diverging purple-orange for matrices).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from epam_core.runs.format import STREAMS

STREAM_COLOURS = {"rgb": "#E69F00", "pose": "#0072B2", "fused": "#009E73"}  # Okabe-Ito
STREAM_LABELS = {"rgb": "RGB", "pose": "Pose", "fused": "Fused"}
SEQUENTIAL = "Viridis"
DIVERGING = "PuOr"
VALUES_MAX_CLASSES = 30  # above this many classes, cell numbers are hidden
TICK_LABELS_MAX = 150  # 2 x 400 rotated tick labels take seconds to draw; past 150 every k-th class is named
HOVER_NAMES_MAX_CLASSES = (
    150  # above, a cell's hover names class ids (400^2 name pairs would be ~6 MB of JSON)
)
FONT = {"family": "Liberation Sans, Arial, Helvetica, sans-serif", "size": 13}
NAME_CHAR_EM = 0.6  # a generous mean character width of FONT, in font sizes (to size the margins for names)
NAME_MAX_PX = 260  # class names on the confusion matrix's axes are cut to this width


def _layout(fig: go.Figure, title: str, **kw: object) -> go.Figure:
    fig.update_layout(title={"text": title}, font=FONT, template="plotly_white", **kw)
    return fig


def accuracy_bars(summary: pd.DataFrame, title: str = "Accuracy per stream") -> go.Figure:
    """Grouped bars: metric (top-1, top-5, mean-class) on x, one bar per stream."""
    metrics = {"top1": "top-1", "top5": "top-5", "mean_class": "mean class"}
    fig = go.Figure()
    for _, row in summary.iterrows():
        values = [row[m] * 100 for m in metrics]
        fig.add_bar(
            name=STREAM_LABELS.get(row["stream"], row["stream"]),
            x=list(metrics.values()),
            y=values,
            marker_color=STREAM_COLOURS.get(row["stream"]),
            text=[f"{v:.1f}" for v in values],
            textposition="outside",
        )
    return _layout(fig, title, barmode="group", yaxis={"title": "accuracy (%)", "range": [0, 105]})


def fusion_sweep(sweep: pd.DataFrame, best_alpha: float, alpha: float | None = None) -> go.Figure:
    """Accuracy vs the RGB weight alpha (pose weight 1 - alpha), the best weight marked."""
    fig = go.Figure()
    for metric, dash in (("top1", "solid"), ("mean_class", "dot")):
        fig.add_scatter(
            x=sweep["alpha"],
            y=sweep[metric] * 100,
            mode="lines+markers",
            name="top-1" if metric == "top1" else "mean class",
            line={"color": STREAM_COLOURS["fused"], "dash": dash},
        )
    if np.isfinite(best_alpha):
        fig.add_vline(
            x=best_alpha,
            line={"color": "#CC79A7", "dash": "dash"},
            annotation_text=f"best α={best_alpha:.2f}",
            annotation_position="top right",
        )
    if alpha is not None:
        fig.add_vline(
            x=alpha,
            line={"color": "#555555"},
            annotation_text=f"α={alpha:.2f}",
            annotation_position="bottom left",
        )
    return _layout(
        fig,
        "Fused accuracy vs fusion weight",
        xaxis={"title": "α  (fused = α·RGB + (1-α)·pose)", "range": [0, 1]},
        yaxis={"title": "accuracy (%)"},
        legend={"orientation": "h", "y": -0.3},  # keeps the top free for the α annotations
    )


def per_class_dots(table: pd.DataFrame, title: str = "Per-class accuracy") -> go.Figure:
    """One marker per class and stream, classes in the table's row order."""
    fig = go.Figure()
    for stream in STREAMS:
        fig.add_scatter(
            x=table["class"],
            y=table[stream] * 100,
            mode="markers",
            name=STREAM_LABELS[stream],
            marker={"color": STREAM_COLOURS[stream], "size": 9 if stream == "fused" else 7},
        )
    return _layout(
        fig,
        title,
        xaxis={"title": "class", "type": "category", "tickangle": -45},
        yaxis={"title": "accuracy (%)", "range": [-3, 103]},
        height=420,
    )


def _labels_image(names: list[str], cell: int, depth: int, size: int, axis: str, lead: int = 0) -> str:
    """An SVG picture (data URI) of class names, one per ``cell`` pixels along the axis, ``depth`` pixels
    across it: x names rotated -60 degrees and hanging from the top edge, y names right-aligned against
    the right edge; ``lead`` pixels of room before the first x name (long names lean left). One image redraws
    in milliseconds where plotly's 2 x 120 tick labels take most of a second."""
    from html import escape
    from urllib.parse import quote

    along = cell * len(names)
    w, h = (lead + along, depth) if axis == "x" else (depth, along)
    style = f"font-family:{FONT['family']};font-size:{size}px;fill:#444"
    texts = []
    for i, name in enumerate(names):
        if not name:
            continue
        c = (i + 0.5) * cell + (lead if axis == "x" else 0)
        if axis == "x":
            at = f'x="{c:.1f}" y="4" transform="rotate(-60 {c:.1f} 4)" text-anchor="end" dominant-baseline="central"'
        else:
            at = f'x="{w - 4}" y="{c:.1f}" text-anchor="end" dominant-baseline="central"'
        texts.append(f"<text {at}>{escape(name)}</text>")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'preserveAspectRatio="none" style="{style}">{"".join(texts)}</svg>'
    )
    return "data:image/svg+xml;charset=utf-8," + quote(svg)


def _shortened(names: list[str], font: int) -> list[str]:
    """Names cut to NAME_MAX_PX at ``font`` pixels (an ellipsis marks the cut; the hover has them whole), so
    the margins that hold them stay bounded."""
    limit = max(4, int(NAME_MAX_PX / (NAME_CHAR_EM * font)))
    return [name if len(name) <= limit else name[: limit - 1] + "…" for name in names]


def confusion_cell(class_ids: np.ndarray, point: dict) -> tuple[int, int]:
    """(true class id, predicted class id) of a clicked point of ``confusion_grid``: its (x, y) is the cell's
    place in the shown order ``class_ids`` (x = predicted, y = true)."""
    ids = np.asarray(class_ids)
    return int(ids[round(float(point["y"]))]), int(ids[round(float(point["x"]))])


def confusion_grid(
    matrix: np.ndarray,
    class_ids: np.ndarray,
    class_names: list[str],
    title: str,
    counts: np.ndarray | None = None,
    diverging: bool = False,
    show_values: bool | None = None,
) -> go.Figure:
    """A confusion matrix drawn as pictures under a transparent click layer, so that a browser redraws it
    in a few hundred milliseconds at 120 or 400 classes and a click still selects a cell in Streamlit
    (which reports clicks on markers, not on heatmaps).

    ``matrix`` is the full (K, K) array; ``class_ids`` the classes shown, in order: the cell of the i-th shown
    true class and j-th shown predicted class sits at (x=j, y=i), the first class on top.

    - trace 0, the click layer: invisible square WebGL markers on the cells with a value or a sample
      (row-major); it carries the hover and, in ``customdata``, (true id, predicted id, count), and
      ``marker.color`` is the cell's value. ``confusion_cell`` maps a clicked point to its class ids.
    - trace 1, the picture: a heatmap whose ``z`` is the matrix in the shown order (one image; the colour
      scale and its bar).
    - trace 2 with ``show_values``: the value of every drawn cell as text.
    - the class names: two SVG pictures in ``layout.images`` (x below, y left of the matrix) instead of tick
      labels; past TICK_LABELS_MAX classes every k-th class is named.
    """
    ids = np.asarray(class_ids, dtype=np.int64)
    n = len(ids)
    names = [class_names[i] for i in ids]
    sub = np.asarray(matrix, dtype=np.float64)[np.ix_(ids, ids)]
    cnt = sub if counts is None else np.asarray(counts)[np.ix_(ids, ids)]
    show_values = n <= VALUES_MAX_CLASSES if show_values is None else show_values
    cell = int(np.clip(640 // max(n, 1), 5, 56))
    t_idx, p_idx = np.nonzero((sub != 0) | (cnt != 0))  # (C,) each, row-major: the drawn cells
    values = sub[t_idx, p_idx]
    bound = float(np.abs(values).max()) if values.size else 0.0
    bound = bound or 1.0
    scale = DIVERGING if diverging else SEQUENTIAL
    low = -bound if diverging else 0.0
    empty = sample_colorscale(scale, [0.5 if diverging else 0.0])[0]  # what a value of 0 looks like
    cell_info = "value %{marker.color:.3f}<br>samples %{customdata[2]}<extra></extra>"
    if n <= HOVER_NAMES_MAX_CLASSES:
        name_array = np.asarray(names, dtype=object)
        pairs = zip(name_array[t_idx], name_array[p_idx], strict=True)
        hover = {
            "hovertext": [f"true {t}<br>predicted {p}" for t, p in pairs],
            "hovertemplate": "%{hovertext}<br>" + cell_info,
        }
    else:
        hover = {"hovertemplate": "true class %{customdata[0]}<br>predicted %{customdata[1]}<br>" + cell_info}
    invisible = {"marker": {"opacity": 0}}
    traces = [
        go.Scattergl(
            x=p_idx,
            y=t_idx,
            mode="markers",
            marker={
                "symbol": "square",
                "size": cell,
                "color": values.astype(np.float32),
                "colorscale": scale,
                "cmin": low,
                "cmax": bound,
                "opacity": 0,
            },
            selected=invisible,
            unselected=invisible,
            customdata=np.stack([ids[t_idx], ids[p_idx], cnt[t_idx, p_idx]], axis=1),
            **hover,
        ),
        go.Heatmap(
            z=sub.astype(np.float32),
            colorscale=scale,
            zmin=low,
            zmax=bound,
            hoverinfo="skip",
            colorbar={"thickness": 20, "x": 1.0, "xanchor": "left", "xpad": 10},
        ),
    ]
    if show_values:
        is_int = np.allclose(values, np.round(values))
        text = [f"{v:.0f}" if is_int else f"{v:.2f}".lstrip("0").replace("-0.", "-.") for v in values]
        strong = np.abs(values) > 0.6 * bound  # viridis ends bright, purple-orange ends dark
        text_colour = np.where(strong, "white", "black") if diverging else np.where(strong, "black", "white")
        traces.append(
            go.Scattergl(
                x=p_idx,
                y=t_idx,
                mode="text",
                text=text,
                textfont={"size": max(7, min(13, cell // 3)), "color": text_colour.tolist()},
                hoverinfo="skip",
            )
        )
    step = -(-n // TICK_LABELS_MAX)  # every class named up to TICK_LABELS_MAX, then every step-th
    font = max(6, min(12, cell // 2))
    named = _shortened([name if i % step == 0 else "" for i, name in enumerate(names)], font)
    name_px = max((len(name) for name in named), default=0) * NAME_CHAR_EM * font  # the longest name's width
    # the pictures' depth across their axis: y names run flat, x names at -60 degrees (sin 60 = 0.87)
    depth_x, depth_y = int(0.87 * name_px) + 8, int(name_px) + 8
    margin = {"l": depth_y + 30, "b": depth_x + 30, "t": 60, "r": 100}  # 30: the axis title; r: colour bar
    side = cell * n  # the plot area in pixels, both ways: the plot area is n x n cells
    # in the axes' domains (0-1 over the plot area, not clipped to it); the axes are fixed (no zoom or pan)
    labels = {"xref": "x domain", "yref": "y domain", "layer": "above", "sizing": "stretch"}
    images = [
        {  # the names under the plot area
            **labels,
            "source": _labels_image(named, cell, depth_x, font, "x", lead=margin["l"]),
            "x": -margin["l"] / side,
            "y": 0,
            "sizex": 1 + margin["l"] / side,
            "sizey": depth_x / side,
            "xanchor": "left",
            "yanchor": "top",
        },
        {  # the names left of it
            **labels,
            "source": _labels_image(named, cell, depth_y, font, "y"),
            "x": 0,
            "y": 1,
            "sizex": depth_y / side,
            "sizey": 1,
            "xanchor": "right",
            "yanchor": "top",
        },
    ]
    axis = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "fixedrange": True}
    fig = go.Figure(traces)
    fig.update_layout(showlegend=False, plot_bgcolor=empty, images=images)
    return _layout(
        fig,
        title,
        width=margin["l"] + side + margin["r"],
        height=margin["t"] + side + margin["b"],
        xaxis={**axis, "title": {"text": "predicted", "standoff": depth_x}, "range": [-0.5, n - 0.5]},
        yaxis={**axis, "title": {"text": "true", "standoff": depth_y}, "range": [n - 0.5, -0.5]},
        margin=margin,
    )


def robustness_curves(curves: pd.DataFrame, noise: str, unit: str) -> go.Figure:
    """Accuracy vs noise level (columns level, stream, top1, optional top1_std) for one noise type."""
    fig = go.Figure()
    for stream in STREAMS:
        part = curves[curves["stream"] == stream].sort_values("level")
        if part.empty:
            continue
        std = part["top1_std"] * 100 if "top1_std" in part else None
        fig.add_scatter(
            x=part["level"],
            y=part["top1"] * 100,
            error_y=None if std is None else {"type": "data", "array": std, "visible": True},
            mode="lines+markers",
            name=STREAM_LABELS[stream],
            line={"color": STREAM_COLOURS[stream]},
        )
    return _layout(
        fig,
        f"Top-1 accuracy under {noise}",
        xaxis={"title": f"level ({unit})"},
        yaxis={"title": "top-1 accuracy (%)", "range": [0, 103]},
    )


def probability_panels(
    panels: list[tuple[str, pd.Series, pd.Series, str]], title: str, names: bool = False
) -> go.Figure:
    """Panels side by side, each of horizontal bars of softmax probabilities: ``panels`` holds one
    (subplot title, class names, probabilities, colour) per panel, best class on top; ``names`` names each
    bar trace after its panel."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
    for col, (label, classes, probs, colour) in enumerate(panels, start=1):
        fig.add_bar(
            name=label if names else None,
            x=probs[::-1],
            y=classes[::-1],
            orientation="h",
            marker_color=colour,
            text=[f"{p:.2f}" for p in probs[::-1]],
            textposition="auto",
            showlegend=False,
            row=1,
            col=col,
        )
        fig.update_xaxes(range=[0, 1], row=1, col=col)
    return _layout(fig, title, height=300, margin={"l": 10, "r": 10, "t": 60, "b": 30})


def topk_bars(scores: dict[str, pd.DataFrame], title: str = "Top-k scores") -> go.Figure:
    """Horizontal bars of each stream's top-k softmax probabilities (dict stream -> topk_scores frame)."""
    return probability_panels(
        [(STREAM_LABELS[s], df["class"], df["prob"], STREAM_COLOURS[s]) for s, df in scores.items()], title
    )


def temporal_bars(temporal: np.ndarray, frame_labels: list[str] | None = None) -> go.Figure:
    """One bar per frame: the temporal attention."""
    t = len(temporal)
    labels = frame_labels or [str(i) for i in range(t)]
    fig = go.Figure(
        go.Bar(
            x=labels, y=temporal, marker={"color": temporal, "colorscale": SEQUENTIAL, "cmin": 0, "cmax": 1}
        )
    )
    return _layout(
        fig,
        "Temporal attention per frame",
        height=220,
        xaxis={"title": "frame", "type": "category"},
        yaxis={"range": [0, 1]},
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
    )


def joint_importance(importance: np.ndarray, joint_names: list[str], title: str) -> go.Figure:
    """Horizontal bars of per-joint attribution (largest at the top)."""
    order = np.argsort(importance)
    fig = go.Figure(
        go.Bar(
            x=np.asarray(importance)[order],
            y=[joint_names[i] for i in order],
            orientation="h",
            marker_color=STREAM_COLOURS["pose"],
        )
    )
    return _layout(
        fig, title, height=460, xaxis={"title": "drop in the class score when the joint is removed"}
    )


OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
UNKNOWN_COLOUR = "#BBBBBB"


def group_colours(groups: list[str]) -> list[str]:
    """A colour per group of an embedding map: Okabe-Ito up to 8 groups, else a long qualitative cycle
    (Dark24 + Light24); an "unknown" group is grey."""
    import plotly.express as px

    palette = (
        OKABE_ITO
        if len(groups) <= len(OKABE_ITO)
        else px.colors.qualitative.Dark24 + px.colors.qualitative.Light24
    )
    return [UNKNOWN_COLOUR if g == "unknown" else palette[i % len(palette)] for i, g in enumerate(groups)]


def embedding_scatter(
    xy: np.ndarray,
    codes: np.ndarray,
    groups: list[str],
    hover: np.ndarray,
    title: str,
    hover_template: str = "%{text}<extra></extra>",
) -> go.Figure:
    """WebGL scatter of a 2-D embedding map (Scattergl, smooth at 50k points): one trace per group (click the
    legend to hide one), ``customdata`` = the row of each point, ``hover`` (S,) its ``text`` for
    ``hover_template`` (``%{fullData.name}`` there is the point's group)."""
    fig = go.Figure()
    size = 6 if len(xy) <= 2_000 else 4 if len(xy) <= 20_000 else 3
    for g, (name, colour) in enumerate(zip(groups, group_colours(groups), strict=True)):
        rows = np.flatnonzero(codes == g)
        if rows.size == 0:
            continue
        fig.add_trace(
            go.Scattergl(
                x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=f"{name} ({rows.size})",
                customdata=rows.astype(np.int32), text=hover[rows], hovertemplate=hover_template,
                marker={"size": size, "color": colour, "opacity": 0.8, "line": {"width": 0}},
            )
        )  # fmt: skip
    axis = {"showticklabels": False, "title": None, "zeroline": False, "showgrid": False}
    return _layout(
        fig, title, xaxis=axis, yaxis={**axis, "scaleanchor": "x"}, dragmode="lasso", height=620,
        legend={"itemsizing": "constant"}, hovermode="closest",
    )  # fmt: skip
