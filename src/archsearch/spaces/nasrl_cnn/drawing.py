"""The drawing of a NAS-RL CNN (the space's ``draw`` hook): the layer stack, skip links curving beside it."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as CurvePath

from archsearch.spaces.drawing import save_figure
from archsearch.spaces.nasrl_cnn.layers import CLASSIFIER, IMAGE, ConvLayer, Node

_BOX_HALF_WIDTH = 1.9
_BOX_HALF_HEIGHT = 0.3
_EDGE_COLORS = {IMAGE: "0.45", CLASSIFIER: "tab:green"}
_SKIP_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:purple",
    "tab:red",
    "tab:cyan",
    "tab:brown",
    "tab:olive",
    "tab:pink",
    "navy",
    "darkgoldenrod",
)
"""Skip links take the colour of their source layer, so a link can be followed from end to end."""


def draw_nasrl_cnn(
    name: str,
    encoding: str,
    layers: Sequence[ConvLayer],
    edges: Sequence[tuple[Node, Node]],
    path: str | Path,
) -> Path:
    """The stack of ``layers`` (of the space ``name``, encoded as ``encoding``) with the data flow
    ``edges``: links to the next layer straight, skip links curving on the right, links from the image
    and to the classifier on the left."""
    depth = len(layers)
    height_of: dict[Node, int] = {IMAGE: 0, CLASSIFIER: depth + 1}
    height_of.update({index: index + 1 for index in range(depth)})
    curved = [e for e in edges if height_of[e[1]] - height_of[e[0]] > 1]
    longest = max((height_of[b] - height_of[a] for a, b in curved), default=1)
    reach = _BOX_HALF_WIDTH + 0.75 * _bulge(longest) + 0.3
    figure = Figure(figsize=(2.0 + 1.0 * reach, 1.3 + 0.62 * (depth + 2)), layout="constrained")
    ax = figure.add_subplot()
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-0.6, depth + 1.6)
    ax.set_axis_off()
    encoded = "\n".join(textwrap.wrap(encoding, 60, break_long_words=False))
    ax.set_title(f"{name}, {depth} layers\n{encoded}", fontsize="small", family="monospace")

    _box(ax, 0, "image", "#e6e6e6")
    for index, layer in enumerate(layers):
        label = f"{index}: {layer.filter_h}x{layer.filter_w} conv, {layer.num_filters} filters"
        if (layer.stride_h, layer.stride_w) != (1, 1):
            label += f", stride {layer.stride_h}x{layer.stride_w}"
        _box(ax, index + 1, label, "#dce8f7")
    _box(ax, depth + 1, "classifier: concat, avg pool, linear", "#dff2df")

    for source, target in edges:
        if height_of[target] - height_of[source] == 1:
            _arrow(ax, [(0, height_of[source] + _BOX_HALF_HEIGHT), (0, height_of[target] - _BOX_HALF_HEIGHT)])
    # Skip links curve on the right; links from the image and to the classifier on the left. Each
    # box side has its outgoing ends in its upper half and incoming ends in its lower half, longer
    # links nearer the middle, so the curves nest instead of crossing.
    for side, group in ((1, "skip"), (-1, IMAGE), (-1, CLASSIFIER)):
        chosen = [e for e in curved if _group(e) == group]
        leaving = _attach_offsets(chosen, height_of, end=0)
        arriving = _attach_offsets(chosen, height_of, end=1)
        for edge in chosen:
            start = height_of[edge[0]] + leaving[edge]
            stop = height_of[edge[1]] - arriving[edge]
            x = side * _BOX_HALF_WIDTH
            bend = x + side * _bulge(height_of[edge[1]] - height_of[edge[0]])
            color = _EDGE_COLORS.get(group) or _SKIP_COLORS[int(edge[0]) % len(_SKIP_COLORS)]
            _arrow(ax, [(x, start), (bend, start), (bend, stop), (x, stop)], color)
    return save_figure(figure, path)


def _group(edge: tuple[Node, Node]) -> str:
    source, target = edge
    return IMAGE if source == IMAGE else CLASSIFIER if target == CLASSIFIER else "skip"


def _bulge(distance: int) -> float:
    """How far right (or left) of its boxes a link spanning ``distance`` box heights swings."""
    return 0.5 + 0.3 * (distance - 2)


def _attach_offsets(
    edges: list[tuple[Node, Node]], height_of: dict[Node, int], end: int
) -> dict[tuple[Node, Node], float]:
    """Vertical offset from the box centre of each edge's ``end`` (0 source, 1 target), longest first."""
    offsets: dict[tuple[Node, Node], float] = {}
    by_node: dict[Node, list[tuple[Node, Node]]] = {}
    for edge in edges:
        by_node.setdefault(edge[end], []).append(edge)
    for group in by_node.values():
        group.sort(key=lambda e: height_of[e[0]] - height_of[e[1]])  # longest first
        for rank, edge in enumerate(group):
            offsets[edge] = _BOX_HALF_HEIGHT * (0.15 + 0.7 * (rank + 1) / (len(group) + 1))
    return offsets


def _box(ax: Axes, y: float, label: str, color: str) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (-_BOX_HALF_WIDTH, y - _BOX_HALF_HEIGHT),
            2 * _BOX_HALF_WIDTH,
            2 * _BOX_HALF_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=color,
            edgecolor="0.3",
            linewidth=1,
            zorder=2,
        )
    )
    ax.text(0, y, label, ha="center", va="center", fontsize=9, zorder=3)


def _arrow(ax: Axes, points: list[tuple[float, float]], color: str = "0.15") -> None:
    """A straight arrow through two points or a cubic Bezier curve through four control points."""
    codes = [CurvePath.MOVETO] + [CurvePath.LINETO if len(points) == 2 else CurvePath.CURVE4] * (
        len(points) - 1
    )
    ax.add_patch(
        FancyArrowPatch(
            path=CurvePath(points, codes),
            arrowstyle="-|>",
            mutation_scale=11,
            color=color,
            linewidth=1.3,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
    )
