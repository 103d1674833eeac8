"""Optuna's multi-objective samplers through the adapter: Pareto fronts, constraints, resume by replay."""

from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.spaces.nb201 import NB201Space
from archsearch.strategies.optuna_adapter import OptunaStrategy

GOALS = ["val_acc:max", "latency_ms:min"]


def _run(strategy, evaluator, space, count):
    for n in range(count):
        arch = strategy.ask()
        strategy.tell(arch, evaluator.evaluate(space, arch, n), 0.0)


def test_nsgaii_sampler_gets_the_metrics_and_constraints_and_resumes_by_replay():
    space, evaluator = NB201Space(), TabularEvaluator(device="pixel3")
    options = {
        "sampler": "nsgaii",
        "objectives": GOALS,
        "constraints": ["latency_ms <= 8"],
        "population_size": 8,
    }
    strategy = OptunaStrategy(space, seed=2, **options)
    _run(strategy, evaluator, space, 30)
    assert strategy.study.directions[1].name == "MINIMIZE"
    best = strategy.study.best_trials
    assert best and all(len(t.values) == 2 for t in best)
    # The study's Pareto front holds feasible trials only (Optuna drops infeasible ones from best_trials).
    assert all(t.values[1] <= 8 for t in best)
    copy = OptunaStrategy(space, seed=2, **options)
    copy.load_state_dict(strategy.state_dict())
    assert [strategy.ask() for _ in range(5)] == [copy.ask() for _ in range(5)]


def test_single_objective_samplers_refuse_several_objectives():
    with pytest.raises(ConfigError, match="optimises one objective"):
        OptunaStrategy(NB201Space(), sampler="cmaes", objectives=GOALS)
