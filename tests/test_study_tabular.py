"""Tabular studies: a resumed NB201 search ends exactly where an uninterrupted one does."""

from __future__ import annotations

import pytest

from archsearch.study import Study
from conftest import StopAfter, tabular_config

STRATEGIES = ["random", "reinforce", "evolution", "ppo", "asng", "local_search", "categorical_reinforce"]


def _trajectory(study: Study) -> list[tuple]:
    return [(t.number, t.arch, t.reward, t.cost_s) for t in study.store.trials()]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resumed_tabular_study_equals_an_uninterrupted_one(tmp_path, strategy):
    full = Study.create(tabular_config(strategy), tmp_path / "full")
    full.run()
    expected = _trajectory(full)
    full.close()
    assert 15 < len(expected) < 60

    cut = Study.create(tabular_config(strategy), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([StopAfter(len(expected) // 2)])
    cut.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    assert _trajectory(resumed) == expected
    resumed.close()
