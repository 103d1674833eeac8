"""The mode the choice primitives consult while a user's module is constructed.

A user's module is an ordinary ``nn.Module``; its ``choice``, ``LayerChoice``, ``InputChoice`` and
``Repeat`` calls ask the ``ChoiceMode`` installed by ``use_mode`` (a context variable) what to return:
the first option when nothing is installed, the chosen one under ``fixed_arch``, a placeholder that
records the decision while ``ModelSpace`` discovers the space, a mixed op in a one-shot supernet.

One ``Construction`` per ``use_mode`` block labels the unlabelled primitives (``layer_choice_0``,
``input_choice_0``, ``repeat_0``, counted in constructor order; inside block ``i`` of a Repeat labelled
``r`` they are ``r.i.layer_choice_0``, so a block's depth never shifts the labels after it) and checks
that one label always names the same choice.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.nn.selector import InputSelector
from archsearch.nn.specs import ChoiceSpec, InputSpec
from archsearch.spaces.dict_space import check_label

Reduction = str  # "sum", "mean" or "concat"
BlockPath = tuple[tuple[str, int], ...]
"""The Repeat blocks around a choice, outermost first: (label of the Repeat, index of the block)."""


class ChoiceMode(ABC):
    """What the choice primitives return while a module is constructed (the mode hook interface).

    Subclass it for a new way of constructing a space's modules (a one-shot supernet turns a layer
    choice into a mixed op) and install it with ``use_mode(mode)`` around the constructor call (or call
    ``ModelSpace.construct(mode)``). Labels are resolved and checked before a hook is called, so a
    hook only decides what to return.
    """

    @abstractmethod
    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        """The value ``choice(label, values)`` returns (values are JSON scalars, each once)."""

    @abstractmethod
    def layer_choice(self, label: str, candidates: dict[str, nn.Module]) -> nn.Module:
        """The module ``LayerChoice`` returns; ``candidates`` maps each name to its module, in order."""

    @abstractmethod
    def input_choice(
        self, label: str, n_candidates: int, n_chosen: int | None, reduction: Reduction
    ) -> nn.Module:
        """The module ``InputChoice`` returns: called with a list of ``n_candidates`` tensors, it feeds
        ``n_chosen`` of them (any number when None) into ``reduction`` ("sum", "mean" or "concat")."""

    @abstractmethod
    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        """The module ``Repeat`` returns for a choice among ``depths``; ``block_factory(i)`` builds block
        ``i`` (0-based) and labels the choices inside it for that block."""


class FirstChoiceMode(ChoiceMode):
    """Every choice takes its first option: the first value, the first candidate, the first ``n_chosen``
    inputs (all of them when ``n_chosen`` is None), the first listed depth. This is how a module
    constructed outside any archsearch context behaves, so it can be run and debugged as it is."""

    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        return values[0]

    def layer_choice(self, label: str, candidates: dict[str, nn.Module]) -> nn.Module:
        return next(iter(candidates.values()))

    def input_choice(
        self, label: str, n_candidates: int, n_chosen: int | None, reduction: Reduction
    ) -> nn.Module:
        spec = InputSpec(label, n_candidates, n_chosen)
        return InputSelector(spec.chosen(spec.default()), reduction, n_candidates)

    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        return nn.Sequential(*(block_factory(i) for i in range(depths[0])))


@dataclass
class Construction:
    """The state of one construction under a mode: labels handed out, choices seen and where."""

    mode: ChoiceMode
    specs: dict[str, ChoiceSpec] = field(default_factory=dict)
    """Every labelled choice seen, in the order first seen."""
    places: dict[str, list[BlockPath]] = field(default_factory=dict)
    """For each label, the Repeat blocks around each of its uses."""
    counters: dict[str, int] = field(default_factory=dict)
    scope: str = ""
    blocks: BlockPath = ()

    def label(self, label: str | None, kind: str) -> str:
        """``label`` checked, or the next automatic label of ``kind`` in the current scope."""
        if label is not None:
            return check_label(label, kind.replace("_", " "))
        key = f"{self.scope}{kind}"
        number = self.counters.get(key, 0)
        self.counters[key] = number + 1
        return f"{key}_{number}"

    def register(self, spec: ChoiceSpec) -> None:
        """Record a use of ``spec.label``; ConfigError when the label already names another choice."""
        seen = self.specs.setdefault(spec.label, spec)
        if seen != spec:
            raise ConfigError(
                f"label {spec.label!r} is used for {seen.describe()} and for {spec.describe()}; "
                "one label must name one choice (give the other a label of its own)"
            )
        self.places.setdefault(spec.label, []).append(self.blocks)

    @contextlib.contextmanager
    def block(self, repeat_label: str, index: int) -> Iterator[None]:
        """Within block ``index`` of the Repeat ``repeat_label``: its own automatic labels."""
        saved = (self.scope, self.blocks)
        self.scope = f"{repeat_label}.{index}."
        self.blocks = (*self.blocks, (repeat_label, index))
        try:
            yield
        finally:
            self.scope, self.blocks = saved

    @contextlib.contextmanager
    def switched(self, mode: ChoiceMode) -> Iterator[None]:
        """Within the same construction, primitives consult ``mode`` instead (labels keep counting)."""
        saved = self.mode
        self.mode = mode
        try:
            yield
        finally:
            self.mode = saved


_CURRENT: ContextVar[Construction | None] = ContextVar("archsearch_construction", default=None)


def current() -> Construction:
    """The construction in progress; outside any, a throwaway one in ``FirstChoiceMode``."""
    construction = _CURRENT.get()
    return construction if construction is not None else Construction(FirstChoiceMode())


@contextlib.contextmanager
def use_mode(mode: ChoiceMode) -> Iterator[Construction]:
    """Install ``mode`` for the modules constructed in the block (a fresh ``Construction``, yielded)."""
    if not isinstance(mode, ChoiceMode):
        raise ConfigError(f"use_mode needs a ChoiceMode, got {type(mode).__name__}")
    construction = Construction(mode)
    token = _CURRENT.set(construction)
    try:
        yield construction
    finally:
        _CURRENT.reset(token)


__all__ = [
    "BlockPath",
    "ChoiceMode",
    "Construction",
    "FirstChoiceMode",
    "current",
    "use_mode",
]
