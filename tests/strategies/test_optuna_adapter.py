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


def _pruned(curve: list[float], metric: str = "val_acc") -> Result:
    return Result(metrics={metric: curve[-1]}, curve={metric: curve}, status="pruned", error="pruned")


def test_pruned_trials_are_told_as_pruned_with_the_pruning_metric_per_step():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = OptunaStrategy(space, seed=0)
    strategy.set_pruning("val_loss", "min")
    strategy.tell(strategy.ask(), _pruned([0.9, 0.7, 0.8], "val_loss"), 0.1)
    (trial,) = strategy.study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    # Negated: the Optuna study maximises, so a lower loss must read higher.
    assert trial.intermediate_values == {0: -0.9, 1: -0.7, 2: -0.8}
    assert trial.value == -0.8


def test_without_the_pruning_metric_a_pruned_trial_reports_its_reward_at_the_step_it_reached():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = OptunaStrategy(space, seed=0, metric="val_f1")
    strategy.tell(strategy.ask(), _pruned([0.2, 0.3]), 0.027)
    (trial,) = strategy.study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED and trial.intermediate_values == {1: 0.027}
    with pytest.raises(ConfigError, match="pruning mode must be max or min"):
        strategy.set_pruning("val_acc", "up")


def test_pruned_trials_with_objectives_report_the_objective_metric_or_nothing():
    space = GridSpace(num_decisions=2, num_choices=3)
    one = OptunaStrategy(space, seed=0, objectives=["val_loss:min"])
    one.tell(one.ask(), _pruned([0.5, 0.4], "val_loss"), 0.0)
    assert one.study.trials[0].intermediate_values == {0: 0.5, 1: 0.4}
    two = OptunaStrategy(space, seed=0, objectives=["val_acc:max", "params:min"])
    two.tell(two.ask(), _pruned([0.5]), 0.0)
    assert two.study.trials[0].state == optuna.trial.TrialState.PRUNED
    assert two.study.trials[0].intermediate_values == {}


def test_tpe_with_pruned_trials_resumes_identically_by_replay():
    space = GridSpace(num_decisions=3, num_choices=4)
    landscape = Landscape(space)

    def drive(strategy: OptunaStrategy, count: int) -> list:
        told = []
        for n in range(count):
            arch = strategy.ask()
            value = landscape(arch)
            result = _pruned([value / 2, value]) if n % 2 else Result(metrics={"val_acc": value})
            strategy.tell(arch, result, value)
            told.append(arch)
        return told

    original = OptunaStrategy(space, seed=4, n_startup_trials=4)
    original.set_pruning("val_acc", "max")
    drive(original, 10)
    copy = OptunaStrategy(space, seed=5, n_startup_trials=4)
    copy.set_pruning("val_acc", "max")
    copy.load_state_dict(original.state_dict())
    assert [t.state for t in copy.study.trials] == [t.state for t in original.study.trials]
    assert drive(copy, 6) == drive(original, 6)
