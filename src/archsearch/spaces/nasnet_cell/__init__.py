"""The NASNet (Zoph et al. 2018) and DARTS (Liu et al. 2019) cell spaces: the spaces, their torch network
(module.py), their drawing and the DARTS supernet.

The package holds what is specific to the space (its hooks: ``archsearch.spaces.hooks``); importing it
loads no torch beyond the cell ops."""

from archsearch.spaces.nasnet_cell.cell import CELL_TYPES, Block
from archsearch.spaces.nasnet_cell.space import (
    BLOCK_FIELDS,
    COMBINE_KIND,
    DEFAULT_CELLS,
    DEFAULT_CHANNELS,
    KNOWN_COMBINATIONS,
    OP_KIND,
    OPERATION_SETS,
    PAPER_DARTS_BLOCKS,
    PAPER_DARTS_CELLS,
    PAPER_DARTS_CHANNELS,
    PAPER_DARTS_SEARCH_CELLS,
    PAPER_DARTS_SEARCH_CHANNELS,
    PAPER_NASNET_BLOCKS,
    PAPER_NASNET_CELLS,
    PAPER_NASNET_CHANNELS,
    PAPER_REDUCTIONS,
    PAPER_STEM_MULTIPLIER,
    DartsCellSpace,
    NASNetCellSpace,
)

__all__ = [
    "BLOCK_FIELDS",
    "Block",
    "CELL_TYPES",
    "COMBINE_KIND",
    "DEFAULT_CELLS",
    "DEFAULT_CHANNELS",
    "DartsCellSpace",
    "KNOWN_COMBINATIONS",
    "NASNetCellSpace",
    "OPERATION_SETS",
    "OP_KIND",
    "PAPER_DARTS_BLOCKS",
    "PAPER_DARTS_CELLS",
    "PAPER_DARTS_CHANNELS",
    "PAPER_DARTS_SEARCH_CELLS",
    "PAPER_DARTS_SEARCH_CHANNELS",
    "PAPER_NASNET_BLOCKS",
    "PAPER_NASNET_CELLS",
    "PAPER_NASNET_CHANNELS",
    "PAPER_REDUCTIONS",
    "PAPER_STEM_MULTIPLIER",
]
