"""The optional hooks of a search space: what a space knows about itself beyond its decisions.

A space (a ``SearchSpace`` subclass, or ``archsearch.nn.ModelSpace`` for a user's model) may define any
of these; the generic code (the CLI's config, the report, the export, one-shot search) asks the space
instead of keeping a table of spaces, so a new space is one folder and one registered name.

``companions`` (class attribute, a dict; default ``{}``)
    Config sections that go with the space when a config or ``--space`` chooses it and does not set them
    itself, e.g. ``{"evaluator": {"name": "tabular", "params": {}}, "clock": "cost"}``. Read from the
    class before the space is built, so keep torch out of the imports at the top of the class's module.
``export_source(arch, input_shape, num_classes)`` -> str (default: none)
    The text of a standalone model.py for ``arch`` (it defines ``build_model()`` and ``load_model()``;
    ``archsearch.spaces.source`` has the pieces). Without it a space that builds networks is exported as
    a model.py that imports the space and builds the architecture.
``draw(arch, path)`` -> Path (default: the encoding in a box, ``archsearch.spaces.drawing``)
    A PNG drawing of ``arch`` written to ``path``, for the report.
``supernet(input_shape, num_classes, **size)`` -> Supernet (default: none)
    The weight-sharing network of one-shot search (``archsearch.spaces.supernet``); the supernet's own
    ``space()`` is the space of the derived architectures (default: this space).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from archsearch.core import Architecture
from archsearch.errors import ConfigError

if TYPE_CHECKING:
    from archsearch.spaces.supernet import Supernet

__all__ = ["Draws", "ExportsSource", "HasSupernet", "companions_of"]


@runtime_checkable
class ExportsSource(Protocol):
    """A space that writes the standalone PyTorch source of its architectures."""

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        """The text of a model.py that needs only torch (and what the space says) and builds ``arch``;
        ``input_shape`` and ``num_classes`` are the data's, as the space's ``build`` reads them."""
        ...


@runtime_checkable
class Draws(Protocol):
    """A space with a drawing of its own."""

    def draw(self, arch: Architecture, path: str | Path) -> Path:
        """A PNG drawing of ``arch`` at ``path``; returns the path written."""
        ...


@runtime_checkable
class HasSupernet(Protocol):
    """A space that one-shot search (ENAS, DARTS, ASNG-NAS) trains as one weight-sharing network."""

    def supernet(self, input_shape: tuple[int, ...], num_classes: int, **size: Any) -> Supernet:
        """The supernet for images of ``input_shape``; ``size`` overrides its skeleton's sizes."""
        ...


def companions_of(obj: Any) -> dict[str, Any]:
    """The ``companions`` of a space class, a space, or a user's model (class or function): a copy,
    free to change; ``{}`` when it declares none. ConfigError when it is not a dict of sections."""
    companions = getattr(obj, "companions", None)
    if companions is None:
        return {}
    if not isinstance(companions, Mapping) or not all(isinstance(key, str) for key in companions):
        name = getattr(obj, "__qualname__", type(obj).__qualname__)
        raise ConfigError(f"{name}.companions must be a dict of config sections, got {companions!r:.80}")
    return copy.deepcopy(dict(companions))
