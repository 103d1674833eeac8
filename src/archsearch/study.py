"""Study: one run of a search. Wires space, strategy, evaluator, executor and store; owns the budget."""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.config import Component, StudyConfig, parse_config
from archsearch.core import (
    Architecture,
    DrivesExecution,
    Evaluator,
    Result,
    SearchSpace,
    Strategy,
    TrialRecord,
)
from archsearch.data.user import in_run, write_npz
from archsearch.errors import ConfigError, StoreError
from archsearch.executors.base import Activity, Executor, WorkerDiedError
from archsearch.ledger import StudyListener, TrialLedger, trial_seed
from archsearch.objectives import default_direction
from archsearch.registry import accepts, construct, is_blueprint, make, record, resolve, reward_for
from archsearch.reporting import Report, last_values
from archsearch.resolve import IMPORT_DIRS, import_again, path_of
from archsearch.resolve import check_picklable as send_check
from archsearch.store.codec import StateFormatError
from archsearch.store.rundir import new_run, open_run, unfinished, unfinished_error
from archsearch.store.runlock import HeldRun, RunLock
from archsearch.store.trials import StudyStore

if TYPE_CHECKING:
    import pandas

    from archsearch.pruners import Pruner, PruningService

log = logging.getLogger(__name__)

REPORT_FLUSH_S = 0.5
"""How often a running study stores the intermediate reports received meanwhile (seconds)."""

__all__ = ["Study", "StudyListener", "best_trial", "check_picklable", "make_executor", "trial_seed"]


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


