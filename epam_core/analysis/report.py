"""Every figure and table of a run, as the Export page and `epam export` write them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from epam_core.analysis import (
    calibration,
    confusion,
    embedding_map,
    fusion,
    label_errors,
    metrics,
    paper_figures,
    paper_statistics,
    slices,
    statistics,
    tables,
)
from epam_core.analysis.attention_report import attention_figure_builders, attention_tables
from epam_core.analysis.embeddings import SPACE_LABELS, SPACES, predicted_classes
from epam_core.analysis.paper_figures import FigureSize
from epam_core.analysis.run_report import PAIRS
from epam_core.data.noise import NOISE_TYPES
from epam_core.outputs import atomic_dir
from epam_core.runs.format import STREAMS, EvalRun

log = logging.getLogger(__name__)

FigureBuilder = Callable[[FigureSize], Figure]
EXPORT_MARKER = ".epam-export.json"  # marks a folder export_run wrote, so that --overwrite may replace it


MAX_SLICE_FIGURE_VALUES = 50  # a slice field with more values gets a table but no bar figure


def run_tables(run: EvalRun, top_pairs: int = 20) -> dict[str, pd.DataFrame]:
    """summary (per stream), per_class, the fused stream's top confused pairs; for labelled runs also
    statistics (``96.1 ± 0.3`` cells of the bootstrap intervals and the McNemar p of fused vs each stream),
    paired (McNemar tests), calibration, likely_label_errors and slices_<field> per metadata field; the
    attention tables when the run has attention measures."""
    out = {
        "summary": metrics.stream_summary(run),
        "per_class": metrics.per_class_table(run),
        "confused_pairs": confusion.top_confused_pairs(
            metrics.stream_confusion(run, "fused"), run.class_names, top_pairs
        ),
        **attention_tables(run),
    }
    if run.has_labels:
        out |= statistics_tables(run)
    return out


def statistics_tables(run: EvalRun) -> dict[str, pd.DataFrame]:
    """The tables of `epam report` for export (see ``run_tables``)."""
    logits = {s: run.logits(s) for s in STREAMS}
    labels = run.labels
    keep = labels >= 0
    right = {s: z.argmax(axis=1)[keep] == labels[keep] for s, z in logits.items()}
    tests = {(a, b): statistics.mcnemar_exact(right[a], right[b]) for a, b in PAIRS}
    summary = tables.interval_table(statistics.stream_intervals(logits, labels, run.num_classes))
    summary["p_vs_fused"] = [
        tests[("fused", s)].p_value if s != "fused" else float("nan") for s in summary["stream"]
    ]
    paired = pd.DataFrame(
        [
            {"a": a, "b": b, "a_only": t.a_only, "b_only": t.b_only, "mcnemar_p": t.p_value}
            for (a, b), t in tests.items()
        ]
    )
    errors = label_errors.likely_label_errors(run.sample_ids, labels, logits)
    errors.insert(2, "label_name", [run.class_names[i] for i in errors["label"]])
    errors.insert(4, "predicted_name", [run.class_names[i] for i in errors["predicted"]])
    out = {
        "statistics": summary,
        "paired": paired,
        "calibration": calibration.stream_calibration(logits, labels, tuple(run.manifest["fusion_weights"])),
        "likely_label_errors": errors,
    }
    meta = slices.run_metadata(run)
    correct = slices.correct_by_stream(run)
    for field in slices.slice_fields(meta):
        table = slices.slice_accuracy(meta[field], labels, correct)
        out[f"slices_{field}"] = tables.interval_table(table, STREAMS)
    return out


def run_figures(
    run: EvalRun,
    summary: pd.DataFrame | None = None,
    sweep: pd.DataFrame | None = None,
    per_class: pd.DataFrame | None = None,
) -> dict[str, FigureBuilder]:
    """Builders of every paper figure of a run, by file stem; call one with a ``FigureSize``. ``summary``,
    ``sweep`` and ``per_class`` may be given when already computed (as ``metrics`` / ``fusion`` compute them)."""
    if not run.has_labels:
        return embedding_figures(run)
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
    builders |= statistics_figures(run)
    builders |= attention_figure_builders(run)
    if run.robustness is not None:
        for noise in sorted(run.robustness["noise"].unique()):
            curves = metrics.robustness_curves(run.robustness, noise)
            unit = NOISE_TYPES[noise].unit if noise in NOISE_TYPES else "level"
            builders[f"robustness_{noise}"] = lambda size, c=curves, n=noise, u=unit: (
                paper_figures.robustness(c, n, u, size)
            )
    return builders | embedding_figures(run)


def embedding_figures(run: EvalRun) -> dict[str, FigureBuilder]:
    """The embedding maps of a run (``embeddings_<space>``) once they are computed (``epam embeddings``, the
    Embeddings page): the first cached method of umap, pca, tsne; coloured by true class (else by the fused
    prediction when the run has no labels)."""
    maps = next(filter(None, (embedding_map.cached_maps(run, m) for m in embedding_map.METHODS)), None)
    if maps is None:
        return {}
    colour_by = "true class" if run.has_labels else "predicted class"
    codes, groups = embedding_map.colour_groups(
        colour_by, run.labels, predicted_classes(run), run.class_names
    )
    return {
        f"embeddings_{space}": lambda size, xy=maps.xy[space], s=space: paper_figures.embedding_map(
            xy, codes, groups, f"{SPACE_LABELS[s]} embeddings ({maps.method})", size
        )
        for space in SPACES
    }


def is_export_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder ``export_run`` wrote (it holds the ``EXPORT_MARKER`` file)."""
    return (Path(path) / EXPORT_MARKER).is_file()


def statistics_figures(run: EvalRun) -> dict[str, FigureBuilder]:
    """reliability (the three streams), confidence (fused, right vs wrong) and slices_<field> per metadata field
    with at most ``MAX_SLICE_FIGURE_VALUES`` values."""
    scores = {s: calibration.confidence_and_correct(run.logits(s)[run.labels >= 0], run.labels[run.labels >= 0])
              for s in STREAMS}  # fmt: skip
    bins = {s: calibration.reliability(conf, right) for s, (conf, right) in scores.items()}
    hist = calibration.confidence_histogram(*scores["fused"])
    builders: dict[str, FigureBuilder] = {
        "reliability": lambda size: paper_statistics.reliability(bins, size),
        "confidence": lambda size: paper_statistics.confidence_histogram(hist, "fused", size),
    }
    meta = slices.run_metadata(run)
    correct = slices.correct_by_stream(run)
    for field in slices.slice_fields(meta):
        table = slices.slice_accuracy(meta[field], run.labels, correct)
        if len(table) <= MAX_SLICE_FIGURE_VALUES:
            builders[f"slices_{field}"] = lambda size, t=table, f=field: paper_statistics.slice_accuracy(
                t, f, size
            )
    return builders


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
                    if not name.startswith(("confusion", "per_class", "attention", "embeddings"))
                    else FigureSize(max(size.width, size.height), max(size.width, size.height), size.dpi)
                )
                written += paper_figures.save_figure(build(fig_size), tmp / name, formats)
                log.info("wrote %s", name)
        for name, table in run_tables(run).items():
            written += tables.save_table(
                table, tmp / name, caption=f"{name.replace('_', ' ')} ({run.path.name})"
            )
    return [out_dir / p.name for p in written]
