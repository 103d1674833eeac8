"""What one labelled choice of a model space is, and the decisions a strategy sees for it.

A spec is recorded when a primitive (``choice``, ``LayerChoice``, ``InputChoice``, ``Repeat``) runs; two
uses of one label must record equal specs (a shared choice). Each spec turns into one or more
categorical decisions of a kind of its own (``value:<label>``, ``layer:<label>``, ``input:<label>``,
``repeat:<label>``, with '.' in the label escaped as ``%2E``), and converts between the label's value
(what ``fixed_arch`` takes) and the values of those decisions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archsearch.core import Decision
from archsearch.errors import ConfigError
from archsearch.spaces.dict_space import kind_of

MAX_COMBINATIONS = 1000
"""The most subsets an ``InputChoice`` with ``n_chosen`` > 1 may have (one categorical choice each)."""


@dataclass(frozen=True)
class ValueSpec:
    """``choice(label, values)``: one decision whose choices are the values."""

    label: str
    values: tuple[Any, ...]

    def describe(self) -> str:
        return f"a value choice of {list(self.values)}"

    def decisions(self) -> tuple[Decision, ...]:
        return (Decision(self.label, kind_of("value:", self.label), self.values),)

    def default(self) -> Any:
        return self.values[0]

    def to_decisions(self, value: Any) -> tuple[Any, ...]:
        if isinstance(value, bool | int | float | str) and value in self.values:
            return (self.values[self.values.index(value)],)
        raise ConfigError(f"choice {self.label!r}: {value!r} is not one of {list(self.values)}")

    def from_decisions(self, values: Sequence[Any]) -> Any:
        return values[0]


@dataclass(frozen=True)
class LayerSpec:
    """``LayerChoice``: one decision whose choices are the candidates' names (``"0"``, ``"1"``, ... for a
    list). ``types`` (each candidate's class) must match too where a label is shared."""

    label: str
    names: tuple[str, ...]
    types: tuple[str, ...]

    def describe(self) -> str:
        if len(self.types) != len(self.names):
            return f"a layer choice of {list(self.names)}"
        return "a layer choice of " + ", ".join(
            f"{n}: {t}" for n, t in zip(self.names, self.types, strict=True)
        )

    def decisions(self) -> tuple[Decision, ...]:
        return (Decision(self.label, kind_of("layer:", self.label), self.names),)

    def default(self) -> Any:
        return self.names[0]

    def to_decisions(self, value: Any) -> tuple[Any, ...]:
        name = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(name, str) and name in self.names:
            return (name,)
        raise ConfigError(
            f"LayerChoice {self.label!r}: {value!r} is not one of the candidates {list(self.names)}"
        )

    def from_decisions(self, values: Sequence[Any]) -> Any:
        return values[0]


@dataclass(frozen=True)
class InputSpec:
    """``InputChoice``: which of ``n_candidates`` inputs feed a layer.

    ``n_chosen=1``: one decision over the candidate indices (the label's value is an int).
    ``n_chosen=k>1``: one decision over the k-subsets, written ``"0,2"`` (the value is a sorted list).
    ``n_chosen=None`` (any subset, NAS-RL's skip connections): one on/off decision per candidate,
    ``label[i]`` with choices ``(True, False)`` (the value is the sorted list of chosen indices). The
    LINKS decisions of the LSTM controller are not used: its anchor attention points only at earlier
    LINKS decisions, not at arbitrary tensors, and distribution-based strategies cannot take them.
    """

    label: str
    n_candidates: int
    n_chosen: int | None

    def describe(self) -> str:
        return f"an input choice of {self.n_chosen or 'any number'} among {self.n_candidates}"

    def subsets(self) -> tuple[str, ...]:
        k = self.n_chosen or 0
        return tuple(",".join(map(str, c)) for c in itertools.combinations(range(self.n_candidates), k))

    def decisions(self) -> tuple[Decision, ...]:
        kind = kind_of("input:", self.label)
        if self.n_chosen is None:
            return tuple(
                Decision(f"{self.label}[{i}]", kind, (True, False)) for i in range(self.n_candidates)
            )
        if self.n_chosen == 1:
            return (Decision(self.label, kind, tuple(range(self.n_candidates))),)
        return (Decision(self.label, kind, self.subsets()),)

    def default(self) -> Any:
        if self.n_chosen == 1:
            return 0
        return list(range(self.n_candidates if self.n_chosen is None else self.n_chosen))

    def chosen(self, value: Any) -> tuple[int, ...]:
        """The sorted candidate indices that ``value`` (an int or a list of ints) chooses; ConfigError
        when they are out of range, repeated or not ``n_chosen`` many."""
        indices = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        ok = isinstance(indices, list | tuple) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < self.n_candidates for i in indices
        )
        if (
            ok
            and len(set(indices)) == len(indices)
            and (self.n_chosen is None or len(indices) == self.n_chosen)
        ):
            return tuple(sorted(indices))
        count = "any number of" if self.n_chosen is None else f"{self.n_chosen}"
        raise ConfigError(
            f"InputChoice {self.label!r}: {value!r} does not choose {count} distinct inputs among "
            f"0..{self.n_candidates - 1}"
        )

    def to_decisions(self, value: Any) -> tuple[Any, ...]:
        chosen = self.chosen(value)
        if self.n_chosen is None:
            return tuple(i in chosen for i in range(self.n_candidates))
        if self.n_chosen == 1:
            return (chosen[0],)
        return (",".join(map(str, chosen)),)

    def from_decisions(self, values: Sequence[Any]) -> Any:
        if self.n_chosen is None:
            return [i for i, on in enumerate(values) if on]
        if self.n_chosen == 1:
            return values[0]
        return [int(i) for i in str(values[0]).split(",")]


