from __future__ import annotations

import numpy as np
import pytest
from synthetic import BranchingSpace, Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from archsearch.strategies import asng_math
from archsearch.strategies.asng import ASNG
from conftest import ToyLayerSpace


def test_one_pair_makes_the_hand_computed_step():
    space = GridSpace(num_decisions=2, num_choices=4)
    strategy = ASNG(space, seed=0)
    a, b = Architecture("grid", (0, 3)), Architecture("grid", (2, 0))
    strategy.tell(a, Result(), 0.9)  # told without asks: they form one group
    assert strategy.num_updates == 0
    strategy.tell(b, Result(), 0.2)
    k = np.array([4, 4])
    expected, step = asng_math.asng_step(
        asng_math.uniform_theta(k),
        asng_math.StepSize.initial(6),
        asng_math.one_hot(np.array([[0, 3], [2, 0]]), k),
        np.array([-0.9, -0.2]),
        k,
    )
    assert strategy.num_updates == 1
    assert strategy.theta == pytest.approx(expected)
    assert strategy.step.delta == pytest.approx(step.delta)
    assert strategy.theta[0, 0] > 0.25 and strategy.theta[1, 3] > 0.25  # moved towards the better sample


def test_asks_beyond_a_pair_start_the_next_pair_and_tells_in_any_order_complete_them():
    space = GridSpace()
    strategy = ASNG(space, seed=1)
    archs = [strategy.ask() for _ in range(5)]  # pairs (0, 1), (2, 3) and half of (4, 5)
    assert sorted(strategy.batches) == [0, 1, 2]
    landscape = Landscape(space)
    for i in (3, 0, 4):
        strategy.tell(archs[i], Result(), landscape(archs[i]))
    assert strategy.num_updates == 0
    strategy.tell(archs[2], Result(), landscape(archs[2]))
    assert strategy.num_updates == 1 and sorted(strategy.batches) == [0, 2]
    strategy.tell(archs[1], Result(), landscape(archs[1]))
    assert strategy.num_updates == 2 and sorted(strategy.batches) == [2]


def test_duplicate_asks_are_matched_in_order():
    space = GridSpace(num_decisions=1, num_choices=2)
    strategy = ASNG(space, seed=0)
    archs = [strategy.ask() for _ in range(6)]
    assert len(set(archs)) < len(archs)
    for arch in archs:
        strategy.tell(arch, Result(), float(arch.values[0]))
    assert strategy.num_updates == 3 and not strategy.pending and not strategy.batches


def test_failed_trials_rank_below_successful_ones():
    space = GridSpace(num_decisions=2, num_choices=4)
    strategy = ASNG(space, seed=0)
    strategy.tell(Architecture("grid", (0, 0)), Result(), -5.0)  # a negative reward still beats a failure
    strategy.tell(Architecture("grid", (1, 1)), Result.failure("nan"), 0.0)
    assert strategy.theta[0, 0] > strategy.theta[0, 1]


def test_concentrates_on_the_optimum_of_a_separable_landscape():
    space = GridSpace(num_decisions=6, num_choices=5)
    landscape = Landscape(space, seed=3, interaction=0.0)
    strategy = ASNG(space, seed=0)
    Driver(strategy, space, landscape, in_flight=4).step(400)
    assert landscape(strategy.most_likely()) == 1.0
    assert strategy.theta.max(axis=1).min() > 0.5


def test_resumes_identically_with_asks_outstanding_and_failures():
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: ASNG(space, seed=seed),
        space,
        Landscape(space),
        before=13,
        after=20,
        in_flight=3,
        fail_every=5,
    )


def test_spaces_it_cannot_describe_are_rejected_clearly():
    with pytest.raises(ConfigError, match="asng needs a space of categorical decisions"):
        ASNG(ToyLayerSpace())
    with pytest.raises(ConfigError, match="asng needs a fixed sequence"):
        ASNG(BranchingSpace())


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"lam": 1}, "lam"), ({"delta_init": 0}, "delta"), ({"alpha": 0}, "alpha")]
)
def test_bad_hyperparameters_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ASNG(GridSpace(), **kwargs)
