"""NAS-RL's asynchronous parameter-server training as a Strategy, so children run on any executor.

Zoph & Le, ICLR 2017, section 3.3 (SPEC.md 1.7): S parameter-server shards hold the controller's weights;
K controller replicas each pull them, sample m children, and once all m rewards are in push the REINFORCE
gradient; the shards apply Adam as gradients arrive, with no global barrier, so a replica's gradient may
have been computed on parameters several versions old (its *staleness*).

Two ways to run it, with the same shard and replica classes (``servers.py``, ``replicas.py``):
- locally (inline or process-pool executor): the servers and replicas are in-process objects driven by
  ``ask``/``tell``, and the children run on the study's executor;
- on Ray (``executor: ray``): ``drive`` runs the study on ``ray_driver.RayParameterServerRun``, where the S
  shards and K replicas are Ray actors and each replica launches its own children as Ray tasks that
  request ``child_cpus`` CPUs and ``child_gpus`` GPUs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from archsearch.core import Architecture, DrivesExecution, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.parameter_server.replicas import (
    ControllerConfig,
    ControllerReplica,
    ParameterServerOptions,
    replica_seed,
)
from archsearch.parameter_server.servers import ParameterServer

if TYPE_CHECKING:
    from archsearch.executors.base import Executor
    from archsearch.ledger import StudyListener
    from archsearch.study import Study


@dataclass(eq=False)
class _Batch:
    """m architectures one replica sampled on the parameters of ``version``, and the rewards so far."""

    replica: int
    version: int
    params: dict[str, torch.Tensor]
    archs: list[Architecture]
    handed: int = 0  # how many of ``archs`` ask() has returned
    pending: list[tuple[Any, ...]] = field(default_factory=list)  # handed out, not yet told
    told: list[tuple[tuple[Any, ...], float]] = field(default_factory=list)  # in tell order

    def to_state(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "version": self.version,
            "params": {n: t.clone() for n, t in self.params.items()},
            "archs": [a.to_dict() for a in self.archs],
            "handed": self.handed,
            "pending": [Architecture(self.archs[0].space, v).to_dict() for v in self.pending],
            "told": [(Architecture(self.archs[0].space, v).to_dict(), r) for v, r in self.told],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Batch:
        return cls(
            replica=int(state["replica"]),
            version=int(state["version"]),
            params={n: t.clone() for n, t in state["params"].items()},
            archs=[Architecture.from_dict(a) for a in state["archs"]],
            handed=int(state["handed"]),
            pending=[Architecture.from_dict(a).values for a in state["pending"]],
            told=[(Architecture.from_dict(a).values, float(r)) for a, r in state["told"]],
        )


class ParameterServerReinforce(Strategy, DrivesExecution):
    """NAS-RL with a parameter server (Zoph & Le 2017, section 3.3; SPEC.md 1.7), K replicas, S shards.

    ``ask`` hands out the current batch of a replica one architecture at a time; when it is exhausted, the
    next replica (round robin) without an outstanding batch pulls the server's parameters and samples m
    (``children_per_replica``) new ones. If every replica is still waiting for rewards, the next replica
    in round robin samples a further batch anyway, so the study is never blocked. ``tell`` routes the
    reward to the oldest batch that handed out that architecture and has not been told it; a batch with
    all m rewards becomes a gradient pushed to the server at once, while other replicas keep their older
    parameters. The staleness of each push (server version at push minus the version pulled) goes into
    ``progress`` and so into the store's ``info`` column of each trial.

    With K = 1, S = 1 and sequential ask/tell this is ``Reinforce(space, seed, batch_size=m)``. On the Ray
    executor the strategy drives the study itself (``core.DrivesExecution``: shard and replica actors,
    ``ray_driver.py``); ask/tell are unused there.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        num_replicas: int = 4,
        children_per_replica: int = 8,
        num_shards: int = 20,
        lr: float = 0.0006,
        baseline_decay: float = 0.95,
        accumulate: int = 1,
        hidden_size: int = 35,
        num_layers: int = 2,
        init_range: float = 0.08,
        child_cpus: float = 1.0,
        child_gpus: float = 0.0,
    ) -> None:
        name = type(self).__name__
        if child_cpus < 0 or child_gpus < 0:
            raise ConfigError(f"{name} child_cpus and child_gpus must not be negative")
        if num_replicas < 1:
            raise ConfigError(f"{name} num_replicas must be at least 1, got {num_replicas}")
        if children_per_replica < 1:
            raise ConfigError(f"{name} children_per_replica must be at least 1, got {children_per_replica}")
        self.space = space
        config = ControllerConfig(hidden_size, num_layers, init_range)
        self.replicas = [
            ControllerReplica(space, config, replica_seed(seed, r), children_per_replica, baseline_decay)
            for r in range(num_replicas)
        ]
        self.server = ParameterServer(
            self.replicas[0].initial_state(), num_shards=num_shards, lr=lr, accumulate=accumulate
        )
        self.batches: list[_Batch] = []  # outstanding batches, oldest first
        self.current: _Batch | None = None  # the batch ask() is handing out
        self.next_replica = 0
        self.last_staleness: int | None = None
        self.pushes = [0] * num_replicas
        self.options = ParameterServerOptions(
            num_replicas,
            children_per_replica,
            num_shards,
            lr,
            baseline_decay,
            accumulate,
            config,
            child_cpus,
            child_gpus,
        )

    def drive(self, study: Study, listeners: Sequence[StudyListener], executor: Executor | None) -> bool:
        """Run ``study`` on Ray actors when its executor is Ray (``core.DrivesExecution``); otherwise return
        False, and the study's ask/tell loop runs it."""
        from archsearch.executors.ray import RayExecutor

        if not isinstance(executor, RayExecutor) and (executor is not None or study.config.executor != "ray"):
            return False
        if getattr(study, "pruner", None) is not None:
            raise ConfigError(
                "the parameter server's replicas run their children themselves and cannot prune them; "
                "remove the pruner, or search with the pool executor"
            )
        from archsearch.parameter_server.ray_driver import RayParameterServerRun
        from archsearch.study import make_executor

        ray_executor = executor if isinstance(executor, RayExecutor) else make_executor(study.config)
        assert isinstance(ray_executor, RayExecutor)
        try:
            RayParameterServerRun(study, self.options, ray_executor, listeners).run()
        finally:
            if executor is None:
                ray_executor.shutdown()
        return True

    # -- ask / tell ---------------------------------------------------------------------------------
    def _new_batch(self) -> _Batch:
        k = len(self.replicas)
        busy = {b.replica for b in self.batches}
        free = [(self.next_replica + i) % k for i in range(k) if (self.next_replica + i) % k not in busy]
        r = free[0] if free else self.next_replica
        self.next_replica = (r + 1) % k
        params, version = self.server.pull()
        batch = _Batch(r, version, params, self.replicas[r].sample(params))
        self.batches.append(batch)
        return batch

    def ask(self) -> Architecture:
        if self.current is None or self.current.handed >= len(self.current.archs):
            self.current = self._new_batch()
        batch = self.current
        arch = batch.archs[batch.handed]
        batch.handed += 1
        batch.pending.append(arch.values)
        return arch

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        for batch in self.batches:
            if arch.values in batch.pending:
                batch.pending.remove(arch.values)
                batch.told.append((arch.values, float(reward)))
                if len(batch.told) == len(batch.archs):
                    self._push(batch)
                return
        raise ConfigError(f"tell for an architecture that has no outstanding ask: {arch}")

    def _push(self, batch: _Batch) -> None:
        replica = self.replicas[batch.replica]
        replica.controller.load_state_dict(batch.params)
        archs = [Architecture(self.space.name, v) for v, _ in batch.told]
        grads = replica.gradient(archs, [r for _, r in batch.told])
        self.last_staleness = self.server.push(grads, batch.version)
        self.pushes[batch.replica] += 1
        self.batches = [b for b in self.batches if b is not batch]
        if self.current is batch:
            self.current = None

    # -- reporting and resume -----------------------------------------------------------------------
    def progress(self) -> dict[str, float]:
        info: dict[str, float] = {
            "ps_version": float(self.server.version),
            "replicas_waiting": float(len({b.replica for b in self.batches})),
        }
        if self.last_staleness is not None:
            info["staleness"] = float(self.last_staleness)
        return info

    def state_dict(self) -> dict[str, Any]:
        shards = [shard.state_dict() for shard in self.server.shards]
        current = (
            None if self.current is None else next(i for i, b in enumerate(self.batches) if b is self.current)
        )
        return {
            "shards": shards,
            "staleness_log": list(self.server.staleness_log),
            "replicas": [
                {"generator": r.generator.get_state(), "baseline": r.baseline} for r in self.replicas
            ],
            "batches": [b.to_state() for b in self.batches],
            "current": current,
            "next_replica": self.next_replica,
            "last_staleness": self.last_staleness,
            "pushes": list(self.pushes),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        if len(state["shards"]) != len(self.server.shards) or len(state["replicas"]) != len(self.replicas):
            raise ConfigError("parameter-server state has another number of shards or replicas")
        for shard, saved in zip(self.server.shards, state["shards"], strict=True):
            shard.load_state_dict(saved)
        self.server.staleness_log = [int(s) for s in state["staleness_log"]]
        for replica, saved in zip(self.replicas, state["replicas"], strict=True):
            replica.generator.set_state(saved["generator"])
            replica.baseline = None if saved["baseline"] is None else float(saved["baseline"])
        self.batches = [_Batch.from_state(b) for b in state["batches"]]
        self.current = None if state["current"] is None else self.batches[int(state["current"])]
        self.next_replica = int(state["next_replica"])
        self.last_staleness = None if state["last_staleness"] is None else int(state["last_staleness"])
        self.pushes = [int(p) for p in state["pushes"]]
