"""Drawing an architecture as a PNG: the default drawing (the encoding in a box) and the figure saving
that the spaces' own drawings (their ``draw`` hooks) and the report's plots share.

Figures are built directly (no pyplot, so no global figure state and no GUI backend) and saved with the
Agg renderer.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from archsearch.core import Architecture, SearchSpace

DPI = 100
"""Dots per inch of every PNG written."""


def draw_encoding(space: SearchSpace, arch: Architecture, path: str | Path) -> Path:
    """The drawing of a space without one of its own: ``arch``'s encoding in a box."""
    encoded = textwrap.wrap(space.encode(arch), 80, break_long_words=True) or [""]
    figure = Figure(figsize=(8, 1.0 + 0.25 * len(encoded)), layout="constrained")
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(f"{space.name} architecture")
    ax.text(
        0.5,
        0.5,
        "\n".join(encoded),
        ha="center",
        va="center",
        family="monospace",
        transform=ax.transAxes,
        bbox={"boxstyle": "round,pad=0.6", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5"},
    )
    return save_figure(figure, path)


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG to ``path`` (its folder made if needed); the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path
