"""NAS-RL's parameter server on Ray: S shard actors, K controller-replica actors, children as Ray tasks.

Zoph & Le, ICLR 2017, section 3.3 (SPEC.md 1.7). The classes of ``servers.py`` and ``replicas.py`` become
actors unchanged: each of S ``ParameterShard`` actors holds a slice of the LSTM controller's parameters
with its own Adam state and version; each of K ``ReplicaActor``s wraps a ``ControllerReplica``. A replica
pulls the parameters from every shard, samples m architectures, launches the m children itself as Ray
tasks that request ``child_cpus`` CPUs and ``child_gpus`` GPUs, and, once the driver has told it their m
rewards, computes the REINFORCE gradient and pushes its slices to the shards, which return the gradient's
staleness (versions applied since the pull). Replicas never wait for each other: while one pushes, the
others' children keep training.

The driver (``RayParameterServerRun``) records every trial through the study's ledger
(``archsearch.ledger.TrialLedger``) before its child starts, finishes it there as its result arrives, and
checkpoints the state of all shards and replicas, with the open batches, into the store: right after a
replica samples (before its trials are written) and, atomically with the last trial of a batch, right after
its push. A driver killed with kill -9 therefore resumes from that checkpoint: trials already finished keep
their results and are never run again, those still running are relaunched with the same seed, and a push
that reached the shards but not the store is made again on the restored shards. Sampling and pushing are
driver calls that finish in milliseconds and run one at a time, which is what makes a consistent
checkpoint possible; the children, the long part, all run concurrently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from archsearch.core import Architecture, Evaluator, Result, SearchSpace, TrialRecord
from archsearch.errors import ConfigError
from archsearch.executors.base import Activity, WorkerDiedError
from archsearch.executors.ray import RayExecutor, failure_of, trial_task
from archsearch.ledger import StudyListener
from archsearch.parameter_server.replicas import (
    ControllerConfig,
    ControllerReplica,
    ParameterServerOptions,
    replica_seed,
)
from archsearch.parameter_server.servers import ParameterShard, shard_names, split_gradient

if TYPE_CHECKING:
    from archsearch.study import Study

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "nasrl_ps_ray"


class ReplicaActor:
    """A ``ControllerReplica`` as a Ray actor: pulls, samples, launches its children, pushes its gradient.

    It has at most one open batch: the parameters it pulled stay loaded in its controller until it
    pushes the gradient of that batch, computed at exactly those parameters.
    """

    def __init__(
        self,
        space: SearchSpace,
        controller_config: ControllerConfig,
        seed: int,
        batch_size: int,
        baseline_decay: float,
        evaluator: Evaluator,
        child_cpus: float,
        child_gpus: float,
    ) -> None:
        import ray

        torch.set_num_threads(1)
        self.replica = ControllerReplica(space, controller_config, seed, batch_size, baseline_decay)
        self.space = space
        self.evaluator = evaluator
        self.shards: list[Any] = []
        self.assignment: list[list[str]] = []
        self._threads = max(1, int(child_cpus))
        self._child = ray.remote(trial_task).options(num_cpus=child_cpus, num_gpus=child_gpus, max_retries=0)

    def initial_state(self) -> dict[str, torch.Tensor]:
        return self.replica.initial_state()

    def connect(self, shards: Sequence[Any], assignment: list[list[str]]) -> None:
        self.shards, self.assignment = list(shards), assignment

    def sample(self) -> tuple[int, list[Architecture]]:
        """Pull every shard's parameters and sample m architectures; returns the version pulled and them."""
        import ray

        pulled = ray.get([shard.pull.remote() for shard in self.shards])
        params: dict[str, torch.Tensor] = {}
        for part, _ in pulled:
            params.update(part)
        return min(version for _, version in pulled), self.replica.sample(params)

    def launch(self, archs: Sequence[Architecture], seeds: Sequence[int]) -> list[Any]:
        """Start one Ray task per child (with this replica's resource request); returns their ObjectRefs."""
        return [
            self._child.remote(self.evaluator, self.space, arch, seed, self._threads)
            for arch, seed in zip(archs, seeds, strict=True)
        ]

    def push(self, archs: Sequence[Architecture], rewards: Sequence[float], version: int) -> int:
        """Push the REINFORCE gradient of ``rewards`` to the shards; returns its staleness."""
        import ray

        grads = self.replica.gradient(archs, rewards)
        parts = split_gradient(grads, self.assignment)
        return max(ray.get([s.push.remote(p, version) for s, p in zip(self.shards, parts, strict=True)]))

    def state_dict(self) -> dict[str, Any]:
        return self.replica.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.replica.load_state_dict(state)

    def pid(self) -> int:
        import os

        return os.getpid()


