"""Figure builders (plotly and matplotlib), exports and tables."""

from __future__ import annotations

from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from epam_core.analysis import figures, paper_figures, tables

NAMES = [f"class {i}" for i in range(40)]


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stream": ["rgb", "pose", "fused"],
            "top1": [0.5, 0.6, 0.8],
            "top5": [0.9, 0.9, 1.0],
            "mean_class": [0.4, 0.5, 0.7],
        }
    )


def test_accuracy_bars_values():
    fig = figures.accuracy_bars(_summary())
    assert [t.name for t in fig.data] == ["RGB", "Pose", "Fused"]
    assert list(fig.data[2].y) == pytest.approx([80.0, 100.0, 70.0])


def test_confusion_grid_cells_and_value_threshold():
    cm = np.arange(40 * 40).reshape(40, 40)
    ids = np.array([3, 1, 7])
    fig = figures.confusion_grid(cm, ids, NAMES, "cm")
    points = fig.data[0]  # the invisible click layer
    assert len(points.x) == 9 and points.type == "scattergl" and points.marker.opacity == 0
    assert points.selected.marker.opacity == 0 and points.unselected.marker.opacity == 0
    # the cell (true 1, predicted 7): row-major over the shown order 3, 1, 7
    k = 1 * 3 + 2
    assert (points.y[k], points.x[k]) == (1, 2)
    assert points.customdata[k].tolist() == [1, 7, cm[1, 7]]
    assert points.marker.color[k] == cm[1, 7]
    assert "true class 1<br>predicted class 7" == points.hovertext[k]
    picture = fig.data[1]  # the heatmap: z is the matrix in the shown order, x = predicted, y = true
    assert picture.type == "heatmap" and picture.hoverinfo == "skip"
    assert np.asarray(picture.z).tolist() == [[cm[t, p] for p in ids] for t in ids]
    assert (picture.zmin, picture.zmax, picture.colorscale[0][1]) == (0.0, cm[7, 7], "#440154")
    assert list(fig.layout.yaxis.range) == [2.5, -0.5]  # first class on top
    assert fig.layout.xaxis.showticklabels is False and fig.layout.yaxis.showticklabels is False
    x_names, y_names = (unquote(im.source) for im in fig.layout.images)  # the names, as two pictures
    assert [n in x_names and n in y_names for n in ("class 3", "class 1", "class 7")] == [True] * 3
    assert x_names.index("class 3") < x_names.index("class 1") < x_names.index("class 7")
    numbers = fig.data[2]
    assert numbers.mode == "text" and list(numbers.text) == [str(v) for v in cm[np.ix_(ids, ids)].ravel()]
    sparse = np.zeros((40, 40))
    sparse[1, 7] = 5
    one = figures.confusion_grid(sparse, ids, NAMES, "cm", show_values=True)
    assert list(one.data[0].x) == [2] and list(one.data[0].y) == [1]  # empty cells are not clickable...
    assert list(one.data[2].text) == ["5"]
    assert one.layout.plot_bgcolor == "rgb(68, 1, 84)"  # ... they show viridis at 0, as the heatmap does
    assert np.asarray(one.data[1].z)[1, 2] == 5 and np.asarray(one.data[1].z).sum() == 5
    big = figures.confusion_grid(cm, np.arange(40), NAMES, "cm")
    assert len(big.data) == 2  # numbers hidden above 30 classes
    wide = figures.confusion_grid(np.eye(200), np.arange(200), [f"c{i}" for i in range(200)], "cm")
    assert wide.data[0].hovertext is None and "customdata[0]" in wide.data[0].hovertemplate
    assert len(wide.data[0].x) == 200  # the diagonal only
    x_names = unquote(wide.layout.images[0].source)  # past 150 classes every other class is named
    assert ">c0<" in x_names and ">c2<" in x_names and ">c1<" not in x_names
    diff = figures.confusion_grid(cm - cm.T, ids, NAMES, "diff", diverging=True)
    assert diff.data[0].marker.cmin == -diff.data[0].marker.cmax
    assert diff.data[1].zmin == -diff.data[1].zmax == diff.data[0].marker.cmin


def test_confusion_cell_maps_a_click_to_class_ids():
    order = np.array([3, 1, 7])
    assert figures.confusion_cell(order, {"x": 2, "y": 1}) == (1, 7)  # x = predicted, y = true
    assert figures.confusion_cell(order, {"x": 0.0, "y": 2.0, "curve_number": 0}) == (7, 3)
    # the click layer's point at (x, y) carries the same ids in its customdata
    fig = figures.confusion_grid(np.arange(40 * 40).reshape(40, 40), order, NAMES, "cm")
    points = fig.data[0]
    for x, y, data in zip(points.x, points.y, points.customdata, strict=True):
        assert figures.confusion_cell(order, {"x": x, "y": y}) == (data[0], data[1])


