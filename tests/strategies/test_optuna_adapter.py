from __future__ import annotations

import sys

import pytest
from synthetic import BranchingSpace, Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from conftest import ToyLayerSpace, fraction_3x3

optuna = pytest.importorskip("optuna")
from archsearch.strategies.optuna_adapter import OptunaStrategy  # noqa: E402


def test_each_decision_is_one_named_suggestion_and_links_are_booleans():
    space = ToyLayerSpace(num_layers=2)
    strategy = OptunaStrategy(space, seed=0, sampler="random")
    arch = strategy.ask()
    strategy.tell(arch, Result(), 0.5)
    (trial,) = strategy.study.trials
    assert set(trial.params) == {
        "layer0.filter_h",
        "layer0.filter_w",
        "layer1.inputs[0]",
        "layer1.filter_h",
        "layer1.filter_w",
    }
    assert trial.params["layer1.inputs[0]"] == (arch.values[3] == (0,))
    assert trial.params["layer0.filter_h"] == arch.values[1]
    assert trial.value == 0.5


def test_numeric_only_samplers_get_integer_indices():
    space = GridSpace(num_decisions=2, num_choices=4)
    strategy = OptunaStrategy(space, seed=0, sampler="qmc")
    strategy.tell(strategy.ask(), Result(), 0.1)
    distribution = strategy.study.trials[0].distributions["x0"]
    assert isinstance(distribution, optuna.distributions.IntDistribution)
    assert (distribution.low, distribution.high) == (0, 3)


def test_failed_trials_are_told_as_fail():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = OptunaStrategy(space, seed=0)
    strategy.tell(strategy.ask(), Result.failure("oom"), 0.0)
    assert strategy.study.trials[0].state == optuna.trial.TrialState.FAIL


def test_asks_before_tells_in_any_order_with_duplicates():
    space = GridSpace(num_decisions=1, num_choices=2)
    strategy = OptunaStrategy(space, seed=0, sampler="random")
    archs = [strategy.ask() for _ in range(6)]
    assert len(set(archs)) < 6
    for arch in reversed(archs):
        strategy.tell(arch, Result(), float(arch.values[0]))
    assert [t.params["x0"] for t in strategy.study.trials] == [a.values[0] for a in archs]
    assert [t.value for t in strategy.study.trials] == [float(a.values[0]) for a in archs]
    assert not strategy.pending


def test_a_result_told_without_an_ask_becomes_a_trial_with_its_parameters():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = OptunaStrategy(space, seed=0)
    strategy.tell(Architecture("grid", (2, 1)), Result(), 0.7)
    (trial,) = strategy.study.trials
    assert trial.params == {"x0": 2, "x1": 1} and trial.value == 0.7


def test_sampler_options_reach_the_sampler_and_bad_ones_are_config_errors():
    strategy = OptunaStrategy(GridSpace(), seed=0, sampler="tpe", n_startup_trials=3)
    assert strategy.study.sampler._n_startup_trials == 3
    with pytest.raises(ConfigError, match="bad options for optuna sampler 'tpe'"):
        OptunaStrategy(GridSpace(), sampler="tpe", no_such_option=1)
    with pytest.raises(ConfigError, match="unknown optuna sampler 'smac'; known: bruteforce, cmaes"):
        OptunaStrategy(GridSpace(), sampler="smac")


def test_missing_packages_say_how_to_install_them(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmaes", None)
    with pytest.raises(ConfigError, match="sampler 'cmaes' needs cmaes: pip install cmaes"):
        OptunaStrategy(GridSpace(), sampler="cmaes")
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match="pip install optuna"):
        OptunaStrategy(GridSpace())


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "nsgaii", "qmc", "random"])
def test_samplers_run_on_spaces_with_links_and_variable_length(sampler):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
    for space, reward in ((ToyLayerSpace(), fraction_3x3), (BranchingSpace(), lambda a: a.values[0] / 3)):
        told = Driver(
            OptunaStrategy(space, seed=1, sampler=sampler), space, reward, in_flight=3, fail_every=5
        ).step(12)
        assert len(told) == 12


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_resumes_identically_by_replay(sampler):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: OptunaStrategy(space, seed=seed, sampler=sampler, n_startup_trials=4),
        space,
        Landscape(space),
        before=10,
        after=8,
        in_flight=3,
        fail_every=4,
    )
