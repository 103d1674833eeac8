"""The drawing of a recurrent tree cell (the space's ``draw`` hook)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from archsearch.spaces.drawing import save_figure
from archsearch.spaces.rnn_cell.cell import TreeCellChoice, tree_children


def draw_rnn_cell(encoding: str, cell: TreeCellChoice, path: str | Path) -> Path:
    """The tree of Zoph & Le's recurrent cell (encoded as ``encoding``): leaves (fed x_t and h_t-1) at the
    bottom, the root (h_t) on top; the node that receives c_t-1 and the node whose pre-activation becomes
    c_t are marked."""
    num_nodes = len(cell.nodes)
    base, root = (num_nodes + 1) // 2, num_nodes - 1
    levels: list[list[int]] = [list(range(base))]
    while len(levels[-1]) > 1:
        start = levels[-1][-1] + 1
        levels.append(list(range(start, start + len(levels[-1]) // 2)))
    width = max(8.0, 1.3 * base)
    figure = Figure(figsize=(width, 1.6 + 1.3 * len(levels)), layout="constrained")
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(f"recurrent cell (base {base})\n{encoding}", fontsize=9, family="monospace")
    position: dict[int, tuple[float, float]] = {}
    for depth, nodes in enumerate(levels):
        for k, node in enumerate(nodes):
            position[node] = ((k + 0.5) * base / len(nodes), float(depth + 1))
    arrow = {"arrowstyle": "-|>", "color": "0.35", "lw": 1.0}
    for node in range(base, num_nodes):
        for child in tree_children(base, node):
            ax.annotate("", xy=position[node], xytext=position[child], arrowprops=arrow)
    for node, (x, y) in position.items():
        choice = cell.nodes[node]
        colour = "#fdebd3" if node == cell.inject_node else "#e3ecf7"
        label = f"{node}: {choice.combine}\n{choice.activation}"
        ax.text(x, y, label, ha="center", va="center", fontsize=8, zorder=3,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "#4a6fa5"})  # fmt: skip
        if node < base:
            ax.annotate("x_t, h_t-1", xy=(x, y - 0.2), xytext=(x, y - 0.75), ha="center", fontsize=7,
                        arrowprops=arrow)  # fmt: skip
    ix, iy = position[cell.inject_node]
    ax.annotate(f"c_t-1 ({cell.inject.combine}, {cell.inject.activation})", xy=(ix + 0.25, iy),
                xytext=(ix + 0.9, iy + 0.45), fontsize=7, color="tab:orange",
                arrowprops={**arrow, "color": "tab:orange"})  # fmt: skip
    mx, my = position[cell.memory_node]
    ax.annotate("", xy=(mx + 0.55, my - 0.5), xytext=(mx + 0.2, my - 0.15),
                arrowprops={**arrow, "color": "tab:green"})  # fmt: skip
    ax.text(mx + 0.6, my - 0.62, "c_t (before activation)", fontsize=7, color="tab:green", va="center")
    rx, ry = position[root]
    ax.annotate("", xy=(rx, ry + 0.7), xytext=(rx, ry + 0.22), arrowprops=arrow)
    ax.text(rx, ry + 0.82, "h_t", ha="center", fontsize=9)
    ax.set_xlim(-0.6, base + 0.6)
    ax.set_ylim(-0.1, len(levels) + 1.1)
    return save_figure(figure, path)
