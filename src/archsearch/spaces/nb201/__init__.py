"""NAS-Bench-201's cell space (Dong & Yang 2020): the space, its torch network (module.py) and its supernet.

The package holds what is specific to the space (its hooks: ``archsearch.spaces.hooks``); importing it
loads no torch."""

from archsearch.spaces.nb201.cell import EDGE_NAMES, EDGES, OPS
from archsearch.spaces.nb201.space import (
    NUM_ARCHS,
    OP_KIND,
    PAPER_CELLS_PER_STAGE,
    PAPER_CHANNELS,
    NB201Space,
)

__all__ = [
    "EDGES",
    "EDGE_NAMES",
    "NB201Space",
    "NUM_ARCHS",
    "OPS",
    "OP_KIND",
    "PAPER_CELLS_PER_STAGE",
    "PAPER_CHANNELS",
]
