"""Rewards of pruned results: a child stopped early scores what it reached, not what a failure scores."""

from __future__ import annotations

import pytest

from archsearch.core import Result
from archsearch.rewards import make_reward, scorable


def _pruned(**metrics: float) -> Result:
    curve = {name: [value / 2, value] for name, value in metrics.items()}
    return Result(metrics={**metrics, "resource": 2.0}, curve=curve, status="pruned", error="pruned at 2")


def test_a_pruned_result_is_scored_on_what_it_reached():
    result = _pruned(val_acc=0.6, val_ppl=40.0, latency_ms=75.0, value=3.0)
    assert not result.failed and not result.ok
    assert make_reward("acc_cubed")(result) == pytest.approx(0.6**3)
    assert make_reward("ppl_inverse_square")(result) == pytest.approx(80 / 40.0**2)
    assert make_reward("mnasnet")(result) == pytest.approx(0.6)
    assert make_reward("metric")(result) == 3.0
    assert make_reward("metric", metric="val_ppl", mode="min", window=2)(result) == -20.0


def test_failed_and_timed_out_results_still_get_the_failed_reward():
    for status in ("failed", "timeout"):
        result = Result(metrics={"val_acc": 0.9}, status=status, error="oom")
        assert make_reward("acc_cubed")(result) == 0.0
        assert make_reward("metric", metric="val_acc")(result) == -1e6


def test_a_child_pruned_before_it_reported_the_metric_gets_the_failed_reward():
    stopped = Result(status="pruned", error="stopped before its first report")
    assert not scorable(stopped, "val_acc")
    assert make_reward("acc_cubed")(stopped) == 0.0
    assert make_reward("metric", metric="val_acc", failed_reward=-5.0)(stopped) == -5.0
    # MnasNet needs both its metrics.
    assert make_reward("mnasnet")(_pruned(val_acc=0.5)) == 0.0


def test_a_pruned_result_counts_its_curve_when_the_scalar_is_missing():
    result = Result(curve={"val_acc": [0.2, 0.4]}, status="pruned")
    assert make_reward("acc_cubed", window=2)(result) == pytest.approx(0.4**3)
