"""Every figure and table of a run, as the Export page and `epam export` write them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from epam_core.analysis import confusion, fusion, metrics, paper_figures, tables
from epam_core.analysis.paper_figures import FigureSize
from epam_core.data.noise import NOISE_TYPES
from epam_core.runs import STREAMS, EvalRun, atomic_dir

log = logging.getLogger(__name__)

FigureBuilder = Callable[[FigureSize], Figure]
EXPORT_MARKER = ".epam-export.json"  # marks a folder export_run wrote, so that --overwrite may replace it


def run_tables(run: EvalRun, top_pairs: int = 20) -> dict[str, pd.DataFrame]:
    """summary (per stream), per_class, and the fused stream's top confused pairs."""
    return {
        "summary": metrics.stream_summary(run),
        "per_class": metrics.per_class_table(run),
        "confused_pairs": confusion.top_confused_pairs(
            metrics.stream_confusion(run, "fused"), run.class_names, top_pairs
        ),
    }


def run_figures(
    run: EvalRun,
    summary: pd.DataFrame | None = None,
    sweep: pd.DataFrame | None = None,
    per_class: pd.DataFrame | None = None,
) -> dict[str, FigureBuilder]:
    """Builders of every paper figure of a run, by file stem; call one with a ``FigureSize``. ``summary``,
    ``sweep`` and ``per_class`` may be given when already computed (as ``metrics`` / ``fusion`` compute them)."""
    if not run.has_labels:
        return {}
    summary = metrics.stream_summary(run) if summary is None else summary
    if sweep is None:
        sweep = fusion.weight_sweep(run.logits("rgb"), run.logits("pose"), run.labels)
    best_alpha, _ = fusion.best_weight(sweep)
    per_class = (metrics.per_class_table(run) if per_class is None else per_class).sort_values("fused")
    builders: dict[str, FigureBuilder] = {
        "accuracy": lambda size: paper_figures.accuracy_bars(summary, size),
        "fusion_sweep": lambda size: paper_figures.fusion_sweep(sweep, best_alpha, size),
        "per_class": lambda size: paper_figures.per_class(per_class, size),
    }
    for stream in STREAMS:
        cm = confusion.normalise(metrics.stream_confusion(run, stream), "true")
        order = confusion.order_classes(cm, "cluster" if run.num_classes > 30 else "index")
        builders[f"confusion_{stream}"] = lambda size, cm=cm, order=order, s=stream: paper_figures.confusion(
            cm, run.class_names, order, title=f"{s} (row-normalised)", size=size
        )
    if run.robustness is not None:
        for noise in sorted(run.robustness["noise"].unique()):
            curves = metrics.robustness_curves(run.robustness, noise)
            unit = NOISE_TYPES[noise].unit if noise in NOISE_TYPES else "level"
            builders[f"robustness_{noise}"] = lambda size, c=curves, n=noise, u=unit: (
                paper_figures.robustness(c, n, u, size)
            )
    return builders


def is_export_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder ``export_run`` wrote (it holds the ``EXPORT_MARKER`` file)."""
    return (Path(path) / EXPORT_MARKER).is_file()


def export_run(
    run: EvalRun,
    out_dir: str | Path,
    style: str = "paper",
    size: FigureSize | None = None,
    formats: tuple[str, ...] = paper_figures.FORMATS,
    overwrite: bool = False,
) -> list[Path]:
    """Write every figure (``formats``) and table (CSV + LaTeX) of ``run`` into the new folder ``out_dir``
    (atomically, with an ``EXPORT_MARKER``); return the paths. An existing ``out_dir`` is replaced only with
    ``overwrite`` and only when it is empty or an earlier export."""
    size = size or FigureSize()
    out_dir = Path(out_dir)
    written: list[Path] = []
    with atomic_dir(out_dir, overwrite, is_export_dir, "an export folder") as tmp:
        (tmp / EXPORT_MARKER).write_text(json.dumps({"run": str(run.path.resolve())}) + "\n")
        with paper_figures.style(style):
            for name, build in run_figures(run).items():
                fig_size = (
                    size
                    if not name.startswith(("confusion", "per_class"))
                    else FigureSize(max(size.width, size.height), max(size.width, size.height), size.dpi)
                )
                written += paper_figures.save_figure(build(fig_size), tmp / name, formats)
                log.info("wrote %s", name)
        for name, table in run_tables(run).items():
            written += tables.save_table(
                table, tmp / name, caption=f"{name.replace('_', ' ')} ({run.path.name})"
            )
    return [out_dir / p.name for p in written]
