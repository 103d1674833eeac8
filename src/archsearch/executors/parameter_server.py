"""NAS-RL's parameter server: sharded controller weights updated asynchronously by controller replicas.

Zoph & Le, ICLR 2017, section 3.4 (SPEC.md 1.7): S parameter-server shards hold the controller's weights;
K replicas each pull them, sample m children, and push the REINFORCE gradient of their m rewards; the
shards apply Adam as gradients arrive, with no barrier between replicas. A gradient computed on version v
and applied at version v' has staleness v' - v. For PTB the servers apply an update only once ``accumulate``
replica gradients (10 in the paper) have arrived, averaging them.

Everything here is plain in-process objects, so the same logic runs in a discrete-event simulation
(``benchmarks/ps_simulation.py``), inside a study's ask/tell loop (``strategies/parameter_server.py``) and,
wrapped as Ray actors, on a cluster (``executors/ray_parameter_server.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from archsearch.controllers.lstm import LSTMController
from archsearch.core import Architecture, SearchSpace
from archsearch.errors import ConfigError
from archsearch.strategies.reinforce import reinforce_loss


def replica_seed(seed: int, replica: int) -> int:
    """Replica 0 uses ``seed`` itself (so K = 1 reproduces ``Reinforce``); the others derive theirs."""
    if replica == 0:
        return seed
    return int(np.random.SeedSequence([seed, replica]).generate_state(1)[0] & 0x7FFFFFFF)


def shard_names(names: Sequence[str], num_shards: int) -> list[list[str]]:
    """Deal parameter names round-robin (in sorted order) over ``num_shards`` shards.

    Sorting makes the assignment independent of dict order; a shard is empty when there are more shards
    than parameter tensors (the NB201 controller has a dozen), which only leaves that server idle.
    """
    if num_shards < 1:
        raise ConfigError(f"num_shards must be at least 1, got {num_shards}")
    shards: list[list[str]] = [[] for _ in range(num_shards)]
    for i, name in enumerate(sorted(names)):
        shards[i % num_shards].append(name)
    return shards


def split_gradient(
    grads: dict[str, torch.Tensor], assignment: Sequence[Sequence[str]]
) -> list[dict[str, torch.Tensor]]:
    """One replica gradient cut into the slices of the shards that hold each parameter."""
    known = {n for names in assignment for n in names}
    if set(grads) - known:
        raise ConfigError(f"gradient for unknown parameters {sorted(set(grads) - known)}")
    return [{n: grads[n] for n in names if n in grads} for names in assignment]


class ParameterShard:
    """One server: a slice of the controller's parameters, its own Adam state and a version counter.

    ``version`` counts the Adam steps applied. ``push`` returns the gradient's staleness, the number of
    steps applied since the parameters it was computed on were pulled.
    """

    def __init__(
        self,
        params: dict[str, torch.Tensor],
        lr: float = 0.0006,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        accumulate: int = 1,
    ) -> None:
        if accumulate < 1:
            raise ConfigError(f"accumulate must be at least 1, got {accumulate}")
        self.params = {n: t.detach().clone().requires_grad_(True) for n, t in params.items()}
        self.optimizer = (
            torch.optim.Adam(list(self.params.values()), lr=lr, betas=betas, eps=eps) if self.params else None
        )
        self.accumulate = accumulate
        self.version = 0
        self._pending: dict[str, torch.Tensor] = {}
        self._pending_count = 0

    def pull(self) -> tuple[dict[str, torch.Tensor], int]:
        return {n: t.detach().clone() for n, t in self.params.items()}, self.version

    def push(self, grads: dict[str, torch.Tensor], version_used: int) -> int:
        unknown = set(grads) - set(self.params)
        if unknown:
            raise ConfigError(f"gradient for parameters {sorted(unknown)} not held by this shard")
        staleness = self.version - version_used
        # a parameter without a gradient is skipped by Adam, as torch.optim.Adam skips grad None
        for name in grads:
            grad = grads[name].detach()
            self._pending[name] = self._pending[name] + grad if name in self._pending else grad.clone()
        self._pending_count += 1
        if self._pending_count >= self.accumulate:
            self._apply()
        return staleness

    def state_dict(self) -> dict[str, Any]:
        """Parameters, Adam state, version and the gradients accumulated towards the next step."""
        return {
            "params": {n: t.detach().clone() for n, t in self.params.items()},
            "optimizer": None if self.optimizer is None else copy.deepcopy(self.optimizer.state_dict()),
            "version": self.version,
            "pending": {n: t.clone() for n, t in self._pending.items()},
            "pending_count": self._pending_count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        if set(state["params"]) != set(self.params):
            raise ConfigError("parameter-server checkpoint holds other parameters than this shard")
        with torch.no_grad():
            for n, t in self.params.items():
                t.copy_(state["params"][n])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.version = int(state["version"])
        self._pending = dict(state["pending"])
        self._pending_count = int(state["pending_count"])

    def _apply(self) -> None:
        if self.optimizer is not None:
            for name, param in self.params.items():
                pending = self._pending.get(name)
                param.grad = None if pending is None else pending / self._pending_count
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        self._pending.clear()
        self._pending_count = 0
        self.version += 1


class ParameterServer:
    """S shards of the controller's parameters (``num_shards``, S = 20 in the paper), Adam lr 0.0006.

    ``pull`` gathers the whole parameter set and the version it was read at; ``push`` hands each shard its
    slice of a replica's gradient and returns the staleness, also kept in ``staleness_log``.
    """

    def __init__(
        self,
        controller_state: dict[str, torch.Tensor],
        num_shards: int = 20,
        lr: float = 0.0006,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        accumulate: int = 1,
    ) -> None:
        if lr <= 0:
            raise ConfigError(f"parameter server lr must be positive, got {lr}")
        self.assignment = shard_names(list(controller_state), num_shards)
        self.shards = [
            ParameterShard({n: controller_state[n] for n in names}, lr, betas, eps, accumulate)
            for names in self.assignment
        ]
        self.staleness_log: list[int] = []

    @property
    def version(self) -> int:
        # pushes reach every shard in one call here, so all shard versions agree
        return self.shards[0].version

    def pull(self) -> tuple[dict[str, torch.Tensor], int]:
        params: dict[str, torch.Tensor] = {}
        for shard in self.shards:
            params.update(shard.pull()[0])
        return params, self.version

    def push(self, grads: dict[str, torch.Tensor], version_used: int) -> int:
        staleness = max(
            shard.push(part, version_used)
            for shard, part in zip(self.shards, split_gradient(grads, self.assignment), strict=True)
        )
        self.staleness_log.append(staleness)
        return staleness


@dataclass(frozen=True)
class ControllerConfig:
    """Shape of the LSTM controller (Zoph & Le 2017: 2 layers of 35 units, init U(-0.08, 0.08))."""

    hidden_size: int = 35
    num_layers: int = 2
    init_range: float = 0.08


class ControllerReplica:
    """One of K controller replicas: samples m architectures on pulled parameters and computes the gradient.

    Seeded like ``Reinforce(space, seed)``: one torch generator initialises the controller and then draws
    every sample, so with K = 1 and S = 1 the updates equal the single-process strategy's. The baseline b is
    an EMA (``baseline_decay``) of this replica's rewards, initialised to its first batch's mean.
    """

    def __init__(
        self,
        space: SearchSpace,
        controller_config: ControllerConfig | None = None,
        seed: int = 0,
        batch_size: int = 8,
        baseline_decay: float = 0.95,
        entropy_weight: float = 0.0,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"replica batch_size must be at least 1, got {batch_size}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ConfigError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        config = controller_config or ControllerConfig()
        self.space = space
        self.batch_size = batch_size
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.generator = torch.Generator().manual_seed(seed)
        self.controller = LSTMController(
            space.kinds(), config.hidden_size, config.num_layers, config.init_range, self.generator
        )
        self.baseline: float | None = None

    def initial_state(self) -> dict[str, torch.Tensor]:
        """This replica's initial parameters, to start the servers from."""
        return {n: p.detach().clone() for n, p in self.controller.named_parameters()}

    def sample(self, params: dict[str, torch.Tensor]) -> list[Architecture]:
        """Load ``params`` and sample ``batch_size`` architectures (m in the paper)."""
        self.controller.load_state_dict(params)
        with torch.inference_mode():
            traces = [
                self.controller.walk(self.space, generator=self.generator) for _ in range(self.batch_size)
            ]
        return [Architecture(self.space.name, t.values) for t in traces]

    def state_dict(self) -> dict[str, Any]:
        """The sampling generator, the baseline and the parameters last loaded (those of its open batch)."""
        return {
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "params": {n: p.detach().clone() for n, p in self.controller.named_parameters()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        if "params" in state:
            self.controller.load_state_dict(state["params"])

    def gradient(self, archs: Sequence[Architecture], rewards: Sequence[float]) -> dict[str, torch.Tensor]:
        """REINFORCE gradient (of ``reinforce_loss``) at the loaded parameters; then update the baseline."""
        if len(archs) != len(rewards) or not archs:
            raise ConfigError(f"need one reward per architecture, got {len(archs)} and {len(rewards)}")
        log_probs, entropies = self.controller.score(self.space, [a.values for a in archs])
        reward_tensor = torch.tensor([float(r) for r in rewards])
        if self.baseline is None:
            self.baseline = float(reward_tensor.mean())
        loss = reinforce_loss(log_probs, reward_tensor, self.baseline, entropies, self.entropy_weight)
        self.controller.zero_grad(set_to_none=True)
        loss.backward()
        grads = {
            n: p.grad.detach().clone() for n, p in self.controller.named_parameters() if p.grad is not None
        }
        for r in reward_tensor.tolist():
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        return grads


@dataclass(frozen=True)
class ParameterServerOptions:
    """The ``nasrl_ps`` options that shape the actors (see ``ParameterServerReinforce``)."""

    num_replicas: int
    children_per_replica: int
    num_shards: int
    lr: float
    baseline_decay: float
    accumulate: int
    controller: ControllerConfig
    child_cpus: float = 1.0
    child_gpus: float = 0.0