class Study(HeldRun):
    """A search in a directory: ``Study.create(config, dir).run()``, later ``Study.load(dir).run()``.

    The store is the source of truth: a trial row is written before its evaluation starts and finished
    together with the strategy checkpoint (``ledger``, a ``TrialLedger``, keeps these books). ``run`` on a
    study that was interrupted (even by kill -9) restores the latest checkpoint, replays the asks and tells
    recorded after it, re-queues the trials that were running, and continues; no finished trial is lost or
    repeated. A strategy that drives its own execution (``core.DrivesExecution``) runs it instead.
    """

    def __init__(
        self,
        config: StudyConfig,
        directory: Path,
        store: StudyStore,
        objects: Mapping[str, Any] | None = None,
    ) -> None:
        """A study of ``config`` whose database is ``store``; ``objects`` (kind -> object) are used
        instead of constructing those kinds from the config's names (``create`` with objects)."""
        self.directory = directory
        given = dict(objects or {})

        def build(kind: str, component: Component, **fixed: Any) -> Any:
            if kind in given:  # an object is used as it is; a class, function or dict is made first
                obj = given[kind]
                return (
                    make(kind, component.name, obj, component.params, **fixed) if is_blueprint(obj) else obj
                )
            # paths into the run directory (data the study was given as arrays) are resolved here
            return construct(kind, component.name, in_run(component.params, directory), **fixed)

        self.space: SearchSpace = build("space", config.space)
        # Multi-objective strategies (nsga2, lemonade, optuna) take the study's objectives and constraints.
        strategy = given.get("strategy")
        takes_goals = (
            accepts("strategy", config.strategy.name, "objectives")
            if strategy is None
            else isinstance(strategy, type) and "objectives" in inspect.signature(strategy).parameters
        )
        goals = {"objectives": config.objectives, "constraints": config.constraints} if takes_goals else {}
        self.strategy: Strategy = build(
            "strategy", config.strategy, space=self.space, seed=config.seed, **goals
        )
        self.evaluator: Evaluator = build("evaluator", config.evaluator)
        self.reward_fn: Callable[[Result], float] = build("reward", config.reward)
        self.ledger = TrialLedger(store, self.space, config, self.reward_fn)
        self.pruner: Pruner | None = self._make_pruner(config)
        self.pruning: PruningService | None = None  # the reports and decisions of a running study
        self._activity: Callable[[], Activity] = Activity
        self.lock: RunLock | None = None  # held while this process creates or runs the study

    @property
    def config(self) -> StudyConfig:
        """The study's configuration (the ledger's: a budget set here is the one the ledger keeps)."""
        return self.ledger.config

    @config.setter
    def config(self, config: StudyConfig) -> None:
        self.ledger.config = config

    @property
    def store(self) -> StudyStore:
        """The study's database (the ledger's)."""
        return self.ledger.store

    @store.setter
    def store(self, store: StudyStore) -> None:
        self.ledger.store = store

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        config: StudyConfig,
        directory: str | Path,
        overwrite: bool = False,
        *,
        space: Any = None,
        evaluator: Any = None,
        strategy: Any = None,
        reward: Any = None,
    ) -> Study:
        """Start a study of ``config`` in ``directory`` (``overwrite``: replace a study already there); a
        failed start removes only what it made (rundir.py).

        ``space``, ``evaluator``, ``strategy`` and ``reward`` replace the config's component of that kind
        with an object: an instance (a ``ModelSpace``, a ``DictSpace``, a ``FunctionEvaluator``, any object
        whose class has a ``config()``), or a class, function or dict of choices, made with the config's
        options of that kind when the config sets that kind (``registry.make``). The study records each as
        a name and options (``registry.record``), so ``archsearch resume|status|best|report|export DIR``
        rebuild it by importing the user's module: what cannot be imported again (a lambda, a function
        or class defined inside a function or in an interactive session) is a one-line ConfigError, for
        every executor, before anything is created. For the pool and Ray executors the space and the
        evaluator must also pickle (they are sent to the workers); that too is checked before any trial.
        An evaluator holding data as objects (``ClassificationEvaluator(train=(x, y))``, a Dataset, a
        DataLoader) has it written into ``directory`` (``DIR/data/train.npz``, ...; see its
        ``data_files``) and recorded by those paths relative to the run directory, so that the study
        resumes from the command line, also after its folder is moved; its trials read the stored files.
        """
        directory = Path(directory)
        config, objects = _with_objects(
            config, {"space": space, "evaluator": evaluator, "strategy": strategy, "reward": reward}
        )
        occupied = (
            f"{directory} already holds a study; continue it with `archsearch resume {directory}` "
            "or pass --overwrite"
        )
        data = _data_files(objects.get("evaluator"))
        with new_run(directory, "search", overwrite, occupied, store_class=StudyStore) as run:
            study = cls(config, directory, run.store, objects)
            if config.pruner is not None and study.pruner is not None:
                # every option as resolved here (bracket size from this machine's cores, the evaluator's
                # epochs...), so that a resume elsewhere decides as this run does
                config = config.model_copy(update={"pruner": Component.model_validate(study.pruner.config())})
                study.config = config
            for relative, examples in data.items():
                write_npz(examples, run.stage(relative), relative)
            study.evaluator.prepare()
            if data:  # trials read the stored files, as a resumed study's do (each worker once)
                params = in_run(config.evaluator.params, directory)
                study.evaluator = construct("evaluator", config.evaluator.name, params)
            if config.executor != "inline":
                check_picklable("space", study.space, config.executor)
                check_picklable("evaluator", study.evaluator, config.executor)
            run.store.set_meta("config", config.model_dump(mode="json"))
            run.store.set_meta("space_name", study.space.name)
            run.store.set_meta("import_dirs", list(IMPORT_DIRS))
            run.store.set_meta("created_at", time.time())
            study.store, study.lock = run.publish(), run.lock
        return study

    @classmethod
    def load(cls, directory: str | Path, lock: bool = False, read_only: bool = False) -> Study:
        """The study in ``directory``; ``lock`` makes this process its one driver (to run it) at once;
        ``read_only`` opens its database without writing a byte (status, best, report, export, front)."""
        directory = Path(directory)
        with open_run(directory, lock, read_only, store_class=StudyStore) as (store, held):
            study = cls(stored_config(store, directory), directory, store)
        study.lock = held
        return study

    # -- the loop -----------------------------------------------------------------------------------
    def run(self, listeners: Sequence[StudyListener] = (), executor: Executor | None = None) -> None:
        """Run (or continue) until ``n_trials`` trials are finished or the time budget is spent."""
        self.take_lock()
        strategy = self.strategy
        if isinstance(strategy, DrivesExecution) and strategy.drive(self, listeners, executor):
            return
        own_executor = executor is None
        self.evaluator.prepare()
        from archsearch.pruners import PruningService

        service = self.pruning = PruningService(self.pruner, self.config.ordered)
        running = self._restore()
        ledger = self.ledger
        if ledger.budget_finished() and not running:
            return
        executor = executor or make_executor(self.config)
        max_concurrent = self.config.max_concurrent or executor.workers
        if self.pruner is not None and self.config.ordered:
            # a trial waits for the decisions of earlier ones: every trial in flight must be running
            max_concurrent = min(max_concurrent, executor.workers)
        inflight: dict[int, _InFlight] = {}
        self._activity = lambda: executor.activity({n: i.future for n, i in list(inflight.items())})
        with ledger.running(listeners):
            try:
                service.check_concurrency(executor.workers, max_concurrent)
                ledger.executor_ready(executor.workers, max_concurrent, self.activity)
                for listener in listeners:
                    rungs = getattr(listener, "rungs", None)
                    if rungs is not None:
                        rungs(service.rungs)
                for record in running:
                    inflight[record.number] = self._submit(executor, record)
                while True:
                    while len(inflight) < max_concurrent and not ledger.budget_finished():
                        record = ledger.open(self.strategy.ask())
                        inflight[record.number] = self._submit(executor, record)
                    if ledger.budget_finished():  # a bracket waiting for trials never asked decides now
                        service.no_more_trials()
                    if not inflight:
                        break
                    number = self._next_done(inflight)
                    self._store_reports()
                    if number is None:
                        continue
                    item = inflight.pop(number)
                    result = self._result_or_retry(executor, item)
                    if result is None:
                        inflight[number] = item
                        continue
                    self._check_reports(item.record, result)
                    ledger.finish(item.record, result, partial(self._tell, item.record.arch, result))
            finally:
                self._store_reports(check=False)  # whatever stops the study, its reports are kept
                if own_executor:
                    executor.shutdown()

    def activity(self) -> Activity:
        """Which worker runs each trial in flight (empty when the study is not running)."""
        return self._activity()

    def _submit(self, executor: Executor, record: TrialRecord) -> _InFlight:
        self.ledger.started(record)
        return _InFlight(record, self._evaluate(executor, record))

    def _evaluate(self, executor: Executor, record: TrialRecord) -> Future[Result]:
        """Start ``record``'s evaluation; its reports go to the pruning service, which hears when it ends
        (a worker that died is not an end: the trial runs again and reports again)."""
        service = self.pruning
        if service is None:
            return executor.submit(self.evaluator, self.space, record.arch, record.seed)
        number = record.number
        service.open(number)
        future = executor.submit(
            self.evaluator, self.space, record.arch, record.seed, reports=service.sink(number)
        )

        def ended(done: Future[Result]) -> None:
            if not done.cancelled() and done.exception() is None:
                service.ended(number)

        future.add_done_callback(ended)
        return future

    def _store_reports(self, check: bool = True) -> None:
        """Write the reports received since the last call (the trials' live curves; resume restores the
        pruner's rungs from them); with ``check``, a problem the pruner found in them stops the study with
        one line."""
        service = self.pruning
        if service is None:
            return
        reports = service.drain()
        if reports:
            self.store.add_reports(reports)
        if check and service.error is not None:
            raise ConfigError(service.error)

    def _check_reports(self, record: TrialRecord, result: Result) -> None:
        """A pruned trial's reason is the pruner's; a trial that ended without one report while a pruner
        is set means the evaluator does not report per step: one line, the study stops."""
        service = self.pruning
        if service is None or self.pruner is None:
            return
        if result.status == "pruned":
            result.error = service.reason(record.number) or result.error
            reached(result, self.store.reports(record.number))
        elif result.ok and not self.store.reports(record.number):
            raise ConfigError(
                f"the pruner needs intermediate reports, but trial {record.number} finished without one: "
                f"the evaluator ({type(self.evaluator).__name__}) must report per step "
                "(report(step, value) in an objective, archsearch.report_step in an evaluator)"
            )

    def _result_or_retry(self, executor: Executor, item: _InFlight) -> Result | None:
        """The trial's Result; or None after resubmitting it (same seed) because its worker died.

        Only the death of the worker is retried, ``max_retries`` times; then the trial is a failure
        "worker died N times: ..." (``TrialLedger.worker_died``). A failed Result from the child itself is
        returned as it is.
        """
        try:
            return item.future.result()
        except WorkerDiedError as exc:
            item.deaths += 1
            failure = self.ledger.worker_died(item.record, item.deaths, exc)
            if failure is None:
                item.future = self._evaluate(executor, item.record)
            return failure

    def _next_done(self, inflight: dict[int, _InFlight]) -> int | None:
        """The trial to finish next (the first in ask order when ``ordered``), or None after
        ``REPORT_FLUSH_S`` without one (the loop then stores the reports received meanwhile)."""
        if self.config.ordered:
            number = min(inflight)
            done, _ = wait([inflight[number].future], timeout=REPORT_FLUSH_S)
            return number if done else None
        done, _ = wait(
            [i.future for i in inflight.values()], timeout=REPORT_FLUSH_S, return_when=FIRST_COMPLETED
        )
        return min((n for n, i in inflight.items() if i.future in done), default=None)

    def _tell(
        self, arch: Architecture, result: Result, reward: float
    ) -> tuple[dict[str, float], dict[str, Any] | None]:
        """Tell the strategy; what the ledger records with the trial: its progress and, every
        ``checkpoint_every`` finished trials, its checkpoint."""
        self.strategy.tell(arch, result, reward)
        told = (self.store.count() - self.store.count("running")) + 1
        checkpoint = self.strategy.state_dict() if told % self.config.checkpoint_every == 0 else None
        return self.strategy.progress(), checkpoint

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
        self.ledger.resume(trials)
        if self.pruning is not None:  # the rungs as the stored reports left them
            self.pruning.restore(self.store.reports(), [t.number for t in trials if t.finished])
        return [t for t in trials if not t.finished]

    # -- pruning ------------------------------------------------------------------------------------
    def _make_pruner(self, config: StudyConfig) -> Pruner | None:
        """The study's pruner: the config's, else the one its strategy comes with (BOHB's Hyperband), else
        None. Its metric and direction default to the reward's; its largest resource to the evaluator's
        (``max_resource``, else its ``epochs``). A one-line ConfigError for bad options or an evaluator
        that cannot report per step."""
        component = config.pruner
        if component is None:
            default = getattr(self.strategy, "default_pruner", None)
            if default is None:
                return None
            component = Component.model_validate(default)
        refusal = getattr(self.evaluator, "no_intermediate_reports", None)
        if refusal:
            raise ConfigError(f"pruner {component.name}: {refusal}")
        from archsearch.pruners import PRUNERS, make_pruner, pruner_options

        params = dict(component.params)
        first = getattr(self.evaluator, "min_resource", None)  # the NB201 table's first fidelity: 12 epochs
        if (
            first is not None
            and component.name in PRUNERS
            and "min_resource" in pruner_options(component.name)
        ):
            params.setdefault("min_resource", first)
        metric = getattr(self.reward_fn, "metric", None) or getattr(self.evaluator, "metric", None) or "value"
        mode = getattr(self.reward_fn, "mode", None)
        if "metric" in params and "mode" not in params:  # another metric than the reward's: its own direction
            metric, mode = str(params["metric"]), default_direction(str(params["metric"]))
        max_resource = getattr(self.evaluator, "max_resource", None) or getattr(
            self.evaluator, "epochs", None
        )
        concurrency = 1 if config.executor == "inline" else config.workers or os.cpu_count() or 1
        try:
            pruner = make_pruner(
                component.name,
                params,
                metric=str(metric),
                mode=mode if mode in ("max", "min") else default_direction(str(metric)),
                max_resource=max_resource,
                concurrency=min(config.max_concurrent or concurrency, concurrency),
            )
        except ConfigError as exc:
            if config.pruner is not None:
                raise
            hint = (
                f" (pruner: {{name: {component.name}, params: {{max_resource: ...}}}})"
                if "max_resource is needed" in str(exc)
                else ""
            )
            raise ConfigError(
                f"strategy {config.strategy.name} searches on {component.name}'s brackets: {exc}{hint}"
            ) from None
        if getattr(pruner, "bracket_size", 2) < 2:
            raise ConfigError(
                f"pruner {component.name}: a bracket of one trial prunes nothing; run 2 or more trials at "
                "once (workers, max_concurrent, the pool executor) or use asha, which needs no bracket"
            )
        hook = getattr(self.strategy, "set_pruning", None)
        if callable(hook):
            hook(pruner.metric, pruner.mode)
        return pruner

    # -- queries ------------------------------------------------------------------------------------
    def best(self, include_pruned: bool = False) -> TrialRecord | None:
        """The best trial trained to the end (``include_pruned``: or stopped early by the pruner)."""
        return best_trial(self.store.trials(), include_pruned)

    def trials_dataframe(self) -> pandas.DataFrame:
        """One row per trial as a pandas data frame (``archsearch.frames.trials_frame``): number,
        status, reward, architecture, times, cost, seed, error, then every metric (``metric_<name>``),
        decision value (``decision_<name>``) and strategy scalar (``info_<name>``)."""
        from archsearch.frames import trials_frame  # pandas only when asked for

        return trials_frame(self.store.trials(), self.space, self.store.reports())

    def summary(self) -> dict[str, Any]:
        trials = self.store.trials()
        return {
            "trials": len(trials),
            "finished": sum(t.finished for t in trials),
            "failed": sum(t.status in ("failed", "timeout") for t in trials),
            "pruned": sum(t.status == "pruned" for t in trials),
            "n_trials": self.config.n_trials,
        }