@dataclass(eq=False)
class _Batch:
    """The m trials (numbers, architectures) a replica sampled on parameters of ``version``."""

    replica: int
    version: int
    numbers: list[int]
    archs: list[Architecture]
    rewards: dict[int, float] = field(default_factory=dict)  # of its finished trials

    def to_state(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "version": self.version,
            "numbers": list(self.numbers),
            "archs": [a.to_dict() for a in self.archs],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Batch:
        return cls(
            int(state["replica"]),
            int(state["version"]),
            [int(n) for n in state["numbers"]],
            [Architecture.from_dict(a) for a in state["archs"]],
        )


@dataclass(eq=False)
class _Child:
    record: TrialRecord
    batch: _Batch
    deaths: int = 0


class RayParameterServerRun:
    """Runs (or resumes) a ``nasrl_ps`` study on Ray actors; ``run`` returns when the budget is spent."""

    def __init__(
        self,
        study: Study,
        options: ParameterServerOptions,
        executor: RayExecutor,
        listeners: Sequence[StudyListener] = (),
    ) -> None:
        self.study = study
        self.ledger = study.ledger  # trial numbers, events, budget, clock and listeners: the study's books
        self.options = options
        self.executor = executor
        self.ray = executor.ray
        self.listeners = listeners
        self.batches: list[_Batch] = []
        self.children: dict[Any, _Child] = {}  # ObjectRef of a child task -> its trial
        self.staleness_log: list[int] = []
        self.pushes = [0] * options.num_replicas
        self.replicas: list[Any] = []
        self.shards: list[Any] = []
        self.assignment: list[list[str]] = []
        self._last_state: dict[str, Any] | None = None

    # -- set up and resume --------------------------------------------------------------------------
    def _new_replica(self, r: int) -> Any:
        o = self.options
        actor = self.ray.remote(num_cpus=0)(ReplicaActor)
        return actor.remote(
            self.study.space,
            o.controller,
            replica_seed(self.study.config.seed, r),
            o.children_per_replica,
            o.baseline_decay,
            self.study.evaluator,
            o.child_cpus,
            o.child_gpus,
        )

    def _start_actors(self, state: dict[str, Any] | None) -> None:
        ray, o = self.ray, self.options
        if state is None:
            # replica 0's initial parameters, computed here (same seed, same class) so that Ray starts the
            # shard actors together with the replica actors instead of after them
            first = ControllerReplica(
                self.study.space,
                o.controller,
                replica_seed(self.study.config.seed, 0),
                o.children_per_replica,
            )
            initial = first.initial_state()
        else:
            initial = {n: t for s in state["shards"] for n, t in s["params"].items()}
        self.assignment = shard_names(list(initial), o.num_shards)
        shard_actor = ray.remote(num_cpus=0)(ParameterShard)
        self.shards = [
            shard_actor.remote({n: initial[n] for n in names}, o.lr, accumulate=o.accumulate)
            for names in self.assignment
        ]
        self.replicas = [self._new_replica(r) for r in range(o.num_replicas)]
        calls = [r.connect.remote(self.shards, self.assignment) for r in self.replicas]
        if state is not None:
            calls += [s.load_state_dict.remote(v) for s, v in zip(self.shards, state["shards"], strict=True)]
            calls += [
                r.load_state_dict.remote(v) for r, v in zip(self.replicas, state["replicas"], strict=True)
            ]
        ray.get(calls)

    def _restore(self) -> tuple[dict[str, Any] | None, dict[int, TrialRecord]]:
        store = self.study.store
        checkpoint = store.latest_checkpoint()
        if checkpoint is not None and checkpoint[1].get("kind") == CHECKPOINT_KIND:
            # Trials this checkpoint does not know were started after it: its newer successor could not be
            # read. They are run again (same numbers, same seeds) from the state it restores.
            later = store.discard_trials_from(int(checkpoint[1]["next_number"]))
            if later:
                log.warning(
                    "resuming from an older checkpoint: trials %s, started after it, are discarded and run"
                    " again (with several replicas their architectures may differ)",
                    later,
                )
        records = store.trials()
        self.ledger.resume(records)
        trials = {t.number: t for t in records}
        if checkpoint is None:
            if trials:
                raise ConfigError("this nasrl_ps study has trials but no parameter-server checkpoint")
            return None, trials
        state = checkpoint[1]
        if state.get("kind") != CHECKPOINT_KIND:
            raise ConfigError(
                "this study's checkpoint was written by nasrl_ps without Ray actors; resume it with the "
                "executor it started with"
            )
        o = self.options
        if len(state["shards"]) != o.num_shards or len(state["replicas"]) != o.num_replicas:
            raise ConfigError("parameter-server checkpoint has another number of shards or replicas")
        self.batches = [_Batch.from_state(b) for b in state["batches"]]
        self.ledger.next_number = int(state["next_number"])
        self.staleness_log = [int(s) for s in state["staleness_log"]]
        self.pushes = [int(p) for p in state["pushes"]]
        stray = [
            n
            for n, t in trials.items()
            if n >= self.ledger.next_number or (not t.finished and not self._owner(n))
        ]
        if stray:  # cannot happen: rows are written only after the checkpoint naming them
            raise ConfigError(f"trials {stray} belong to no batch of the parameter-server checkpoint")
        return state, trials

    def _owner(self, number: int) -> _Batch | None:
        return next((b for b in self.batches if number in b.numbers), None)

    # -- the loop -----------------------------------------------------------------------------------
    def _check_resources(self) -> None:
        """Refuse children that no node of the cluster could run (Ray would wait for them for ever)."""
        total = self.ray.cluster_resources()
        for name, need in (("CPU", self.options.child_cpus), ("GPU", self.options.child_gpus)):
            if need > total.get(name, 0.0):
                raise ConfigError(
                    f"each child requests {need:g} {name}s (child_{name.lower()}s) but the Ray cluster has "
                    f"{total.get(name, 0.0):g}"
                )

    def run(self) -> None:
        study = self.study
        self._check_resources()
        study.evaluator.prepare()
        state, trials = self._restore()
        self._start_actors(state)
        self._last_state = state
        ledger = self.ledger
        try:
            with ledger.running(self.listeners):
                in_flight = self.options.num_replicas * self.options.children_per_replica
                ledger.executor_ready(self.executor.workers, in_flight, self.activity)
                for batch in list(self.batches):
                    self._reopen(batch, trials)
                while True:
                    for r in range(self.options.num_replicas):
                        if self._idle(r) and not ledger.budget_finished():
                            self._sample(r)
                    if not self.children:
                        break
                    ready, _ = self.ray.wait(list(self.children), num_returns=1)
                    child = self.children.pop(ready[0])
                    result = self._result(ready[0], child)
                    if result is not None:
                        self._finish(child, result)
        finally:
            for actor in self.replicas + self.shards:  # their state is in the store
                try:
                    self.ray.kill(actor)
                except Exception:  # Ray is gone already (a signal to the process group ends it too)
                    log.debug("could not kill a parameter-server actor", exc_info=True)

    def _idle(self, r: int) -> bool:
        return all(b.replica != r for b in self.batches)

    def _sample(self, r: int) -> None:
        version, archs = self._call(r, "sample")
        numbers = self.ledger.reserve(len(archs))
        batch = _Batch(r, version, numbers, archs[: len(numbers)])
        self.batches.append(batch)
        # the checkpoint first: a trial row then always belongs to a batch of the latest checkpoint
        state = self._state()
        self.study.store.add_checkpoint(self.ledger.event, state)
        self._last_state = state
        self._launch(batch, [self._add_trial(n, a) for n, a in zip(batch.numbers, batch.archs, strict=True)])

    def _reopen(self, batch: _Batch, trials: dict[int, TrialRecord]) -> None:
        """After a restart: write the batch's missing rows, relaunch its unfinished trials."""
        to_run = []
        for number, arch in zip(batch.numbers, batch.archs, strict=True):
            record = trials.get(number)
            if record is None:
                to_run.append(self._add_trial(number, arch))
            elif not record.finished:
                to_run.append(record)
            else:
                batch.rewards[number] = record.reward if record.reward is not None else 0.0
        if to_run:
            self._launch(batch, to_run)
        else:  # everything finished before the stop, but the push was never recorded
            self._complete(batch, None)

    def _add_trial(self, number: int, arch: Architecture) -> TrialRecord:
        return self.ledger.open(arch, number)

    def _launch(self, batch: _Batch, records: Sequence[TrialRecord], deaths: int = 0) -> None:
        refs = self._call(batch.replica, "launch", [t.arch for t in records], [t.seed for t in records])
        for ref, record in zip(refs, records, strict=True):
            self.children[ref] = _Child(record, batch, deaths)
            if not deaths:
                self.ledger.started(record)

    def _result(self, ref: Any, child: _Child) -> Result | None:
        """The child's Result, or None after relaunching it because its worker (or replica) died."""
        try:
            result: Result = self.ray.get(ref)
            return result
        except Exception as exc:
            failure = failure_of(exc)
        if not isinstance(failure, WorkerDiedError):
            return failure
        child.deaths += 1
        given_up = self.ledger.worker_died(child.record, child.deaths, failure)
        if given_up is None:
            self._launch(child.batch, [child.record], child.deaths)
        return given_up

    def _finish(self, child: _Child, result: Result) -> None:
        record, batch = child.record, child.batch

        def tell(reward: float) -> tuple[dict[str, float], dict[str, Any] | None]:
            """The batch hears of the reward; a full batch pushes its gradient and is checkpointed."""
            batch.rewards[record.number] = reward
            info: dict[str, float] = {"replica": float(batch.replica), "ps_version": float(batch.version)}
            if len(batch.rewards) < len(batch.numbers):
                return info, None
            staleness = self._complete(batch, record.number)
            if staleness is not None:
                info["staleness"] = float(staleness)
            self._last_state = self._state()
            return info, self._last_state

        self.ledger.finish(record, result, tell)

    def _complete(self, batch: _Batch, last: int | None) -> int | None:
        """Push a full batch's gradient (a partial one, cut by the budget, is dropped); returns staleness.

        ``last`` is the trial whose result completed the batch; None when it was completed before a
        restart, and the checkpoint is then written here.
        """
        staleness = None
        if len(batch.numbers) == self.options.children_per_replica:
            rewards = [batch.rewards[n] for n in batch.numbers]
            staleness = int(self._call(batch.replica, "push", batch.archs, rewards, batch.version))
            self.staleness_log.append(staleness)
            self.pushes[batch.replica] += 1
        self.batches.remove(batch)
        if last is None:
            self._last_state = self._state()
            self.study.store.add_checkpoint(self.ledger.event, self._last_state)
        return staleness

    # -- actors -------------------------------------------------------------------------------------
    def _call(self, r: int, method: str, *args: Any) -> Any:
        """Call a replica actor and wait; a dead replica is restarted from the last checkpoint, once.

        A dead shard actor is not restarted here: the call then fails again and the run stops with a
        ``WorkerDiedError`` that says to resume, which restores every shard from the last checkpoint.
        """
        ray = self.ray
        try:
            return ray.get(getattr(self.replicas[r], method).remote(*args))
        except Exception as exc:
            if not isinstance(failure_of(exc), WorkerDiedError):
                raise
            log.warning("controller replica %d died (%s); restarting it from the last checkpoint", r, exc)
        self.replicas[r] = self._new_replica(r)
        calls = [self.replicas[r].connect.remote(self.shards, self.assignment)]
        if self._last_state is not None:
            calls.append(self.replicas[r].load_state_dict.remote(self._last_state["replicas"][r]))
        ray.get(calls)
        try:
            return ray.get(getattr(self.replicas[r], method).remote(*args))
        except Exception as exc:
            failure = failure_of(exc)
            if not isinstance(failure, WorkerDiedError):
                raise
            # e.g. a shard actor died: the shards' state is in the store, a resume starts fresh actors
            raise WorkerDiedError(
                f"a parameter-server actor died ({failure}); continue the study with `archsearch resume`"
            ) from None

    def _state(self) -> dict[str, Any]:
        ray = self.ray
        return {
            "kind": CHECKPOINT_KIND,
            "shards": ray.get([s.state_dict.remote() for s in self.shards]),
            "replicas": ray.get([r.state_dict.remote() for r in self.replicas]),
            "batches": [b.to_state() for b in self.batches],
            "next_number": self.ledger.next_number,
            "staleness_log": list(self.staleness_log),
            "pushes": list(self.pushes),
        }

    # -- progress -----------------------------------------------------------------------------------
    def activity(self) -> Activity:
        """Each replica actor with the trials of its open batch still training (idle: none)."""
        running: dict[int, list[int]] = {r: [] for r in range(self.options.num_replicas)}
        for child in list(self.children.values()):
            running[child.batch.replica].append(child.record.number)
        workers = {f"replica {r}": sorted(numbers) for r, numbers in running.items()}
        in_flight = sum(len(n) for n in running.values())
        return Activity(workers, [], max(0, in_flight - self.executor.workers))
