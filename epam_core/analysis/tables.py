"""Tables for papers: CSV and LaTeX (booktabs) from the analysis frames, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from epam_core.runs import atomic_write_file

PERCENT_COLUMNS = ("top1", "top5", "mean_class", "rgb", "pose", "fused", "fusion_gain", "rate")


def to_csv(table: pd.DataFrame) -> str:
    """CSV text (no index), full precision."""
    return table.to_csv(index=False)


def to_latex(table: pd.DataFrame, caption: str = "", label: str = "", percent: bool = True) -> str:
    """A booktabs ``table`` environment; accuracy columns as percentages with one decimal."""
    shown = table.copy()
    if percent:
        for col in PERCENT_COLUMNS:
            if col in shown:
                shown[col] = shown[col] * 100
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]
    styler = shown.style.hide(axis="index").format(precision=1, na_rep="--")
    styler = styler.format_index(escape="latex", axis=1).format(escape="latex", precision=1, na_rep="--")
    return styler.to_latex(
        caption=caption or None,
        label=label or None,
        hrules=True,
        position_float="centering",
        environment="table",
    )


def save_table(table: pd.DataFrame, stem: str | Path, caption: str = "", label: str = "") -> list[Path]:
    """Write ``stem.csv`` and ``stem.tex`` atomically; return the paths."""
    stem = Path(stem)
    csv, tex = to_csv(table), to_latex(table, caption, label)
    return [
        atomic_write_file(stem.with_suffix(".csv"), lambda p: p.write_text(csv)),
        atomic_write_file(stem.with_suffix(".tex"), lambda p: p.write_text(tex)),
    ]
