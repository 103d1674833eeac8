"""Tabular studies: a resumed NB201 search ends exactly where an uninterrupted one does."""

from __future__ import annotations

import pytest

from archsearch.config import parse_config
from archsearch.study import Study

STRATEGIES = ["random", "reinforce", "evolution", "ppo", "asng", "local_search", "categorical_reinforce"]


def _config(strategy: str):
    return parse_config(
        {
            "seed": 3,
            "n_trials": 100_000,
            "max_time_s": 6_000,
            "clock": "cost",
            "executor": "inline",
            "space": {"name": "nb201"},
            "strategy": {"name": strategy},
            "evaluator": {"name": "tabular", "params": {"dataset": "cifar100"}},
            "reward": {"name": "acc_cubed", "params": {"power": 1}},
        }
    )


class _StopAfter:
    def __init__(self, count: int) -> None:
        self.count = count

    def trial_started(self, record) -> None:
        pass

    def trial_finished(self, record) -> None:
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def _trajectory(study: Study) -> list[tuple]:
    return [(t.number, t.arch, t.reward, t.cost_s) for t in study.store.trials()]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resumed_tabular_study_equals_an_uninterrupted_one(tmp_path, strategy):
    full = Study.create(_config(strategy), tmp_path / "full")
    full.run()
    expected = _trajectory(full)
    full.close()
    assert 15 < len(expected) < 60

    cut = Study.create(_config(strategy), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([_StopAfter(len(expected) // 2)])
    cut.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    assert _trajectory(resumed) == expected
    resumed.close()
