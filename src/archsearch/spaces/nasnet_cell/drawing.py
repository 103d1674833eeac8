"""The drawing of a NASNet or DARTS cell pair (the spaces' ``draw`` hook)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from archsearch.spaces.drawing import save_figure
from archsearch.spaces.nasnet_cell.cell import Block


def draw_cells(name: str, cells: dict[str, tuple[Block, ...]], cell_output: str, path: str | Path) -> Path:
    """The cells of an architecture of the space ``name`` (by cell type: the normal and the reduction
    cell, as ``cells_of`` gives them) side by side: the two cell inputs on the left, the blocks left to
    right (each edge labelled with its op), dashed edges into the concatenated output (from every block
    when ``cell_output`` is "all", else from the blocks no other block reads)."""
    blocks_per_cell = max(len(blocks) for blocks in cells.values())
    figure = Figure(figsize=(2.0 + 2.6 * blocks_per_cell, 7.0), layout="constrained")
    figure.suptitle(f"{name}: best cells", fontsize=11)
    for row, cell in enumerate(cells):
        ax = figure.add_subplot(2, 1, row + 1)
        ax.set_axis_off()
        blocks = cells[cell]
        position = {0: (0.0, 0.8), 1: (0.0, -0.8)}
        position.update({2 + k: (1.6 * (k + 1), 0.55 * (-1) ** k) for k in range(len(blocks))})
        output = (1.6 * (len(blocks) + 1), 0.0)
        read = {j for block in blocks for j in (block.input_a, block.input_b)}
        arrow = {"arrowstyle": "-|>", "color": "0.3", "lw": 1.0, "shrinkA": 16, "shrinkB": 16}
        for k, block in enumerate(blocks):
            target = position[2 + k]
            for side, (source, op) in enumerate(((block.input_a, block.op_a), (block.input_b, block.op_b))):
                bend = 0.25 if side == 0 else -0.25
                ax.annotate("", xy=target, xytext=position[source],
                            arrowprops={**arrow, "connectionstyle": f"arc3,rad={bend}"})  # fmt: skip
                (x0, y0), (x1, y1) = position[source], target
                ax.text((x0 + x1) / 2 + bend * (y1 - y0) / 2, (y0 + y1) / 2 - bend * (x1 - x0) / 2, op,
                        ha="center", va="center", fontsize=7, zorder=4,
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})  # fmt: skip
            if cell_output == "all" or 2 + k not in read:
                ax.annotate(
                    "", xy=output, xytext=target, arrowprops={**arrow, "linestyle": "--", "color": "0.6"}
                )
        labels = {0: "h[i-2]", 1: "h[i-1]"}
        labels.update(
            {2 + k: f"{k}: {'add' if b.combine == 'add' else 'concat'}" for k, b in enumerate(blocks)}
        )
        for node, (x, y) in position.items():
            colour = "#e6e6e6" if node < 2 else "#dce8f7"
            ax.text(x, y, labels[node], ha="center", va="center", fontsize=8, zorder=5,
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "0.3"})  # fmt: skip
        ax.text(*output, "concat", ha="center", va="center", fontsize=8, zorder=5,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": "#dff2df", "edgecolor": "0.3"})  # fmt: skip
        stride = ", ops on h[i-2] and h[i-1] use stride 2" if cell == "reduction" else ""
        ax.set_title(f"{cell} cell{stride}", fontsize=9)
        ax.set_xlim(-0.7, output[0] + 0.7)
        ax.set_ylim(-1.3, 1.3)
    return save_figure(figure, path)