def reached(result: Result, reports: Sequence[Report]) -> None:
    """Give a pruned ``result`` that carries none (a user's evaluator raised ``TrialPruned``) the curve of
    its stored ``reports``, the last value of each series and the resource reached, so that its reward
    is that of what it reached."""
    if not reports:
        return
    if not result.curve:
        for report in reports:
            for name, value in report.values.items():
                result.curve.setdefault(name, []).append(value)
    for name, value in last_values(result.curve).items():
        result.metrics.setdefault(name, value)
    result.metrics.setdefault("resource", reports[-1].resource)


def _with_objects(config: StudyConfig, objects: dict[str, Any]) -> tuple[StudyConfig, dict[str, Any]]:
    """``config`` with each given object's recorded name (and options) in place of its kind's component,
    and the objects to use; a ConfigError for an object that cannot be recorded."""
    components: dict[str, Component] = {}
    used: dict[str, Any] = {}
    for kind, obj in objects.items():
        if obj is None:
            continue
        if isinstance(obj, str):  # a name, as in a config file
            components[kind] = Component(name=obj)
            continue
        params = getattr(config, kind).params if kind in config.model_fields_set else {}
        if is_blueprint(obj) and kind in ("space", "evaluator"):  # a strategy needs the space and the seed
            # made here with the config's options of that kind when the config sets that kind, then
            # recorded as the object it became (a ModelSpace by its reference, a DictSpace by its choices)
            if not isinstance(obj, Mapping):
                path_of(obj, kind)  # a lambda or a local function: refused by name first
            obj = make(kind, getattr(obj, "__qualname__", "dict"), obj, params)
        name, recorded = record(kind, obj)
        components[kind] = Component(name=name, params=params if is_blueprint(obj) else recorded)
        used[kind] = obj
    if "reward" not in config.model_fields_set and "reward" not in components:
        # the config names no reward: the one that suits the evaluator's metrics (registry.reward_for)
        name = components.get("evaluator", config.evaluator).name
        evaluator = used["evaluator"] if "evaluator" in used else resolve("evaluator", name)
        reward = reward_for(evaluator, name)
        if reward is not None:
            components["reward"] = Component.model_validate(reward)
    return config.model_copy(update=components), used


