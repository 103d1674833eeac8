from __future__ import annotations

import pytest
from synthetic import BranchingSpace, Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from archsearch.strategies.local_search import LocalSearch
from conftest import ToyLayerSpace, fraction_3x3


def _differences(a: Architecture, b: Architecture) -> int:
    return sum(x != y for x, y in zip(a.values, b.values, strict=True))


def test_evaluates_the_whole_neighbourhood_then_moves_to_its_best():
    space = GridSpace(num_decisions=3, num_choices=3)
    landscape = Landscape(space, seed=1)
    strategy = LocalSearch(space, seed=0)
    start = strategy.ask()
    strategy.tell(start, Result(), landscape(start))
    asked = [strategy.ask() for _ in range(6)]
    assert sorted(asked, key=lambda a: a.values) == sorted(
        {
            Architecture("grid", start.values[:i] + (v,) + start.values[i + 1 :])
            for i in range(3)
            for v in range(3)
        }
        - {start},
        key=lambda a: a.values,
    )
    for arch in asked[:-1]:
        strategy.tell(arch, Result(), landscape(arch))
    assert strategy.center[0] == start  # still waiting for one neighbour
    strategy.tell(asked[-1], Result(), landscape(asked[-1]))
    best = max(asked, key=landscape)
    if landscape(best) > landscape(start):
        assert strategy.center == (best, landscape(best))
    else:
        assert strategy.center is None and strategy.num_restarts == 1


def test_first_improvement_moves_as_soon_as_a_better_neighbour_is_told():
    space = GridSpace(num_decisions=3, num_choices=3)
    strategy = LocalSearch(space, seed=0, first_improvement=True)
    start = strategy.ask()
    strategy.tell(start, Result(), 0.5)
    first = strategy.ask()
    strategy.tell(first, Result(), 0.6)
    assert strategy.center == (first, 0.6)
    assert _differences(strategy.ask(), first) == 1


def test_restarts_at_a_local_optimum_and_never_repeats_an_evaluation():
    space = GridSpace(num_decisions=2, num_choices=2)
    strategy = LocalSearch(space, seed=0)
    start = strategy.ask()
    strategy.tell(start, Result(), 1.0)  # the best there is
    for _ in range(2):
        arch = strategy.ask()
        assert _differences(arch, start) == 1
        strategy.tell(arch, Result(), 0.0)
    assert strategy.center is None and strategy.num_restarts == 1
    assert strategy.progress()["restarts"] == 1.0


def test_a_failed_neighbour_is_never_a_move_and_a_failed_start_is_not_a_centre():
    space = GridSpace(num_decisions=1, num_choices=2)
    strategy = LocalSearch(space, seed=0)
    first = strategy.ask()
    strategy.tell(first, Result.failure("oom"), 0.0)
    assert strategy.center is None
    start = strategy.ask()
    strategy.tell(start, Result(), -1.0)
    neighbour = strategy.ask()
    strategy.tell(neighbour, Result.failure("nan"), 0.0)
    assert strategy.num_moves == 0


def test_asks_while_the_neighbourhood_is_out_are_random_restart_candidates():
    space = GridSpace(num_decisions=3, num_choices=5)
    strategy = LocalSearch(space, seed=3)
    start = strategy.ask()
    strategy.tell(start, Result(), 0.5)
    asked = [strategy.ask() for _ in range(15)]  # 12 neighbours, then random architectures
    assert all(_differences(a, start) == 1 for a in asked[:12])
    assert all(_differences(a, start) > 1 for a in asked[12:])
    for arch, reward in zip(asked[12:], (0.1, 0.3, 0.2), strict=True):
        strategy.tell(arch, Result(), reward)
    assert [r for _, r in strategy.starts] == [0.1, 0.3, 0.2]
    for arch in asked[:12]:
        strategy.tell(arch, Result(), 0.0)
    assert strategy.num_restarts == 1 and strategy.center == (asked[13], 0.3)  # the best candidate


def test_num_init_starts_from_the_best_of_several_random_architectures():
    space = GridSpace()
    landscape = Landscape(space)
    strategy = LocalSearch(space, seed=0, num_init=5)
    told = Driver(strategy, space, landscape).step(5)
    assert strategy.center == max(told, key=lambda t: t[1])


def test_works_on_spaces_with_links_and_variable_length():
    for space, reward in ((ToyLayerSpace(), fraction_3x3), (BranchingSpace(), lambda a: a.values[0] / 3)):
        strategy = LocalSearch(space, seed=1)
        Driver(strategy, space, reward, in_flight=4, fail_every=7).step(60)
        assert strategy.num_moves + strategy.num_restarts > 0


def test_resumes_identically_with_asks_outstanding_and_failures():
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: LocalSearch(space, seed=seed),
        space,
        Landscape(space),
        before=30,
        after=40,
        in_flight=3,
        fail_every=6,
    )


def test_bad_num_init_is_rejected():
    with pytest.raises(ConfigError, match="num_init"):
        LocalSearch(GridSpace(), num_init=0)