@dataclass(frozen=True)
class RepeatSpec:
    """``Repeat`` with several depths: one decision over the depths (the value is the depth)."""

    label: str
    depths: tuple[int, ...]

    def describe(self) -> str:
        return f"a repeat of depth {list(self.depths)}"

    def decisions(self) -> tuple[Decision, ...]:
        return (Decision(self.label, kind_of("repeat:", self.label), self.depths),)

    def default(self) -> Any:
        return self.depths[0]

    def to_decisions(self, value: Any) -> tuple[Any, ...]:
        if isinstance(value, int) and not isinstance(value, bool) and value in self.depths:
            return (value,)
        raise ConfigError(f"Repeat {self.label!r}: depth {value!r} is not one of {list(self.depths)}")

    def from_decisions(self, values: Sequence[Any]) -> Any:
        return values[0]


ChoiceSpec = ValueSpec | LayerSpec | InputSpec | RepeatSpec


def input_spec(label: str, n_candidates: Any, n_chosen: Any) -> InputSpec:
    """An InputSpec, or a one-line ConfigError for counts that choose nothing or too many subsets."""
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 1:
        raise ConfigError(f"InputChoice {label!r}: n_candidates must be an int >= 1, got {n_candidates!r}")
    if n_chosen is not None and (
        isinstance(n_chosen, bool) or not isinstance(n_chosen, int) or not 1 <= n_chosen <= n_candidates
    ):
        raise ConfigError(
            f"InputChoice {label!r}: n_chosen must be None (any subset) or an int in 1..{n_candidates}, "
            f"got {n_chosen!r}"
        )
    if n_chosen is not None and math.comb(n_candidates, n_chosen) > MAX_COMBINATIONS:
        raise ConfigError(
            f"InputChoice {label!r}: {math.comb(n_candidates, n_chosen)} subsets of {n_chosen} among "
            f"{n_candidates} is more than {MAX_COMBINATIONS}; use n_chosen=None (one on/off choice per input)"
        )
    return InputSpec(label, n_candidates, n_chosen)


def repeat_depths(label: str, depth: Any) -> tuple[int, ...]:
    """The allowed depths of a Repeat: an int >= 0 or a non-empty list of distinct ints >= 0."""
    depths = (depth,) if isinstance(depth, int) and not isinstance(depth, bool) else depth
    if isinstance(depths, str) or not isinstance(depths, Sequence) or not depths:
        raise ConfigError(
            f"Repeat {label!r}: depth must be an int >= 0 or a non-empty list of them, got {depth!r}"
        )
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in depths):
        raise ConfigError(f"Repeat {label!r}: depths must be ints >= 0, got {list(depths)}")
    if len(set(depths)) != len(depths):
        raise ConfigError(f"Repeat {label!r} repeats a depth in {list(depths)}; list each depth once")
    return tuple(depths)
