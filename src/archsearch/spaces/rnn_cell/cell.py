"""A recurrent tree cell read out of an architecture: its nodes, the inject step and the two cell indices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellNode:
    """How a tree node (or the inject step) merges its two inputs and which activation follows."""

    combine: str
    activation: str


@dataclass(frozen=True)
class TreeCellChoice:
    """One cell of the space, read out of its flat decision values.

    ``nodes`` are numbered leaves first, then level by level, the root last. ``memory_node``'s
    pre-activation value becomes c_t; ``inject_node``'s output is merged with c_{t-1} by ``inject``.
    """

    nodes: tuple[CellNode, ...]
    inject: CellNode
    memory_node: int
    inject_node: int


def tree_children(base: int, node: int) -> tuple[int, int]:
    """The two nodes internal node ``node`` of a tree with ``base`` leaves combines: 2(node - base) and
    2(node - base) + 1 (leaves first, then level by level, the root, 2 base - 2, last)."""
    if not base <= node < 2 * base - 1:
        raise ValueError(f"node {node} is not an internal node (internal: {base}..{2 * base - 2})")
    return 2 * (node - base), 2 * (node - base) + 1
