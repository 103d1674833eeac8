"""PPO over the LSTM controller: NASNet's clipped-surrogate training of the architecture policy."""

from __future__ import annotations

from collections import deque
from typing import Any

import torch

from archsearch.core import Architecture, Result, SearchSpace
from archsearch.errors import ConfigError
from archsearch.strategies.curriculum import DepthCurriculum
from archsearch.strategies.reinforce import Reinforce


def ppo_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
    entropies: torch.Tensor | None = None,
    entropy_weight: float = 0.0,
) -> torch.Tensor:
    """Minus the clipped surrogate objective (Schulman et al. 2017, eq. 7; SPEC.md 3.1):
    L = -E[min(r A, clip(r, 1 - eps, 1 + eps) A)], r = pi_new(a) / pi_old(a), minus an entropy bonus."""
    ratio = torch.exp(log_probs - old_log_probs)
    surrogate = torch.minimum(ratio * advantages, torch.clamp(ratio, 1 - clip, 1 + clip) * advantages)
    loss = -surrogate.mean()
    if entropies is not None and entropy_weight:
        loss = loss - entropy_weight * entropies.mean()
    return loss


class PPO(Reinforce):
    """NASNet's controller training: the LSTM controller trained by PPO (Zoph, Vasudevan, Shlens & Le,
    CVPR 2018, section 3 and appendix; PPO of Schulman et al. 2017). NAS-RL with the update replaced.

    Every ``batch_size`` results the controller takes ``epochs`` Adam steps (``lr`` 0.00035, NASNet) on
    the clipped surrogate with ratio pi_new / pi_old of the whole architecture (``clip`` epsilon 0.2, the
    PPO default; NASNet's own epsilon is not published) and advantage A = R - b, where b is an
    exponential moving average of the rewards (``baseline_decay`` 0.95, NASNet) initialised by the first
    batch's mean. NASNet also adds an entropy bonus (``entropy_weight`` 1e-5) and initialises weights
    U(-0.1, 0.1) (``init_range``), with a one-layer, 100-unit LSTM. SPEC.md 3.1 marks these NASNet
    constants unverified. ``batch_size`` 20 and ``epochs`` 4 are ours: NASNet does not publish them.
    ``curriculum`` grows the depth as in ``Reinforce``.

    Asynchronous: pi_old is the probability under the policy that sampled the architecture, stored at
    ask time for each outstanding ask (duplicates in order), so late results are corrected by the ratio
    and the clip. A result told without an ask is scored under the current policy. Failed trials are
    learned from with the reward they are told (0 from the default reward).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        lr: float = 0.00035,
        clip: float = 0.2,
        epochs: int = 4,
        batch_size: int = 20,
        baseline_decay: float = 0.95,
        entropy_weight: float = 1e-5,
        hidden_size: int = 100,
        num_layers: int = 1,
        init_range: float = 0.1,
        curriculum: DepthCurriculum | dict[str, int] | None = None,
    ) -> None:
        if not 0 < clip < 1:
            raise ConfigError(f"ppo clip must be in (0, 1), got {clip}")
        if epochs < 1:
            raise ConfigError(f"ppo epochs must be at least 1, got {epochs}")
        super().__init__(
            space,
            seed,
            lr=lr,
            batch_size=batch_size,
            baseline_decay=baseline_decay,
            hidden_size=hidden_size,
            num_layers=num_layers,
            init_range=init_range,
            entropy_weight=entropy_weight,
            curriculum=curriculum,
        )
        self.clip = clip
        self.epochs = epochs
        self.pending: dict[tuple[Any, ...], deque[float]] = {}  # values -> log pi_old of each open ask
        self.old_log_probs: list[float] = []  # of the buffered results, in buffer order

    def ask(self) -> Architecture:
        trace = self.sample()
        self.pending.setdefault(trace.values, deque()).append(float(trace.log_prob))
        return Architecture(self.space.name, trace.values)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        olds = self.pending.get(arch.values)
        if olds:
            self.old_log_probs.append(olds.popleft())
            if not olds:
                del self.pending[arch.values]
        else:
            with torch.no_grad():
                self.old_log_probs.append(float(self.controller.walk(self.space, arch.values).log_prob))
        super().tell(arch, result, reward)

    def update(self) -> float:
        """``epochs`` controller steps on the buffered results; returns the last loss."""
        loss = super().update()
        self.old_log_probs.clear()
        return loss

    def controller_update(self, rewards: torch.Tensor, baseline: float) -> torch.Tensor:
        old = torch.tensor(self.old_log_probs)
        advantages = rewards - baseline
        loss = torch.zeros(())
        for _ in range(self.epochs):
            log_probs, entropies = self.controller.score(self.space, [values for values, _ in self.buffer])
            loss = ppo_loss(log_probs, old, advantages, self.clip, entropies, self.entropy_weight)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "pending": [(values, list(olds)) for values, olds in self.pending.items()],
            "old_log_probs": list(self.old_log_probs),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # copies what could be shared
        self.pending = {values: deque(float(x) for x in olds) for values, olds in state["pending"]}
        self.old_log_probs = [float(x) for x in state["old_log_probs"]]
