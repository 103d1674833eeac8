"""REINFORCE with an exponential-moving-average baseline over the LSTM controller."""

from __future__ import annotations

import copy
from typing import Any

import torch

from archsearch.controllers.lstm import LSTMController, Trace
from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies.curriculum import DepthCurriculum


def reinforce_loss(
    log_probs: torch.Tensor,
    rewards: torch.Tensor,
    baseline: float,
    entropies: torch.Tensor | None = None,
    entropy_weight: float = 0.0,
) -> torch.Tensor:
    """Loss whose gradient is minus the REINFORCE estimate with a baseline.

    Zoph & Le 2017, eq. 2-3: grad J = (1/m) sum_k sum_t grad log P(a_t | a_<t) (R_k - b); minimising
    this loss is gradient ascent on J. An optional entropy bonus keeps the policy exploring.
    """
    loss = -((rewards - baseline) * log_probs).mean()
    if entropies is not None and entropy_weight:
        loss = loss - entropy_weight * entropies.mean()
    return loss


class Reinforce(Strategy):
    """NAS-RL: the LSTM controller trained by REINFORCE (Zoph & Le, ICLR 2017).

    Every ``batch_size`` results (m in the paper; 8 children per controller replica on CIFAR-10, the
    default) the controller takes one Adam step (lr 0.0006 in the
    paper) on the REINFORCE estimate with baseline b, an exponential moving average of earlier rewards
    (decay ``baseline_decay``; 0.95 is NASNet's value, the paper gives none). The first batch initialises
    b to its mean reward so that the first update is centred. An optional ``curriculum`` grows the depth
    of the sampled networks as sampling goes on.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        lr: float = 0.0006,
        batch_size: int = 8,
        baseline_decay: float = 0.95,
        hidden_size: int = 35,
        num_layers: int = 2,
        init_range: float = 0.08,
        entropy_weight: float = 0.0,
        curriculum: DepthCurriculum | dict[str, int] | None = None,
    ) -> None:
        name = type(self).__name__
        if lr <= 0:
            raise ConfigError(f"{name} lr must be positive, got {lr}")
        if batch_size < 1:
            raise ConfigError(f"{name} batch_size must be at least 1, got {batch_size}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ConfigError(f"{name} baseline_decay must be in [0, 1), got {baseline_decay}")
        self.space = space
        self.batch_size = batch_size
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        if isinstance(curriculum, dict):
            curriculum = DepthCurriculum(**curriculum)
        self.curriculum = curriculum
        if curriculum is not None:
            curriculum.space_for(space, 0)  # fails early for spaces without depth
        self.generator = torch.Generator().manual_seed(seed)
        self.controller = LSTMController(space.kinds(), hidden_size, num_layers, init_range, self.generator)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr)
        self.baseline: float | None = None
        self.buffer: list[tuple[tuple[Any, ...], float]] = []
        self.num_sampled = 0
        self.num_updates = 0

    def current_space(self) -> SearchSpace:
        if self.curriculum is None:
            return self.space
        return self.curriculum.space_for(self.space, self.num_sampled)

    def sample(self) -> Trace:
        """One walk of the controller over the current space (no gradient); counts it as sampled."""
        with torch.inference_mode():
            trace = self.controller.walk(self.current_space(), generator=self.generator)
        self.num_sampled += 1
        return trace

    def ask(self) -> Architecture:
        return Architecture(self.space.name, self.sample().values)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        self.buffer.append((arch.values, float(reward)))
        if len(self.buffer) >= self.batch_size:
            self.update()

    def update(self) -> float:
        """Controller step(s) on the buffered results against the baseline (initialised by the first
        batch's mean reward), then the baseline's moving average over the batch; returns the last loss."""
        rewards = torch.tensor([r for _, r in self.buffer])
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        loss = self.controller_update(rewards, self.baseline)
        for r in rewards.tolist():
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        self.buffer.clear()
        self.num_updates += 1
        return float(loss.detach())

    def controller_update(self, rewards: torch.Tensor, baseline: float) -> torch.Tensor:
        """One Adam step on the REINFORCE loss of the buffered architectures; returns the loss."""
        log_probs, entropies = self.controller.score(self.space, [values for values, _ in self.buffer])
        loss = reinforce_loss(log_probs, rewards, baseline, entropies, self.entropy_weight)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss

    def progress(self) -> dict[str, float]:
        return {} if self.baseline is None else {"baseline": self.baseline}

    def state_dict(self) -> dict[str, Any]:
        return {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "buffer": list(self.buffer),
            "num_sampled": self.num_sampled,
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)  # the optimizer would otherwise share moment tensors with the source
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        self.buffer = [(tuple(v), float(r)) for v, r in state["buffer"]]
        self.num_sampled = int(state["num_sampled"])
        self.num_updates = int(state["num_updates"])
