"""The size of an exported figure, bounded so that a mistyped flag cannot ask for a picture that fills the
memory (kept apart from ``paper_figures`` so that the command line checks it without loading matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass

# At most 14 x 14 inches at 1200 dpi: 16800 pixels a side (1.1 GB of RGBA), the largest the Export page offers.
INCHES = (0.5, 14.0)
DPI = (20, 1200)


@dataclass(frozen=True)
class FigureSize:
    """Width and height in inches; PNGs are rendered at ``dpi``."""

    width: float = 3.5  # one column of a two-column paper
    height: float = 2.6
    dpi: int = 300

    def __post_init__(self) -> None:
        for name, value, (low, high) in (
            ("width", self.width, INCHES), ("height", self.height, INCHES), ("dpi", self.dpi, DPI),
        ):  # fmt: skip
            if not low <= value <= high:  # also refuses NaN
                raise ValueError(f"figure {name} must be in {low}..{high}, got {value}")
