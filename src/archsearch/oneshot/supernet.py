"""Supernets: one network holding every candidate op of a cell space, so that sub-networks share weights.

The supernet of a space is the space's own (its ``supernet`` hook, ``archsearch.spaces.hooks``): NB201's
in ``spaces/nb201/supernet.py``, DARTS' in ``spaces/nasnet_cell/supernet.py``, both built on the kit of
``archsearch.spaces.supernet`` (``Supernet``, ``MixedEdge``, ``batch_stats_only``), which this module
passes on.
"""

from __future__ import annotations

from typing import Any

from archsearch.core import SearchSpace
from archsearch.errors import ConfigError
from archsearch.registry import construct, known, resolve
from archsearch.spaces.hooks import HasSupernet
from archsearch.spaces.supernet import NONE_OP as NONE_OP
from archsearch.spaces.supernet import MixedEdge as MixedEdge
from archsearch.spaces.supernet import Supernet as Supernet
from archsearch.spaces.supernet import batch_stats_only as batch_stats_only

SUPERNET_ALIASES = {"darts": "darts_cell"}
"""One-shot's short names of the registered spaces (what ``archsearch oneshot --space`` has taken)."""


def supernet_spaces() -> list[str]:
    """The names one-shot search takes for a cell space: those of the registered spaces that have a
    ``supernet`` hook (importing each), and their short names."""
    names = [name for name in known("space") if "-" not in name and has_supernet(name)]
    return sorted({*names, *(short for short, name in SUPERNET_ALIASES.items() if name in names)})


def has_supernet(name: str) -> bool:
    """Whether ``name`` (or its short name) is a known space whose class has a ``supernet`` hook;
    imports that space's class only."""
    name = SUPERNET_ALIASES.get(name, name)
    if name not in known("space"):
        return False
    try:
        return callable(getattr(resolve("space", name), "supernet", None))
    except ConfigError:
        return False


def make_supernet(
    space: str | SearchSpace, input_shape: tuple[int, ...], num_classes: int, **size: Any
) -> Supernet:
    """The supernet of ``space`` (a space, or the name of a registered one: "nb201", "darts", ...) for
    images of ``input_shape``, from the space's ``supernet`` hook; ``size`` overrides the skeleton's sizes
    (nb201: channels, cells_per_stage; darts: channels, cells, blocks, reductions, stem_multiplier)."""
    name = space if isinstance(space, str) else space.name
    if isinstance(space, str):
        registered = SUPERNET_ALIASES.get(space, space)
        if registered not in known("space"):
            raise ConfigError(f"unknown supernet space {space!r}; known: {', '.join(supernet_spaces())}")
        space = construct("space", registered, {})
    if not isinstance(space, HasSupernet):
        raise ConfigError(
            f"space {name!r} has no supernet (a supernet hook, archsearch.spaces.hooks); "
            f"spaces with one: {', '.join(supernet_spaces())}"
        )
    try:
        return space.supernet(input_shape, num_classes, **size)
    except TypeError as exc:
        raise ConfigError(f"supernet {name!r}: {exc}") from None
