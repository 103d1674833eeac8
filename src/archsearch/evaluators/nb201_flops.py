"""FLOPs of NAS-Bench-201 networks in closed form (no source table holds them).

Counted as multiply-accumulates of every convolution and of the classifier of ``NB201Network`` (SPEC 7.3),
in millions; batch norm, ReLU, pooling and additions are left out, as in most NAS papers' "FLOPs".
Every edge's convolution counts, even on edges that ``none`` edges cut off from the output, because the
network computes them. ``tests/evaluators/test_nb201_flops.py`` checks the formula against hooks on the
built torch module.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from archsearch.evaluators.nb201_table import packaged_arrays
from archsearch.spaces.nb201 import EDGES, OPS, PAPER_CELLS_PER_STAGE, PAPER_CHANNELS

STAGES = 3
KERNEL_AREA = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}


def _stage_sizes(height: int, width: int) -> list[tuple[int, int]]:
    sizes = [(height, width)]
    for _ in range(STAGES - 1):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))  # stride-2 conv with padding 1 rounds up
    return sizes


def flops(
    ops: Sequence[str],
    input_shape: tuple[int, int, int],
    num_classes: int,
    channels: int = PAPER_CHANNELS,
    cells_per_stage: int = PAPER_CELLS_PER_STAGE,
) -> int:
    """Multiply-accumulates of one forward pass of one image through the NB201 network of ``ops``."""
    in_channels, height, width = input_shape
    sizes = _stage_sizes(height, width)
    total = in_channels * channels * 9 * height * width  # stem conv 3x3
    cell_area = sum(KERNEL_AREA.get(op, 0) for op in ops)
    for stage, (h, w) in enumerate(sizes):
        c = channels * 2**stage
        if stage:  # residual reduction: conv 3x3 stride 2, conv 3x3, 1x1 shortcut conv after pooling
            total += (c // 2) * c * 9 * h * w + c * c * 9 * h * w + (c // 2) * c * h * w
        total += cells_per_stage * cell_area * c * c * h * w
    return total + channels * 2 ** (STAGES - 1) * num_classes


@lru_cache(maxsize=4)
def flops_m_table(input_shape: tuple[int, int, int], num_classes: int) -> np.ndarray:
    """FLOPs (millions of multiply-accumulates) of every cell, indexed by the official NB201 index.

    FLOPs are affine in the cell's summed kernel area (1 per 1x1 conv edge, 9 per 3x3), so the table is
    ``flops(no conv) + area * (flops(one 1x1 edge) - flops(no conv))`` over the packaged op codes."""
    codes = np.asarray(packaged_arrays()["arch_code"], dtype=np.int64)
    digits = (codes[:, None] // len(OPS) ** np.arange(len(EDGES) - 1, -1, -1)) % len(OPS)
    area = np.array([KERNEL_AREA.get(op, 0) for op in OPS])[digits].sum(axis=1)
    empty = flops(("none",) * len(EDGES), input_shape, num_classes)
    per_area = flops(("nor_conv_1x1",) + ("none",) * (len(EDGES) - 1), input_shape, num_classes) - empty
    column = (empty + area * per_area) / 1e6
    column.setflags(write=False)
    return column
