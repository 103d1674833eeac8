"""Study: one run of a search. Wires space, strategy, evaluator, executor and store; owns the budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from archsearch.config import StudyConfig, parse_config
from archsearch.core import Architecture, Evaluator, Result, SearchSpace, Strategy, TrialRecord
from archsearch.errors import StoreError
from archsearch.executors.base import Activity, Executor, WorkerDiedError
from archsearch.registry import accepts, construct
from archsearch.rewards import make_reward
from archsearch.store.codec import StateFormatError
from archsearch.store.rundir import new_run, open_run, unfinished, unfinished_error
from archsearch.store.runlock import RunLock, hold
from archsearch.store.sqlite import Store

log = logging.getLogger(__name__)


class StudyListener(Protocol):
    """Receives progress events (the CLI's progress display is one)."""

    def trial_started(self, record: TrialRecord) -> None: ...

    def trial_finished(self, record: TrialRecord) -> None: ...


# A listener may also define ``executor_ready(workers: int, max_concurrent: int)``, called once the
# executor is up (the progress display uses it for running/queued counts), and ``watch(activity)``, given
# a function that returns the executor's ``Activity`` (which worker runs which trial); both are optional.


def trial_seed(study_seed: int, number: int) -> int:
    """The seed of trial ``number``: independent of execution order, so results are reproducible."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] & 0x7FFFFFFF)


def make_executor(config: StudyConfig) -> Executor:
    if config.executor == "inline":
        from archsearch.executors.inline import InlineExecutor

        return InlineExecutor()
    if config.executor == "ray":
        from archsearch.executors.ray import RayExecutor

        return RayExecutor(address=config.ray_address, num_cpus=config.workers)
    from archsearch.executors.pool import PoolExecutor

    return PoolExecutor(config.workers)


@dataclass
class _InFlight:
    record: TrialRecord
    future: Future[Result]
    deaths: int = 0  # times the worker running this trial died


class Study:
    """A search in a directory: ``Study.create(config, dir).run()``, later ``Study.load(dir).run()``.

    The store is the source of truth: a trial row is written before its evaluation starts and finished
    together with the strategy checkpoint. ``run`` on a study that was interrupted (even by kill -9)
    restores the latest checkpoint, replays the asks and tells recorded after it, re-queues the trials
    that were running, and continues; no finished trial is lost or repeated.
    """

    def __init__(self, config: StudyConfig, directory: Path, store: Store) -> None:
        self.config = config
        self.directory = directory
        self.store = store
        self.space: SearchSpace = construct("space", config.space.name, config.space.params)
        # Multi-objective strategies (nsga2, lemonade, optuna) take the study's objectives and constraints.
        goals = (
            {"objectives": config.objectives, "constraints": config.constraints}
            if accepts("strategy", config.strategy.name, "objectives")
            else {}
        )
        self.strategy: Strategy = construct(
            "strategy",
            config.strategy.name,
            config.strategy.params,
            space=self.space,
            seed=config.seed,
            **goals,
        )
        self.evaluator: Evaluator = construct("evaluator", config.evaluator.name, config.evaluator.params)
        self.reward_fn = make_reward(config.reward.name, **config.reward.params)
        self.event = -1
        self.num_asked = 0
        self.elapsed_before = float(store.get_meta("elapsed_s", 0.0))
        self.spent_cost = 0.0  # summed cost_s of finished trials: the simulated clock of tabular studies
        self._activity: Callable[[], Activity] = Activity
        self.lock: RunLock | None = None  # held while this process creates or runs the study

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: StudyConfig, directory: str | Path, overwrite: bool = False) -> Study:
        """Start a study in ``directory``; a failed start removes only what it made (rundir.py)."""
        directory = Path(directory)
        occupied = (
            f"{directory} already holds a study; continue it with `archsearch resume {directory}` "
            "or pass --overwrite"
        )
        with new_run(directory, "search", overwrite, occupied) as run:
            study = cls(config, directory, run.store)
            study.evaluator.prepare()
            run.store.set_meta("config", config.model_dump(mode="json"))
            run.store.set_meta("space_name", study.space.name)
            run.store.set_meta("created_at", time.time())
            study.store, study.lock = run.publish(), run.lock
        return study

    @classmethod
    def load(cls, directory: str | Path, lock: bool = False, read_only: bool = False) -> Study:
        """The study in ``directory``; ``lock`` makes this process its one driver (to run it) at once;
        ``read_only`` opens its database without writing a byte (status, best, report, export, front)."""
        directory = Path(directory)
        with open_run(directory, lock, read_only) as (store, held):
            data = store.get_meta("config")
            if data is None:
                raise (
                    unfinished_error(directory)
                    if unfinished(store)
                    else StoreError(f"{directory} has a database but no study config")
                )
            study = cls(parse_config(data), directory, store)
        study.lock = held
        return study

    def take_lock(self) -> None:
        """Become the one process driving this study (RunInUseError naming the one that is, if any)."""
        self.lock = hold(self.lock, self.directory)

    def close(self) -> None:
        self.store.close()
        if self.lock is not None:
            self.lock.release()

    # -- the loop -----------------------------------------------------------------------------------
    def run(self, listeners: Sequence[StudyListener] = (), executor: Executor | None = None) -> None:
        """Run (or continue) until ``n_trials`` trials are finished or the time budget is spent."""
        self.take_lock()
        # a strategy may run the loop itself (nasrl_ps on Ray: shard and replica actors); it says if it did
        drive = getattr(self.strategy, "drive", None)
        if drive is not None and drive(self, listeners, executor):
            return
        own_executor = executor is None
        self.evaluator.prepare()
        running = self._restore()
        if self._finished_budget() and not running:
            return
        executor = executor or make_executor(self.config)
        max_concurrent = self.config.max_concurrent or executor.workers
        for listener in listeners:
            ready = getattr(listener, "executor_ready", None)
            if ready is not None:
                ready(executor.workers, max_concurrent)
        inflight: dict[int, _InFlight] = {}
        self._activity = lambda: executor.activity({n: i.future for n, i in list(inflight.items())})
        for listener in listeners:
            watch = getattr(listener, "watch", None)
            if watch is not None:
                watch(self.activity)
        started = time.monotonic()
        try:
            for record in running:
                inflight[record.number] = self._submit(executor, record, listeners)
            while True:
                while (
                    len(inflight) < max_concurrent
                    and self.num_asked < self.config.n_trials
                    and not self._time_up(started)
                ):
                    record = self._ask()
                    inflight[record.number] = self._submit(executor, record, listeners)
                if not inflight:
                    break
                number = self._next_done(inflight)
                item = inflight.pop(number)
                result = self._result_or_retry(executor, item)
                if result is None:
                    inflight[number] = item
                    continue
                self._tell(item.record, result, started)
                for listener in listeners:
                    listener.trial_finished(item.record)
        finally:
            if own_executor:
                executor.shutdown()
            self.store.set_meta("elapsed_s", self.elapsed_before + time.monotonic() - started)

    def activity(self) -> Activity:
        """Which worker runs each trial in flight (empty when the study is not running)."""
        return self._activity()

    def _finished_budget(self) -> bool:
        return self.num_asked >= self.config.n_trials

    def _time_up(self, started: float) -> bool:
        limit = self.config.max_time_s
        if limit is None:
            return False
        if self.config.clock == "cost":
            return self.spent_cost >= limit
        return self.elapsed_before + time.monotonic() - started >= limit

    def _ask(self) -> TrialRecord:
        arch = self.strategy.ask()
        self.space.validate(arch)
        self.event += 1
        number = self.num_asked
        self.num_asked += 1
        return self.open_trial(number, arch, self.event)

    def open_trial(self, number: int, arch: Architecture, event: int) -> TrialRecord:
        """Write trial ``number``'s running row (asked at ``event``) before it starts, and return it."""
        record = TrialRecord(
            number=number,
            arch=arch,
            arch_str=self.space.encode(arch),
            seed=trial_seed(self.config.seed, number),
            status="running",
            ask_event=event,
            started_at=time.time(),
        )
        self.store.add_trial(number, arch, record.arch_str, record.seed, event)
        return record

    def _submit(
        self, executor: Executor, record: TrialRecord, listeners: Sequence[StudyListener]
    ) -> _InFlight:
        for listener in listeners:
            listener.trial_started(record)
        return _InFlight(record, executor.submit(self.evaluator, self.space, record.arch, record.seed))

    def _result_or_retry(self, executor: Executor, item: _InFlight) -> Result | None:
        """The trial's Result; or None after resubmitting it (same seed) because its worker died.

        Only the death of the worker is retried, ``max_retries`` times; then the trial is a failure
        "worker died N times: ...". A failed Result from the child itself is returned as it is.
        """
        try:
            return item.future.result()
        except WorkerDiedError as exc:
            item.deaths += 1
            if item.deaths > self.config.max_retries:
                return Result.failure(f"worker died {item.deaths} times: {exc}")
            log.warning(
                "trial %d: %s; retrying (%d of %d)",
                item.record.number,
                exc,
                item.deaths,
                self.config.max_retries,
            )
            record = item.record
            item.future = executor.submit(self.evaluator, self.space, record.arch, record.seed)
            return None

    def _next_done(self, inflight: dict[int, _InFlight]) -> int:
        if self.config.ordered:
            number = min(inflight)
            wait([inflight[number].future])
            return number
        done, _ = wait([i.future for i in inflight.values()], return_when=FIRST_COMPLETED)
        return min(n for n, i in inflight.items() if i.future in done)

    def _tell(self, record: TrialRecord, result: Result, started: float) -> None:
        reward = self.reward_fn(result)
        self.spent_cost += result.cost_s
        self.strategy.tell(record.arch, result, reward)
        self.event += 1
        told = (self.store.count() - self.store.count("running")) + 1
        checkpoint = self.strategy.state_dict() if told % self.config.checkpoint_every == 0 else None
        info = self.strategy.progress()
        self.store.finish_trial(record.number, result, reward, self.event, info, checkpoint)
        record.status, record.reward, record.tell_event = result.status, reward, self.event
        record.metrics, record.curve, record.cost_s, record.error = (
            result.metrics,
            result.curve,
            result.cost_s,
            result.error,
        )
        record.info, record.finished_at = info, time.time()

    # -- resume -------------------------------------------------------------------------------------
    def _restore(self) -> list[TrialRecord]:
        """Bring the strategy to the state it had when the study stopped; return trials to re-run."""
        trials = self.store.trials()
        try:
            checkpoint = self.store.latest_checkpoint()
        except StateFormatError as exc:  # replaying every ask and tell from the start is exact too
            log.warning("%s; replaying the study from its first trial instead", exc)
            checkpoint = None
        since = -1
        if checkpoint is not None:
            since, state = checkpoint
            self.strategy.load_state_dict(state)
        events: list[tuple[int, str, TrialRecord]] = []
        for t in trials:
            if t.ask_event > since:
                events.append((t.ask_event, "ask", t))
            if t.tell_event is not None and t.tell_event > since:
                events.append((t.tell_event, "tell", t))
        for _, kind, t in sorted(events, key=lambda e: e[0]):
            if kind == "ask":
                replayed = self.strategy.ask()
                if replayed != t.arch:
                    log.warning("trial %d: the strategy proposes another architecture on replay", t.number)
            else:
                self.strategy.tell(t.arch, t.result(), t.reward if t.reward is not None else 0.0)
        all_events = [t.ask_event for t in trials] + [
            t.tell_event for t in trials if t.tell_event is not None
        ]
        self.event = max(all_events, default=-1)
        self.num_asked = len(trials)
        self.spent_cost = sum(t.cost_s or 0.0 for t in trials if t.finished)
        return [t for t in trials if not t.finished]

    # -- queries ------------------------------------------------------------------------------------
    def best(self) -> TrialRecord | None:
        return best_trial(self.store.trials())

    def summary(self) -> dict[str, Any]:
        trials = self.store.trials()
        return {
            "trials": len(trials),
            "finished": sum(t.finished for t in trials),
            "failed": sum(t.status in ("failed", "timeout") for t in trials),
            "n_trials": self.config.n_trials,
        }


def best_trial(trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The successful trial with the highest reward (first one on ties)."""
    ok = [t for t in trials if t.status == "ok" and t.reward is not None]
    return max(ok, key=lambda t: (t.reward, -t.number)) if ok else None
