"""History: values by trial and by resource, the first value wins, which trials are live, and speed."""

from __future__ import annotations

import time

import pytest
from prune_driver import Driver

from archsearch.pruners import History, PruningService, make_pruner


def test_values_are_indexed_by_trial_and_by_resource_and_the_first_value_wins():
    history = History()
    assert history.add(0, 1.0, 0.5) and history.add(0, 2.0, 0.6) and history.add(1, 1.0, 0.4)
    assert not history.add(0, 1.0, 0.9)  # a trial run again reports the same step: the first stays
    assert history.values(0) == {1.0: 0.5, 2.0: 0.6}
    assert history.at(1.0) == {0: 0.5, 1: 0.4}
    assert list(history.arrivals(1.0)) == [0, 1]
    assert history.reached(0) == 2.0 and history.reached(7) is None
    assert history.at(5.0) == {} and history.values(9) == {}


def test_live_trials_are_the_running_ones_and_those_with_reports_awaiting_a_verdict():
    history = History()
    history.open(0)
    history.open(1)
    history.open(2)
    assert history.active() == [0, 1, 2]
    history.end(0)
    history.stop(1)
    assert history.active() == [2]
    history.add(3, 1.0, 0.5)  # a restored report of a trial that is not running: live until decided
    history.end(3)
    assert history.active() == [2, 3] and history.pending(3)
    history.decide(3, 1.0)
    assert history.active() == [2] and not history.pending(3)
    assert list(history.live_before(3)) == [2] and list(history.live_before(2)) == []
    assert history.highest == 3


def _seconds(name: str, n_trials: int) -> float:
    params = {} if name == "median" else {"min_resource": 12}
    pruner = make_pruner(name, params, metric="val_acc", mode="max", max_resource=200)
    started = time.perf_counter()
    outcome = Driver(PruningService(pruner, ordered=True), n_trials, 4, [12.0, 200.0], seed=0).run()
    assert sum(at is not None for at in outcome.pruned_at.values()) > n_trials // 4
    return time.perf_counter() - started


@pytest.mark.parametrize("name", ["asha", "median"])
def test_the_cost_of_a_decision_does_not_grow_with_the_trials_before_it(name):
    """An NB201 benchmark sends tens of thousands of tabular trials (reports at 12 and 200 epochs)
    through the pruner: four times the trials must cost about four times as much, not sixteen."""
    small = min(_seconds(name, 1500) for _ in range(2))
    large = _seconds(name, 6000)
    assert large < 9 * small, f"{name}: {small:.2f} s for 1500 trials, {large:.2f} s for 6000"
