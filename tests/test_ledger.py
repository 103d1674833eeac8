"""The trial ledger: trials opened and finished in the store, the budget, the clock, the listeners."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from archsearch.core import Architecture, DrivesExecution, Result, Strategy
from archsearch.executors.base import WorkerDiedError
from archsearch.study import Study
from conftest import toy_config


class Heard:
    """A listener that notes what it hears."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.ready: tuple[int, int] | None = None

    def trial_started(self, record) -> None:
        self.events.append(("started", record.number))

    def trial_finished(self, record) -> None:
        self.events.append(("finished", record.number))

    def executor_ready(self, workers: int, max_concurrent: int) -> None:
        self.ready = (workers, max_concurrent)


def _study(tmp_path, **overrides) -> Study:
    return Study.create(toy_config(strategy={"name": "random"}, **overrides), tmp_path / "s")


def _arch(study: Study, seed: int = 0) -> Architecture:
    return study.space.sample(np.random.default_rng(seed))


def test_a_trial_opened_then_finished_is_recorded_with_its_reward_info_and_checkpoint(tmp_path, toy_registry):
    study = _study(tmp_path)
    ledger, heard, told = study.ledger, Heard(), []

    def tell(reward: float) -> tuple[dict[str, float], dict[str, Any] | None]:
        told.append(reward)
        return {"baseline": 0.5}, {"step": 1}

    with ledger.running([heard]):
        record = ledger.open(_arch(study))
        ledger.started(record)
        assert study.store.trials()[0].status == "running"
        reward = ledger.finish(record, Result(metrics={"val_acc": 0.8}, cost_s=2.0), tell)
    trial = study.store.trials()[0]
    assert told == [reward] and trial.reward == reward == study.reward_fn(Result(metrics={"val_acc": 0.8}))
    assert (trial.status, trial.info, trial.ask_event, trial.tell_event) == ("ok", {"baseline": 0.5}, 0, 1)
    assert record.reward == reward and record.tell_event == 1
    assert study.store.latest_checkpoint() == (1, {"step": 1})
    assert heard.events == [("started", 0), ("finished", 0)]
    assert ledger.spent_cost == 2.0
    study.close()


def test_reserve_gives_numbers_up_to_n_trials_and_then_the_budget_is_finished(tmp_path, toy_registry):
    study = _study(tmp_path, n_trials=5)
    ledger = study.ledger
    assert ledger.reserve(3) == [0, 1, 2]
    assert not ledger.budget_finished()
    assert ledger.reserve(3) == [3, 4]
    assert ledger.budget_finished() and ledger.reserve(1) == []
    study.close()


def test_the_cost_clock_counts_the_finished_trials_costs(tmp_path, toy_registry):
    study = _study(tmp_path, max_time_s=5.0, clock="cost")
    ledger = study.ledger
    assert ledger.time_left() == 5.0
    with ledger.running():
        for seed in range(2):
            ledger.finish(
                ledger.open(_arch(study, seed)), Result({"val_acc": 0.5}, cost_s=3.0), lambda r: ({}, None)
            )
    assert ledger.time_left() == 0.0 and ledger.budget_finished()
    study.close()


def test_without_a_time_limit_there_is_no_time_left_to_count(tmp_path, toy_registry):
    study = _study(tmp_path)
    assert study.ledger.time_left() is None
    study.close()


def test_the_elapsed_time_is_stored_also_when_the_run_stops_on_an_error(tmp_path, toy_registry):
    study = _study(tmp_path)
    with pytest.raises(KeyboardInterrupt), study.ledger.running():
        raise KeyboardInterrupt
    assert study.store.get_meta("elapsed_s") >= 0.0
    assert study.ledger.listeners == ()
    study.close()


def test_a_trial_whose_worker_died_is_retried_max_retries_times_then_failed(tmp_path, toy_registry):
    study = _study(tmp_path, max_retries=2)
    record = study.ledger.open(_arch(study))
    died = WorkerDiedError("killed")
    assert study.ledger.worker_died(record, 2, died) is None
    failure = study.ledger.worker_died(record, 3, died)
    assert (
        failure is not None and failure.status == "failed" and failure.error == "worker died 3 times: killed"
    )
    study.close()


class DrivingStrategy(Strategy):
    """Runs the study itself through its ledger (each trial's reward is its number), or declines."""

    def __init__(self, space: Any, drives: bool) -> None:
        self.space, self.drives = space, drives
        self.asked = 0

    def drive(self, study: Any, listeners: Any, executor: Any) -> bool:
        if not self.drives:
            return False
        ledger = study.ledger
        with ledger.running(listeners):
            ledger.executor_ready(1, 1, study.activity)
            while not ledger.budget_finished():
                record = ledger.open(study.space.sample(np.random.default_rng(ledger.next_number)))
                ledger.started(record)
                ledger.finish(
                    record, study.evaluator.evaluate(study.space, record.arch, record.seed), self._tell
                )
        return True

    def _tell(self, reward: float) -> tuple[dict[str, float], dict[str, Any] | None]:
        return {"driven": 1.0}, None

    def ask(self) -> Architecture:
        self.asked += 1
        return self.space.sample(np.random.default_rng(self.asked))

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def test_a_strategy_that_drives_its_execution_runs_the_study_through_the_ledger(tmp_path, toy_registry):
    study = _study(tmp_path, n_trials=3)
    study.strategy = strategy = DrivingStrategy(study.space, drives=True)
    assert isinstance(strategy, DrivesExecution)
    heard = Heard()
    study.run([heard])
    trials = study.store.trials()
    assert [t.number for t in trials] == [0, 1, 2] and all(t.info == {"driven": 1.0} for t in trials)
    assert heard.ready == (1, 1) and len(heard.events) == 6
    assert strategy.asked == 0
    study.close()


def test_a_strategy_that_declines_to_drive_is_asked_and_told_by_the_study(tmp_path, toy_registry):
    study = _study(tmp_path, n_trials=2)
    study.strategy = strategy = DrivingStrategy(study.space, drives=False)
    study.run()
    assert strategy.asked == 2 and [t.info for t in study.store.trials()] == [{}, {}]
    study.close()


def test_a_budget_set_on_the_study_is_the_one_its_ledger_keeps(tmp_path, toy_registry):
    study = _study(tmp_path, n_trials=1)
    study.config = study.config.model_copy(update={"n_trials": 3})
    assert study.ledger.reserve(5) == [0, 1, 2]
    study.close()
