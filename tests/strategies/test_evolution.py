from __future__ import annotations

import numpy as np
import pytest
from synthetic import BranchingSpace, Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from archsearch.strategies.evolution import RegularizedEvolution
from conftest import ToyLayerSpace, fraction_3x3


def test_population_is_random_until_full_then_children_are_one_mutation_from_a_member():
    space = GridSpace()
    strategy = RegularizedEvolution(space, seed=0, population_size=5, sample_size=2)
    landscape = Landscape(space)
    Driver(strategy, space, landscape).step(5)
    members = {arch for arch, _ in strategy.population}
    for _ in range(20):
        child = strategy.ask()
        assert min(sum(a != b for a, b in zip(child.values, m.values, strict=True)) for m in members) == 1


def test_aging_removes_the_oldest_not_the_worst():
    space = GridSpace(num_decisions=2, num_choices=5)
    strategy = RegularizedEvolution(space, population_size=3)
    for i, reward in enumerate([0.9, 0.1, 0.5, 0.2]):
        strategy.tell(Architecture("grid", (i, 0)), Result(), reward)
    assert [r for _, r in strategy.population] == [0.1, 0.5, 0.2]


def test_parent_is_the_best_of_the_sample():
    space = GridSpace(num_decisions=3, num_choices=5)
    strategy = RegularizedEvolution(space, seed=0, population_size=5, sample_size=60)
    for i, reward in enumerate([0.1, 0.2, 0.9, 0.3, 0.4]):
        strategy.tell(Architecture("grid", (i, i, i)), Result(), reward)
    # a sample of 60 misses the best member (2, 2, 2) with probability 0.8**60; only its children keep two 2s
    assert all(strategy.ask().values.count(2) == 2 for _ in range(50))


def test_failed_trials_do_not_join_the_population():
    space = GridSpace(num_decisions=2, num_choices=5)
    strategy = RegularizedEvolution(space, population_size=2)
    strategy.tell(Architecture("grid", (0, 0)), Result(), 0.5)
    strategy.tell(Architecture("grid", (1, 0)), Result.failure("oom"), 0.0)
    assert [a.values for a, _ in strategy.population] == [(0, 0)]
    assert strategy.num_failed == 1 and strategy.num_told == 2


def test_works_on_spaces_with_links_and_variable_length():
    for space, reward in ((ToyLayerSpace(), fraction_3x3), (BranchingSpace(), lambda a: a.values[0] / 3)):
        told = Driver(
            RegularizedEvolution(space, seed=1, population_size=4), space, reward, in_flight=4
        ).step(40)
        assert len(told) == 40


def test_resumes_identically_with_asks_outstanding_and_failures():
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: RegularizedEvolution(space, seed=seed, population_size=4, sample_size=2),
        space,
        Landscape(space),
        before=11,
        after=15,
        in_flight=3,
        fail_every=4,
    )


def test_same_seed_same_choices():
    space = GridSpace()
    a, b = (Driver(RegularizedEvolution(space, seed=5), space, Landscape(space)) for _ in range(2))
    assert a.step(30) == b.step(30)
    assert np.mean([r for _, r in a.told[-10:]]) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"population_size": 0}, "population_size"), ({"sample_size": 0}, "sample_size")]
)
def test_bad_hyperparameters_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        RegularizedEvolution(GridSpace(), **kwargs)
