"""The cells of a NASNet or DARTS architecture: the two cell types and the blocks of a cell."""

from __future__ import annotations

from dataclasses import dataclass

CELL_TYPES = ("normal", "reduction")
"""The two cells of an architecture, in decision order."""


@dataclass(frozen=True)
class Block:
    """One block of a cell, by name: ``combine(op_a(state[input_a]), op_b(state[input_b]))``.

    States: 0 = h_{i-2} (the cell before the previous one), 1 = h_{i-1} (the previous cell), 2 + k =
    the output of block k of the same cell.
    """

    input_a: int
    input_b: int
    op_a: str
    op_b: str
    combine: str = "add"
