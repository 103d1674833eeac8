from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from synthetic import BranchingSpace, GridSpace

from archsearch.core import Architecture, Decision
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.strategies.mutation import (
    categorical_decisions,
    from_indices,
    mutate,
    neighbours,
    to_indices,
)
from conftest import ToyLayerSpace


def _changed(a: Architecture, b: Architecture) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a.values, b.values, strict=True)) if x != y]


def test_mutate_changes_exactly_one_decision_uniformly():
    space = GridSpace(num_decisions=4, num_choices=3)
    rng = np.random.default_rng(0)
    parent = Architecture("grid", (0, 1, 2, 0))
    positions, values = Counter(), Counter()
    for _ in range(4000):
        child = mutate(space, parent, rng)
        (i,) = _changed(parent, child)
        positions[i] += 1
        if i == 0:
            values[child.values[0]] += 1
    assert all(abs(n / 4000 - 0.25) < 0.03 for n in positions.values())
    assert set(values) == {1, 2} and abs(values[1] / sum(values.values()) - 0.5) < 0.05


def test_mutate_flips_one_link_or_changes_one_filter_in_a_space_with_anchor_points():
    space = ToyLayerSpace(num_layers=3)
    rng = np.random.default_rng(1)
    parent = Architecture("toy", ((), 3, 3, (0,), 5, 5, (), 7, 7))
    kinds = Counter()
    for _ in range(500):
        child = mutate(space, parent, rng)
        space.validate(child)
        (i,) = _changed(parent, child)
        if i % 3 == 0:
            assert len(set(parent.values[i]) ^ set(child.values[i])) == 1  # one link flipped
            kinds["links"] += 1
        else:
            kinds["filter"] += 1
    # layer 0 has no earlier layer to link to, so 2 link decisions + 6 filter decisions can change
    assert abs(kinds["links"] / 500 - 2 / 8) < 0.06


def test_mutate_redraws_later_decisions_that_a_changed_prefix_makes_differ():
    space = BranchingSpace()
    rng = np.random.default_rng(2)
    parent = Architecture("branching", (2, "conv", 5, "pool", 2))
    seen_depths = Counter()
    for _ in range(600):
        child = mutate(space, parent, rng)
        space.validate(child)
        assert child != parent
        depth = child.values[0]
        seen_depths[depth] += 1
        if depth == 3:  # deeper: the old layers are kept, the new one drawn
            assert child.values[1:5] == parent.values[1:5]
        elif depth == 1:
            assert child.values[1:] == parent.values[1:3]
        if depth == 2 and child.values[1] == "pool":  # the kind changed: its size is redrawn from pool sizes
            assert child.values[2] in (2, 3) and child.values[3:] == parent.values[3:]
    assert set(seen_depths) == {1, 2, 3}


def test_mutate_without_a_changeable_decision_is_a_clear_error():
    space = GridSpace(num_decisions=2, num_choices=1)
    with pytest.raises(ConfigError, match="nothing can be mutated"):
        mutate(space, Architecture("grid", (0, 0)), np.random.default_rng(0))


def test_neighbours_are_every_one_decision_change():
    space = GridSpace(num_decisions=6, num_choices=5)
    arch = Architecture("grid", (0, 1, 2, 3, 4, 0))
    found = neighbours(space, arch, np.random.default_rng(0))
    assert len(found) == len(set(found)) == 6 * 4
    assert all(len(_changed(arch, n)) == 1 for n in found)


def test_neighbours_in_a_space_with_links_flip_each_link():
    space = ToyLayerSpace(num_layers=3)
    arch = Architecture("toy", ((), 3, 3, (0,), 5, 5, (), 7, 7))
    found = neighbours(space, arch, np.random.default_rng(0))
    # filters: 3 alternatives x 6; links: 1 of layer 1, 2 of layer 2
    assert len(found) == 18 + 3
    assert Architecture("toy", ((), 3, 3, (), 5, 5, (), 7, 7)) in found
    assert Architecture("toy", ((), 3, 3, (0,), 5, 5, (1,), 7, 7)) in found


def test_categorical_decisions_of_a_fixed_space_and_index_round_trip():
    space = GridSpace(num_decisions=3, num_choices=4)
    decisions = categorical_decisions(space)
    assert [d.name for d in decisions] == ["x0", "x1", "x2"]
    arch = Architecture("grid", (3, 0, 2))
    assert to_indices(decisions, arch).tolist() == [3, 0, 2]
    assert from_indices(space, decisions, np.array([3, 0, 2])) == arch
    with pytest.raises(InvalidArchitectureError, match="x1"):
        to_indices(decisions, Architecture("grid", (3, 9, 2)))


def test_categorical_decisions_rejects_links_and_variable_length_with_alternatives():
    with pytest.raises(ConfigError, match="links decision 'layer0.inputs'.*use evolution"):
        categorical_decisions(ToyLayerSpace(), "asng")
    with pytest.raises(ConfigError, match="asng needs a fixed sequence.*variable length"):
        categorical_decisions(BranchingSpace(), "asng")


def test_categorical_decisions_accepts_decisions_of_different_sizes():
    class Mixed(GridSpace):
        def decisions(self, prefix):
            sizes = (2, 5, 3)
            return (
                Decision(f"x{len(prefix)}", f"k{len(prefix)}", tuple(range(sizes[len(prefix)])))
                if len(prefix) < 3
                else None
            )

    assert [len(d.choices) for d in categorical_decisions(Mixed())] == [2, 5, 3]
