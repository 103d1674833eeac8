"""The trial ledger: a study's trials in its store (open, finish, budget, clock), and who hears of them.

One ledger per study, used by every loop that runs its trials: ``Study.run`` (ask/tell on an executor)
and a strategy that drives its own execution (``core.DrivesExecution``: NAS-RL's parameter server on Ray).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from archsearch.config import StudyConfig
from archsearch.core import Architecture, Result, SearchSpace, TrialRecord
from archsearch.executors.base import Activity
from archsearch.store.trials import StudyStore

log = logging.getLogger(__name__)


class StudyListener(Protocol):
    """Receives progress events (the CLI's progress display is one)."""

    def trial_started(self, record: TrialRecord) -> None: ...

    def trial_finished(self, record: TrialRecord) -> None: ...


# A listener may also define ``executor_ready(workers: int, max_concurrent: int)``, called once the
# executor is up (the progress display uses it for running/queued counts), and ``watch(activity)``, given
# a function that returns the executor's ``Activity`` (which worker runs which trial); both are optional.

Tell = Callable[[float], tuple[dict[str, float], dict[str, Any] | None]]
"""Given a finished trial's reward, tells the strategy; returns the scalars to record with the trial
(``Strategy.progress``) and the strategy checkpoint to store with it (None: none this time)."""


def trial_seed(study_seed: int, number: int) -> int:
    """The seed of trial ``number``: independent of execution order, so results are reproducible."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] & 0x7FFFFFFF)


class TrialLedger:
    """The bookkeeping of a study's trials, kept in its store.

    It numbers trials and events (each ask and tell is one event, in order; resume replays them), writes
    a trial's running row before it starts (``open``) and finishes it with its result, reward and the
    strategy's checkpoint in one transaction (``finish``), keeps the budget (``n_trials`` and
    ``max_time_s`` on the wall or the cost clock: ``time_left``, ``budget_finished``) and tells the
    listeners. ``next_number``, ``event`` and ``spent_cost`` are what it has counted so far.
    """

    def __init__(
        self, store: StudyStore, space: SearchSpace, config: StudyConfig, reward_fn: Callable[[Result], float]
    ) -> None:
        self.store = store
        self.space = space
        self.config = config
        self.reward_fn = reward_fn
        self.next_number = 0  # the number of the next trial opened
        self.event = -1  # the last ask or tell recorded
        self.spent_cost = 0.0  # summed cost_s of finished trials: the simulated clock of tabular studies
        self.elapsed_before = float(store.get_meta("elapsed_s", 0.0))  # wall seconds of earlier runs
        self.listeners: Sequence[StudyListener] = ()
        self._started: float | None = None  # time.monotonic() when this run started

    # -- resume -------------------------------------------------------------------------------------
    def resume(self, trials: Sequence[TrialRecord]) -> None:
        """Count on from the store's ``trials``: the next number, the last event and the cost spent."""
        events = [t.ask_event for t in trials] + [t.tell_event for t in trials if t.tell_event is not None]
        self.event = max(events, default=-1)
        self.next_number = len(trials)
        self.spent_cost = sum(t.cost_s or 0.0 for t in trials if t.finished)

    # -- the clock and the budget -------------------------------------------------------------------
    @contextmanager
    def running(self, listeners: Sequence[StudyListener] = ()) -> Iterator[TrialLedger]:
        """The study runs inside: its wall clock counts, ``listeners`` hear of its trials, and on the way
        out (also on an error or Ctrl-C) its elapsed time is stored (meta ``elapsed_s``)."""
        self.listeners, self._started = listeners, time.monotonic()
        try:
            yield self
        finally:
            self.elapsed_before = self.elapsed()
            self.store.set_meta("elapsed_s", self.elapsed_before)
            self.listeners, self._started = (), None

    def elapsed(self) -> float:
        """Wall seconds this study has run, earlier runs included."""
        now = 0.0 if self._started is None else time.monotonic() - self._started
        return self.elapsed_before + now

    def time_left(self) -> float | None:
        """Seconds left of ``max_time_s`` on the study's clock (wall, or summed trial costs with
        ``clock: cost``); None without a time limit."""
        limit = self.config.max_time_s
        if limit is None:
            return None
        used = self.spent_cost if self.config.clock == "cost" else self.elapsed()
        return max(0.0, limit - used)

    def budget_finished(self) -> bool:
        """Whether no further trial may be opened: ``n_trials`` are, or the time budget is spent."""
        return self.next_number >= self.config.n_trials or self.time_left() == 0.0

    def reserve(self, count: int) -> list[int]:
        """Numbers for up to ``count`` trials to ``open`` later (fewer where ``n_trials`` is reached)."""
        count = max(0, min(count, self.config.n_trials - self.next_number))
        numbers = list(range(self.next_number, self.next_number + count))
        self.next_number += count
        return numbers

    # -- trials -------------------------------------------------------------------------------------
    def open(self, arch: Architecture, number: int | None = None) -> TrialRecord:
        """Check ``arch`` and write its trial's running row (as the next event) before it starts.

        ``number`` is one that ``reserve`` gave; None takes the next number.
        """
        self.space.validate(arch)
        if number is None:
            number = self.next_number
            self.next_number += 1
        self.event += 1
        record = TrialRecord(
            number=number,
            arch=arch,
            arch_str=self.space.encode(arch),
            seed=trial_seed(self.config.seed, number),
            status="running",
            ask_event=self.event,
            started_at=time.time(),
        )
        self.store.add_trial(number, arch, record.arch_str, record.seed, self.event)
        return record

    def started(self, record: TrialRecord) -> None:
        """Tell the listeners that ``record``'s evaluation started."""
        for listener in self.listeners:
            listener.trial_started(record)

    def finish(self, record: TrialRecord, result: Result, tell: Tell) -> float:
        """Finish ``record`` with ``result``: its reward (the study's reward function), ``tell(reward)``
        (the strategy hears of it), then its row, the recorded scalars, the checkpoint and the trained
        weights (kept among the best) in one transaction, as the next event; the listeners hear of it.
        Returns the reward."""
        weights, result.weights = result.weights, None  # stored below if among the best; not kept in memory
        reward = self.reward_fn(result)
        self.spent_cost += result.cost_s
        info, checkpoint = tell(reward)
        self.event += 1
        self.store.finish_trial(
            record.number, result, reward, self.event, info, checkpoint, weights, self.config.keep_weights
        )
        record.status, record.reward, record.tell_event = result.status, reward, self.event
        record.metrics, record.curve, record.cost_s, record.error = (
            result.metrics,
            result.curve,
            result.cost_s,
            result.error,
        )
        record.info, record.finished_at = info, time.time()
        for listener in self.listeners:
            listener.trial_finished(record)
        return reward

    def worker_died(self, record: TrialRecord, deaths: int, error: BaseException) -> Result | None:
        """After the worker running ``record`` died for the ``deaths``-th time: None to run it again (same
        seed), or, once ``max_retries`` are spent, the failed Result "worker died N times: ..."."""
        if deaths > self.config.max_retries:
            return Result.failure(f"worker died {deaths} times: {error}")
        log.warning(
            "trial %d: %s; retrying (%d of %d)", record.number, error, deaths, self.config.max_retries
        )
        return None

    def executor_ready(self, workers: int, max_concurrent: int, activity: Callable[[], Activity]) -> None:
        """Tell the listeners that have these optional hooks how many trials run at once
        (``executor_ready``) and how to see which worker runs which (``watch``)."""
        for listener in self.listeners:
            ready = getattr(listener, "executor_ready", None)
            if ready is not None:
                ready(workers, max_concurrent)
            watch = getattr(listener, "watch", None)
            if watch is not None:
                watch(activity)