def _data_files(evaluator: Any) -> dict[str, Any]:
    """The data ``evaluator`` holds as objects, to be stored in the run directory: relative file ->
    ``Examples`` (its ``data_files()``; none for an evaluator without data or not given as an object)."""
    files = getattr(evaluator, "data_files", None)
    if evaluator is None or isinstance(evaluator, type) or not callable(files):
        return {}
    return dict(files())


def check_picklable(kind: str, obj: Any, executor: str) -> None:
    """A one-line ConfigError when ``obj`` (sent to every worker of the ``executor``) does not pickle."""
    send_check(obj, kind, f"the {executor} executor's workers", type(obj).__qualname__)


def stored_config(store: StudyStore, directory: Path) -> StudyConfig:
    """The config of the study whose database is ``store``, with the folders its user's modules were
    imported from importable again; a StoreError for a database without one (an unfinished creation)."""
    data = store.get_meta("config")
    if data is None:
        if unfinished(store):
            raise unfinished_error(directory)
        raise StoreError(f"{directory} has a database but no study config")
    import_again(store.get_meta("import_dirs", []))  # where the user's modules were imported from
    return parse_config(data)


def best_trial(trials: Sequence[TrialRecord], include_pruned: bool = False) -> TrialRecord | None:
    """The successful trial with the highest reward (first one on ties); a pruned trial (stopped early,
    its reward that of what it reached) only with ``include_pruned``."""
    statuses = ("ok", "pruned") if include_pruned else ("ok",)
    ok = [t for t in trials if t.status in statuses and t.reward is not None]
    return max(ok, key=lambda t: (t.reward, -t.number)) if ok else None
