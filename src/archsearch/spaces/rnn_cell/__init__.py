"""Zoph & Le's recurrent cell space (NAS-RL, 2017): the space, its language model (module.py), its
export and its drawing.

The package holds what is specific to the space (its hooks: ``archsearch.spaces.hooks``); importing it
loads no torch."""

from archsearch.spaces.rnn_cell.cell import CellNode, TreeCellChoice, tree_children
from archsearch.spaces.rnn_cell.space import (
    ACTIVATION,
    CELL_INDEX,
    COMBINE,
    DEFAULT_DROPOUT,
    DEFAULT_EMBEDDING_SIZE,
    DEFAULT_HIDDEN_SIZE,
    DEFAULT_NUM_LAYERS,
    KNOWN_ACTIVATIONS,
    KNOWN_COMBINATIONS,
    NAS_CELL,
    PAPER_ACTIVATIONS,
    PAPER_BASE,
    PAPER_COMBINATIONS,
    WORKED_EXAMPLE,
    RNNCellSpace,
)

__all__ = [
    "tree_children",
    "ACTIVATION",
    "CELL_INDEX",
    "COMBINE",
    "CellNode",
    "DEFAULT_DROPOUT",
    "DEFAULT_EMBEDDING_SIZE",
    "DEFAULT_HIDDEN_SIZE",
    "DEFAULT_NUM_LAYERS",
    "KNOWN_ACTIVATIONS",
    "KNOWN_COMBINATIONS",
    "NAS_CELL",
    "PAPER_ACTIVATIONS",
    "PAPER_BASE",
    "PAPER_COMBINATIONS",
    "RNNCellSpace",
    "TreeCellChoice",
    "WORKED_EXAMPLE",
]
