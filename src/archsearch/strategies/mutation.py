"""Moves in a search space's decisions: uniform values, one-decision mutations and neighbourhoods,
and the index encoding of fixed-length categorical spaces that distribution-based strategies need."""

from __future__ import annotations

from typing import Any

import numpy as np

from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError


def random_value(decision: Decision, rng: np.random.Generator) -> Any:
    """A uniform value of ``decision``: each choice equally likely, each link present with probability 1/2
    (the distribution of ``SearchSpace.sample``)."""
    if decision.is_links:
        mask = rng.random(decision.num_links) < 0.5
        return tuple(int(j) for j in np.flatnonzero(mask))
    return decision.choices[int(rng.integers(len(decision.choices)))]


def can_change(decision: Decision) -> bool:
    """Whether ``decision`` has a value other than the current one (a choice or a link to flip)."""
    return decision.num_links > 0 if decision.is_links else len(decision.choices) > 1


def alternatives(decision: Decision, value: Any) -> list[Any]:
    """Every value of ``decision`` one step from ``value``: each other choice, or each single link flipped."""
    if decision.is_links:
        return [tuple(sorted(set(value) ^ {j})) for j in range(decision.num_links)]
    return [c for c in decision.choices if c != value]


def complete(
    space: SearchSpace,
    prefix: tuple[Any, ...],
    old_values: tuple[Any, ...],
    old_decisions: list[Decision],
    rng: np.random.Generator,
) -> Architecture:
    """Extend a changed ``prefix`` to a whole architecture, keeping each old value whose decision is
    unchanged and drawing a uniform value wherever the new prefix asks a different question."""
    values = list(prefix)
    while (decision := space.decisions(tuple(values))) is not None:
        i = len(values)
        if i < len(old_values) and old_decisions[i] == decision:
            values.append(old_values[i])
        else:
            values.append(random_value(decision, rng))
    return Architecture(space.name, tuple(values))


def mutate(space: SearchSpace, arch: Architecture, rng: np.random.Generator) -> Architecture:
    """``arch`` with one decision changed to another value (one link flipped for a LINKS decision).

    The changed decision is uniform among those that have another value; its new value is uniform among
    the alternatives. This is the op mutation of Real et al. 2019 (AmoebaNet) and the NB201 REA code,
    generalised: where the new prefix makes a later decision differ (variable-length spaces), that
    decision is redrawn uniformly.
    """
    decisions = list(space.walk(arch.values))
    positions = [i for i, d in enumerate(decisions) if can_change(d)]
    if not positions:
        raise ConfigError(
            f"space {space.name!r}: no decision of {space.encode(arch)} has a second value, "
            "so nothing can be mutated; give the space a decision with two or more choices"
        )
    i = positions[int(rng.integers(len(positions)))]
    options = alternatives(decisions[i], arch.values[i])
    new_value = options[int(rng.integers(len(options)))]
    return complete(space, arch.values[:i] + (new_value,), arch.values, decisions, rng)


def neighbours(space: SearchSpace, arch: Architecture, rng: np.random.Generator) -> list[Architecture]:
    """Every architecture one decision away from ``arch`` (White et al. 2021's neighbourhood), in decision
    order, without duplicates. ``rng`` only draws later decisions that a changed prefix makes differ."""
    decisions = list(space.walk(arch.values))
    found: dict[Architecture, None] = {}
    for i, decision in enumerate(decisions):
        for value in alternatives(decision, arch.values[i]):
            found.setdefault(complete(space, arch.values[:i] + (value,), arch.values, decisions, rng))
    found.pop(arch, None)
    return list(found)


def categorical_decisions(space: SearchSpace, strategy: str = "this strategy") -> list[Decision]:
    """The decisions of a fixed-length, purely categorical space, in order.

    Raises ConfigError for a space with LINKS decisions or whose decisions depend on earlier values,
    where a fixed vector of independent categorical distributions cannot describe it. The check walks
    three prefixes (always the first choice, always the last, and a mix) and requires the same decisions.
    """
    paths: list[list[Decision]] = []
    for pick in (lambda i, k: 0, lambda i, k: k - 1, lambda i, k: i % k):
        values: list[Any] = []
        path: list[Decision] = []
        while (decision := space.decisions(tuple(values))) is not None:
            if decision.is_links:
                raise ConfigError(
                    f"{strategy} needs a space of categorical decisions, but {space.name!r} has the "
                    f"links decision {decision.name!r} (anchor points); use evolution, local_search, "
                    "reinforce, ppo or optuna on this space"
                )
            if not decision.choices:
                raise ConfigError(f"space {space.name!r}: decision {decision.name!r} has no choices")
            path.append(decision)
            values.append(decision.choices[pick(len(values), len(decision.choices))])
        paths.append(path)
    if any(path != paths[0] for path in paths[1:]):
        raise ConfigError(
            f"{strategy} needs a fixed sequence of decisions, but the decisions of {space.name!r} depend on "
            "earlier values (variable length); use evolution, local_search, reinforce, ppo or optuna"
        )
    if not paths[0]:
        raise ConfigError(f"space {space.name!r} has no decisions")
    return paths[0]


def num_choices(decisions: list[Decision]) -> np.ndarray:
    """K_d of every decision, as an int array of shape (D,)."""
    return np.array([len(d.choices) for d in decisions], dtype=np.int64)


def to_indices(decisions: list[Decision], arch: Architecture) -> np.ndarray:
    """The index of each value of ``arch`` among its decision's choices, shape (D,)."""
    if len(arch.values) != len(decisions):
        raise InvalidArchitectureError(
            f"architecture has {len(arch.values)} values, the space {len(decisions)} decisions"
        )
    try:
        return np.array([d.choices.index(v) for d, v in zip(decisions, arch.values, strict=True)])
    except ValueError:
        bad = next(d for d, v in zip(decisions, arch.values, strict=True) if v not in d.choices)
        raise InvalidArchitectureError(f"{bad.name}: value is not one of {list(bad.choices)}") from None


def from_indices(space: SearchSpace, decisions: list[Decision], indices: np.ndarray) -> Architecture:
    """The architecture choosing ``decisions[d].choices[indices[d]]`` for every d."""
    return Architecture(space.name, tuple(d.choices[int(k)] for d, k in zip(decisions, indices, strict=True)))
