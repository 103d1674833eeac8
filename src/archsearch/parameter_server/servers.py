"""NAS-RL's parameter servers: S shards of the controller's weights, each with its own Adam.

Zoph & Le, ICLR 2017, section 3.3 (SPEC.md 1.7): S parameter-server shards hold the controller's weights;
K replicas each pull them, sample m children, and push the REINFORCE gradient of their m rewards; the
shards apply Adam as gradients arrive, with no barrier between replicas. A gradient computed on version v
and applied at version v' has staleness v' - v. For PTB the servers apply an update only once ``accumulate``
replica gradients (10 in the paper) have arrived, averaging them.

Plain in-process objects: the same shards serve the discrete-event simulation
(``benchmarks/ps_simulation.py``), the ask/tell strategy (``strategy.py``) and, as Ray actors, the cluster
driver (``ray_driver.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from archsearch.errors import ConfigError


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
