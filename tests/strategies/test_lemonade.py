"""LEMONADE-style search: inverse-density parent selection, the front it keeps, resume."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.spaces.nb201 import NB201Space
from archsearch.strategies.lemonade import Lemonade, inverse_density_weights

GOALS = ["val_acc:max", "latency_ms:min"]


@pytest.mark.parametrize("dims", [1, 2])
def test_inverse_density_weights_equal_scipys_kde(dims):
    points = np.random.default_rng(dims).random((12, dims))
    expected = 1 / gaussian_kde(points.T)(points.T)
    assert inverse_density_weights(points) == pytest.approx(expected / expected.sum())


def test_sparse_points_are_favoured_and_degenerate_fronts_are_uniform():
    weights = inverse_density_weights(np.array([[0.0], [0.1], [0.2], [0.15], [5.0]]))
    assert np.argmax(weights) == 4
    assert inverse_density_weights(np.array([[1.0], [1.0]])).tolist() == [0.5, 0.5]
    assert inverse_density_weights(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])) == pytest.approx(
        [1 / 3] * 3
    )


def test_front_is_the_pareto_front_of_feasible_members():
    space = NB201Space()
    strategy = Lemonade(space, objectives=GOALS, constraints=["latency_ms <= 10"], initial_size=2)
    values = [(0.9, 12.0), (0.8, 3.0), (0.7, 5.0), (0.6, 1.0)]
    for i, (acc, latency) in enumerate(values):
        strategy.tell(space.from_index(i), Result(metrics={"val_acc": acc, "latency_ms": latency}), 0.0)
    assert [m.arch for m in strategy.front()] == [space.from_index(1), space.from_index(3)]


def test_children_come_from_front_parents_and_resume_exactly():
    space, evaluator = NB201Space(), TabularEvaluator(device="pixel3")
    strategy = Lemonade(space, seed=4, objectives=GOALS, initial_size=5)
    for n in range(30):
        arch = strategy.ask()
        strategy.tell(arch, evaluator.evaluate(space, arch, n), 0.0)
    front = {m.arch for m in strategy.front()}
    copy = Lemonade(space, seed=99, objectives=GOALS, initial_size=5)
    copy.load_state_dict(strategy.state_dict())
    for _ in range(10):
        child = strategy.ask()
        assert child == copy.ask()
        assert min(sum(a != b for a, b in zip(child.values, p.values, strict=True)) for p in front) == 1


def test_cheap_objectives_must_be_objectives():
    with pytest.raises(ConfigError, match="cheap_objectives"):
        Lemonade(NB201Space(), objectives=GOALS, cheap_objectives=["flops_m"])


def test_resumed_lemonade_study_equals_an_uninterrupted_one(tmp_path):
    from archsearch.study import Study
    from conftest import StopAfter, tabular_config

    def config():
        return tabular_config(
            "lemonade",
            objectives=GOALS,
            max_time_s=4_000,
            evaluator={"name": "tabular", "params": {"dataset": "cifar100", "device": "raspi4"}},
        )

    def trajectory(study):
        return [(t.number, t.arch, t.metrics.get("latency_ms")) for t in study.store.trials()]

    full = Study.create(config(), tmp_path / "full")
    full.run()
    expected = trajectory(full)
    full.close()
    cut = Study.create(config(), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([StopAfter(len(expected) // 2)])
    cut.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    assert len(expected) > 12 and trajectory(resumed) == expected
    resumed.close()
