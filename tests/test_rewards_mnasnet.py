"""The MnasNet reward ACC * (LAT / T) ** w against hand-computed values."""

from __future__ import annotations

import pytest

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.rewards import make_reward, mnasnet_reward
from archsearch.study import Study
from conftest import tabular_config


def _result(acc: float, latency: float) -> Result:
    return Result(metrics={"val_acc": acc, "latency_ms": latency})


def test_soft_constraint_by_hand():
    soft = make_reward("mnasnet", target=75.0)
    # twice the target: 0.8 * 2 ** -0.07 = 0.8 * 0.952638 = 0.762110
    assert soft(_result(0.8, 150.0)) == pytest.approx(0.762110, abs=1e-6)
    # half the target is rewarded: 0.8 * 0.5 ** -0.07 = 0.8 * 1.049717 = 0.839774
    assert soft(_result(0.8, 37.5)) == pytest.approx(0.839774, abs=1e-6)
    assert soft(_result(0.8, 75.0)) == pytest.approx(0.8)


def test_hard_constraint_by_hand():
    hard = make_reward("mnasnet_hard", target=10.0)
    assert hard(_result(0.9, 5.0)) == pytest.approx(0.9)  # alpha = 0: no gain below T
    assert hard(_result(0.9, 20.0)) == pytest.approx(0.45)  # beta = -1: 0.9 * (20/10) ** -1
    assert mnasnet_reward(0.5, 30.0, 10.0, 0.0, -1.0) == pytest.approx(0.5 / 3)


def test_failed_trials_and_bad_targets():
    assert make_reward("mnasnet")(Result.failure("nan")) == 0.0
    with pytest.raises(ConfigError, match="target must be positive"):
        make_reward("mnasnet", target=0)
    with pytest.raises(ConfigError, match="'latency_ms' is not among the metrics"):
        make_reward("mnasnet")(Result(metrics={"val_acc": 0.5}))


@pytest.mark.parametrize(("strategy", "reward"), [("reinforce", "mnasnet"), ("ppo", "mnasnet_hard")])
def test_reinforce_and_ppo_are_told_the_mnasnet_reward_of_the_device_latency(tmp_path, strategy, reward):
    config = tabular_config(
        strategy,
        max_time_s=3_000,
        reward={"name": reward, "params": {"target": 10.0}},
        evaluator={"name": "tabular", "params": {"dataset": "cifar100", "device": "pixel3"}},
    )
    study = Study.create(config, tmp_path / strategy)
    study.run()
    trials = study.store.trials()
    study.close()
    alpha, beta = (-0.07, -0.07) if reward == "mnasnet" else (0.0, -1.0)
    assert len(trials) > 10
    for t in trials:
        expected = mnasnet_reward(t.metrics["val_acc"], t.metrics["latency_ms"], 10.0, alpha, beta)
        assert t.reward == pytest.approx(expected)