def test_confusion_grid_margins_hold_the_names():
    """The name pictures sit in the margins (no automatic margins for images): the margins grow with the
    longest name, and a name past NAME_MAX_PX is cut with an ellipsis (the hover keeps it whole)."""
    cm = np.eye(3)
    short = figures.confusion_grid(cm, np.arange(3), ["a", "b", "c"], "cm")
    names = ["a", "A049 use a fan (with hand or paper)/feeling warm", "c"]
    long = figures.confusion_grid(cm, np.arange(3), names, "cm")
    font = max(6, min(12, int(np.clip(640 // 3, 5, 56)) // 2))
    assert long.layout.margin.l > short.layout.margin.l and long.layout.margin.b > short.layout.margin.b
    cut = max(4, int(figures.NAME_MAX_PX / (figures.NAME_CHAR_EM * font)))
    y_names = unquote(long.layout.images[1].source)
    assert names[1][: cut - 1] + "…" in y_names and names[1] not in y_names
    assert long.layout.margin.l >= cut * figures.NAME_CHAR_EM * font  # the cut name fits left of the matrix
    assert names[1] in long.data[0].hovertext[1]


def test_fusion_and_robustness_figures():
    sweep = pd.DataFrame({"alpha": [0.0, 0.5, 1.0], "top1": [0.5, 0.8, 0.6], "mean_class": [0.4, 0.7, 0.5]})
    fig = figures.fusion_sweep(sweep, 0.5, alpha=0.3)
    assert list(fig.data[0].y) == pytest.approx([50, 80, 60])
    assert [s.x0 for s in fig.layout.shapes] == [0.5, 0.3]
    curves = pd.DataFrame(
        {"level": [0, 1, 0, 1], "stream": ["pose", "pose", "fused", "fused"], "top1": [0.9, 0.5, 0.95, 0.8]}
    )
    fig = figures.robustness_curves(curves, "jitter_px", "px")
    assert [t.name for t in fig.data] == ["Pose", "Fused"]
    assert list(fig.data[0].y) == pytest.approx([90, 50])


def test_paper_figures_export_all_formats(tmp_path):
    cm = np.random.default_rng(0).integers(0, 9, (12, 12))
    with paper_figures.style("paper"):
        fig = paper_figures.confusion(cm, NAMES[:12], title="cm")
        paths = paper_figures.save_figure(fig, tmp_path / "cm")
    assert [p.name for p in paths] == ["cm.pdf", "cm.svg", "cm.png"]
    assert paths[0].read_bytes().startswith(b"%PDF-")
    assert b"<svg" in paths[1].read_bytes()[:400]
    assert paths[2].read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob(".*partial*"))
    with pytest.raises(ValueError, match="style"):
        with paper_figures.style("poster"):
            pass


def test_png_size_follows_figure_size():
    import io

    from PIL import Image

    size = paper_figures.FigureSize(4.0, 2.0, dpi=100)
    png = paper_figures.figure_bytes(paper_figures.accuracy_bars(_summary(), size), "png")
    width, height = Image.open(io.BytesIO(png)).size
    assert 300 <= width <= 420 and 150 <= height <= 220  # bbox "tight" trims a little


def test_tables_csv_and_latex(tmp_path):
    table = _summary()
    assert tables.to_csv(table).splitlines()[1] == "rgb,0.5,0.9,0.4"
    tex = tables.to_latex(table, caption="Accuracy", label="tab:acc")
    assert "\\toprule" in tex and "\\caption{Accuracy}" in tex
    assert "fused & 80.0 & 100.0 & 70.0 \\\\" in tex
    assert "mean class" in tex  # underscores turned into spaces
    csv, tex_path = tables.save_table(table, tmp_path / "summary")
    assert csv.read_text() == tables.to_csv(table) and tex_path.read_text() == tables.to_latex(table)


def test_attention_strip_figure():
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    fig = paper_figures.attention_strip(frames, np.array([0.1, 0.5, 0.9, 1.0]), "s")
    bars = [ax for ax in fig.axes if ax.patches]
    assert [round(ax.patches[0].get_height(), 2) for ax in bars] == [0.1, 0.5, 0.9, 1.0]
    assert paper_figures.figure_bytes(fig, "pdf").startswith(b"%PDF-")
