"""NAS-RL's controller replicas: each pulls the servers' weights, samples m children, computes their gradient.

Zoph & Le, ICLR 2017, section 3.3 (SPEC.md 1.7): K replicas of the LSTM controller; each samples m
architectures on the parameters it pulled and, once their m rewards are in, computes the REINFORCE
gradient at exactly those parameters and pushes it to the servers (``servers.py``).
"""

from __future__ import annotations

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
