"""A run's attention measures as the report, the tables and the paper figures read them (one source for the
Attention page, `epam report --json` and `epam export`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from epam_core.analysis import attention_measures as am
from epam_core.analysis import attention_paper_figures
from epam_core.analysis.paper_figures import FigureSize
from epam_core.runs.attention_measures_file import read_attention_measures
from epam_core.runs.format import EvalRun


def attention_report(run: EvalRun) -> dict | None:
    """The ``attention`` section of ``epam report --json`` (``attention_measures.attention_section``), or
    None when the run has no attention measures."""
    measures = read_attention_measures(run)
    if measures is None:
        return None
    return am.attention_section(measures, run.labels, run.logits("rgb"))


def attention_tables(run: EvalRun, measures: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``attention_parts`` (run means per region), ``attention_classes`` (class x region) and
    ``attention_gain`` (per-class RGB accuracy of the three variants); empty without measures."""
    measures = read_attention_measures(run) if measures is None else measures
    if measures is None:
        return {}
    tables = {
        "attention_parts": am.part_table(measures),
        "attention_classes": am.class_part_table(measures, run.labels, run.class_names),
    }
    if run.has_labels:
        logits = am.variant_logits(measures, run.logits("rgb"))
        tables["attention_gain"] = am.attention_gain_table(logits, run.labels, run.class_names)
    return tables


def attention_figure_builders(run: EvalRun) -> dict[str, Callable[[FigureSize], Figure]]:
    """Paper figures of the measures by file stem: ``attention_parts`` (class x part heatmap) and
    ``attention_gain`` (per-class accuracy change); empty without measures or labels."""
    tables = attention_tables(run)
    if "attention_gain" not in tables:
        return {}
    classes, gain = tables["attention_classes"], tables["attention_gain"]
    return {
        "attention_parts": lambda size: attention_paper_figures.class_part_heatmap(classes, size),
        "attention_gain": lambda size: attention_paper_figures.attention_gain_bars(gain, size),
    }


def format_attention_report(section: dict) -> str:
    """The ``attention`` section as a few readable lines (`epam attention`)."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:.1f} %"

    def times(mass: float | None, chance: float | None) -> str:
        return "" if mass is None or not chance else f", {mass / chance:.2f}x chance"

    lines = [
        f"spatial attention on the body: {pct(section['on_body'])} (chance {pct(section['on_body_chance'])}"
        f"{times(section['on_body'], section['on_body_chance'])})"
    ]
    for part, value in section["parts"].items():
        lines.append(
            f"  {part:<6} {pct(value['mass']):>7} (chance {pct(value['chance'])}{times(value['mass'], value['chance'])})"
        )
    corr = section["temporal_motion_corr"]
    lines.append(f"temporal attention vs joint motion: mean r = {'n/a' if corr is None else f'{corr:+.2f}'}")
    top1 = section["rgb_top1"]
    lines.append(
        f"RGB top-1: with the attention {pct(top1['model'])}, uniform {pct(top1['uniform'])}, "
        f"none {pct(top1['none'])}"
    )
    return "\n".join(lines)
