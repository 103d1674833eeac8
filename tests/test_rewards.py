from __future__ import annotations

import math

import pytest

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.rewards import make_reward


def test_acc_cubed_uses_the_best_of_the_last_five_epochs():
    reward = make_reward("acc_cubed")
    result = Result(curve={"val_acc": [0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 0.85]})
    assert reward(result) == pytest.approx(0.9**3)  # 0.99 is six epochs back
    assert reward(Result.failure("nan")) == 0.0


def test_perplexity_reward_is_c_over_ppl_squared():
    reward = make_reward("ppl_inverse_square")
    assert reward(Result(metrics={"val_ppl": 80.0})) == pytest.approx(80 / 80**2)
    assert reward(Result(curve={"val_ppl": [200.0, 100.0]}, metrics={"val_ppl": 100.0})) == pytest.approx(
        0.008
    )
    assert make_reward("ppl_inverse_square", c=1.0, window=2)(Result(curve={"val_ppl": [10.0, 20.0]})) == 0.01


def test_unknown_reward_names_and_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown reward 'acc'"):
        make_reward("acc")
    with pytest.raises(ConfigError, match="bad options"):
        make_reward("acc_cubed", windows=3)
    with pytest.raises(ConfigError, match="not among the metrics"):
        make_reward("acc_cubed", metric="f1")(Result(metrics={"val_acc": 0.5}))


def test_metric_reward_is_the_metric_maximised_or_minus_the_metric_minimised():
    result = Result(metrics={"value": 2.5, "val_rmse": 4.0}, curve={"val_rmse": [9.0, 3.0, 4.0]})
    assert make_reward("metric")(result) == 2.5  # metric "value", mode max by default
    assert make_reward("metric", metric="val_rmse", mode="min")(result) == -4.0
    assert make_reward("metric", metric="val_rmse", mode="min", window=2)(result) == -3.0
    assert make_reward("metric", metric="val_rmse", mode="max", window=3)(result) == 9.0


def test_metric_reward_minimises_costs_and_errors_unless_told_otherwise():
    result = Result(metrics={"val_rmse": 4.0, "val_f1": 0.5, "params": 10.0})
    assert make_reward("metric", metric="val_rmse")(result) == -4.0
    assert make_reward("metric", metric="params")(result) == -10.0
    assert make_reward("metric", metric="val_f1")(result) == 0.5
    with pytest.raises(ConfigError, match="auto, max or min"):
        make_reward("metric", metric="val_f1", mode="up")


def test_metric_reward_ranks_failed_trials_below_every_real_one_with_a_finite_number():
    for mode in ("max", "min"):
        reward = make_reward("metric", metric="rmse", mode=mode)
        failed = reward(Result.failure("loss became nan"))
        assert math.isfinite(failed)
        assert failed < reward(Result(metrics={"rmse": 1e5})) and failed < reward(
            Result(metrics={"rmse": -1e5})
        )
        assert reward(Result(metrics={"rmse": float("nan")})) == failed
        assert reward(Result.failure("too slow", status="timeout")) == failed
    assert make_reward("metric", failed_reward=0.0)(Result.failure("x")) == 0.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "maximize"}, "mode must be auto, max or min"),
        ({"metric": ""}, "needs a metric name"),
        ({"window": -1}, "window must be an integer >= 0"),
        ({"failed_reward": float("-inf")}, "failed_reward must be a finite number"),
        ({"failed_reward": "low"}, "failed_reward must be a finite number"),
    ],
)
def test_metric_reward_options_are_checked(params, message):
    with pytest.raises(ConfigError, match=message):
        make_reward("metric", **params)


def test_metric_reward_names_a_missing_metric():
    with pytest.raises(ConfigError, match="reward's metric 'f1' is not among the metrics"):
        make_reward("metric", metric="f1")(Result(metrics={"value": 1.0}))
