"""BOHB: the density model finds a known additive landscape, asks each architecture once, resumes exactly,
runs asynchronously and searches any space (links, variable length, users' spaces)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import BranchingSpace, Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result, Strategy
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.registry import resolve
from archsearch.spaces.dict_space import DictSpace
from archsearch.store.sqlite import state_from_bytes, state_to_bytes
from archsearch.strategies.bohb import BOHB, categorical_density
from archsearch.strategies.random import RandomSearch
from conftest import ToyLayerSpace, fraction_3x3

DECISIONS, CHOICES, EPOCHS = 6, 4, 4
SPACE = DictSpace({f"d{i}": [f"v{k}" for k in range(CHOICES)] for i in range(DECISIONS)})


class CurveDriver:
    """An additive score on SPACE (one weight per decision and value, from ``seed``), reported as a
    rising curve over EPOCHS epochs; as under Hyperband, only every third child trains to the end and the
    others are pruned after one epoch. ``in_flight`` asks are outstanding, the oldest told first."""

    def __init__(self, strategy: Strategy, seed: int, in_flight: int = 4) -> None:
        self.strategy, self.in_flight = strategy, in_flight
        self.weights = np.random.default_rng(seed + 1000).random((DECISIONS, CHOICES))
        self.pending: list[Architecture] = []
        self.asked: list[Architecture] = []
        self.told = 0

    def score(self, arch: Architecture) -> float:
        indices = [SPACE.choices[f"d{i}"].index(v) for i, v in enumerate(arch.values)]
        return float(self.weights[np.arange(DECISIONS), indices].mean())

    def step(self, n: int) -> list[Architecture]:
        start = len(self.asked)
        for _ in range(n):
            while len(self.pending) < self.in_flight:
                arch = self.strategy.ask()
                self.pending.append(arch)
                self.asked.append(arch)
            arch = self.pending.pop(0)
            epochs = EPOCHS if self.told % 3 == 0 else 1
            curve = [self.score(arch) * (1 - 0.5 ** (e + 1)) for e in range(epochs)]
            status = "ok" if epochs == EPOCHS else "pruned"
            result = Result(metrics={"val_acc": curve[-1]}, curve={"val_acc": curve}, status=status)
            self.strategy.tell(arch, result, curve[-1])
            self.told += 1
        return self.asked[start:]

    def recovered(self, last: int = 20) -> float:
        """The fraction of decisions whose most asked value among the last ``last`` asks is the best one."""
        counts = np.zeros((DECISIONS, CHOICES))
        for arch in self.asked[-last:]:
            for i, value in enumerate(arch.values):
                counts[i, SPACE.choices[f"d{i}"].index(value)] += 1
        return float((counts.argmax(axis=1) == self.weights.argmax(axis=1)).mean())


def test_bohb_recovers_the_best_value_of_each_decision_far_more_often_than_random():
    seeds = range(8)
    bohb = [CurveDriver(BOHB(SPACE, seed=s), s) for s in seeds]
    random = [CurveDriver(RandomSearch(SPACE, seed=s), s) for s in seeds]
    for driver in bohb + random:
        driver.step(60)
    bohb_share = np.mean([d.recovered() for d in bohb])
    random_share = np.mean([d.recovered() for d in random])
    assert bohb_share >= 0.5 and bohb_share > random_share + 0.25, (bohb_share, random_share)
    # It modelled the final level (trained to the end) once enough children had reached it.
    assert all(d.strategy.progress()["model_level"] == 0 for d in bohb)


def test_the_model_is_fitted_on_the_highest_level_with_enough_observations():
    strategy = BOHB(SPACE, seed=0, min_points=3)
    driver = CurveDriver(strategy, seed=0, in_flight=1)
    driver.step(2)  # one child trained to the end (4 levels), one pruned after one
    assert strategy.model() is None and strategy.progress() == {}
    driver.step(1)  # three at level 1, one at levels 2..4 and at the end
    assert strategy.progress() == {"model_level": 1.0, "model_points": 3.0}
    driver.step(4)  # three trained to the end
    assert strategy.progress() == {"model_level": 0.0, "model_points": 3.0}
    default = BOHB(SPACE)
    CurveDriver(default, seed=0, in_flight=1).step(6)
    assert default.model() is None  # six decisions: seven points needed


def test_a_minimised_metric_ranks_the_lowest_curve_values_best():
    space = DictSpace({"x": ["a", "b", "c"]})
    strategy = BOHB(space, seed=0, min_points=3, random_fraction=0.0, metric="val_acc")
    strategy.set_pruning("val_loss", "min")
    for value, loss in (("a", 0.9), ("b", 0.1), ("c", 0.5)):
        curve = {"val_loss": [loss]}
        strategy.tell(Architecture("dict", (value,)), Result(curve=curve, status="pruned"), 0.0)
    model = strategy.model()
    assert model is not None and model.level == 1
    (ratio,) = model.log_ratio.values()
    assert int(np.argmax(ratio)) == 1  # "b", the lowest loss


def test_bohb_never_asks_an_architecture_asked_or_told_before():
    space = DictSpace({"a": [0, 1, 2], "b": [0, 1, 2], "c": [True, False]})  # 18 architectures
    strategy = BOHB(space, seed=3, min_points=2)
    warm = Architecture("dict", (2, 2, False))
    strategy.tell(warm, Result(metrics={"val_acc": 1.0}, curve={"val_acc": [1.0]}), 1.0)
    driver = Driver(strategy, space, lambda arch: float(sum(arch.values[:2])), in_flight=3)
    asked = [arch for arch, _ in driver.step(15)] + driver.pending
    assert len(asked) == 17 and len(set(asked)) == 17 and warm not in asked
    # The space has run out: the next ask repeats one rather than failing.
    space.validate(strategy.ask())


def test_many_asks_before_tells_in_any_order():
    strategy = BOHB(SPACE, seed=1)
    first = [strategy.ask() for _ in range(30)]
    assert len(set(first)) == 30 and strategy.model() is None
    driver = CurveDriver(strategy, seed=1)
    for arch in reversed(first):  # told last first, all trained to the end
        value = driver.score(arch)
        strategy.tell(arch, Result(metrics={"val_acc": value}, curve={"val_acc": [value]}), value)
    assert strategy.progress() == {"model_level": 0.0, "model_points": 30.0}
    later = [strategy.ask() for _ in range(30)]
    assert len(set(first + later)) == 60


def test_state_dict_then_continuing_equals_an_uninterrupted_run():
    original = CurveDriver(BOHB(SPACE, seed=5), seed=5)
    original.step(25)
    state = original.strategy.state_dict()
    copies = []
    for loaded in (state, state_from_bytes(state_to_bytes(state))):
        strategy = BOHB(SPACE, seed=99)
        strategy.load_state_dict(loaded)
        copy = CurveDriver(strategy, seed=5)
        copy.pending, copy.told = list(original.pending), original.told
        copies.append(copy)
    expected = original.step(20)
    assert all(copy.step(20) == expected for copy in copies)


def test_resumes_identically_with_failures_on_the_shared_landscape():
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: BOHB(space, seed=seed), space, Landscape(space), before=15, after=10, fail_every=4
    )


@pytest.mark.parametrize(
    ("space", "reward"),
    [(ToyLayerSpace(), fraction_3x3), (BranchingSpace(), lambda arch: arch.values[0] / 3)],
    ids=["links", "variable-length"],
)
def test_bohb_searches_spaces_with_links_and_variable_length(space, reward):
    strategy = BOHB(space, seed=1, min_points=4)
    told = Driver(strategy, space, reward, in_flight=3, fail_every=5).step(30)
    assert len({arch for arch, _ in told}) == 30
    assert strategy.model() is not None and strategy.num_failed == 6


def test_bohb_searches_users_model_spaces():
    from archsearch.nn import ModelSpace
    from modelspace.user_spaces import Nested

    space = ModelSpace(Nested)
    strategy = BOHB(space, seed=0, min_points=3)
    for _ in range(10):
        arch = strategy.ask()
        space.validate(arch)
        strategy.tell(arch, Result(metrics={"val_acc": 0.5}, curve={"val_acc": [0.5]}), 0.5)
    assert strategy.model() is not None


def test_bohb_is_registered_with_hyperband_as_its_pruner():
    assert resolve("strategy", "bohb") is BOHB
    assert BOHB.default_pruner == {"name": "hyperband", "params": {}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_points": 1}, "min_points must be an integer >= 2"),
        ({"top_fraction": 1.0}, "top_fraction must be between 0 and 1"),
        ({"num_samples": 0}, "num_samples must be an integer >= 1"),
        ({"random_fraction": 1.5}, "random_fraction must be between 0 and 1"),
        ({"bandwidth": 0.0}, "bandwidth must be between 0 and 1"),
        ({"bandwidth_factor": -1}, "bandwidth_factor must be positive"),
        ({"mode": "up"}, "pruning mode must be max or min"),
        ({"metric": ""}, "bohb needs a metric name"),
    ],
)
def test_bad_options_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        BOHB(SPACE, **options)


def test_the_categorical_density_is_an_aitchison_aitken_kernel_density():
    variable = ("choice", "x", (0, 1, 2))
    density = categorical_density([{variable: (0, 3)}, {variable: (0, 3)}, {variable: (2, 3)}], 0.3)
    # value 0: two points at 1 - b, one at b / 2; value 1: three at b / 2; value 2: one at 1 - b, two at b / 2
    assert density[variable] == pytest.approx([(2 * 0.7 + 0.15) / 3, 0.15, (0.7 + 2 * 0.15) / 3])
    assert sum(density[variable]) == pytest.approx(1.0)


def test_telling_an_architecture_of_another_space_fails_at_the_tell():
    strategy = BOHB(SPACE)
    with pytest.raises(InvalidArchitectureError, match="d0"):
        strategy.tell(Architecture("dict", ("v9",) * DECISIONS), Result(metrics={"val_acc": 1.0}), 1.0)
