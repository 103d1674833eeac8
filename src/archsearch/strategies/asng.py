"""ASNG as a black-box strategy: a categorical distribution over the decisions, moved by natural gradients."""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies import asng_math
from archsearch.strategies.mutation import categorical_decisions, from_indices, num_choices, to_indices


@dataclass
class _Batch:
    """lam samples that make one update: their indices and rewards (None until told)."""

    samples: list[np.ndarray] = field(default_factory=list)
    rewards: list[float | None] = field(default_factory=list)


class ASNG(Strategy):
    """Adaptive stochastic natural gradient (Akimoto, Shirakawa, Yoshinari, Uchida, Saito & Nishida,
    ICML 2019; SPEC.md section 5) over independent categorical decisions, with the trained reward as f.

    Every ``lam`` results (lambda in the paper, 2) theta moves by delta G / ||G||_F with the ranking
    utility; the step size delta starts at ``delta_init`` (delta^0 = 1) and is adapted to keep the SNR of
    G near ``alpha`` (1.5), capped at ``delta_max``; theta is clipped to theta_min = 1/(D (K - 1)).
    The paper's values are fixed for all tasks and are the defaults. The math is in ``asng_math``.

    Asynchronous: an ask fills the newest incomplete group of lam samples or starts a new one from the
    current theta; a group updates theta when its last result arrives, whatever the order. A failed
    trial ranks below every successful one. Needs a fixed-length space of categorical decisions.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        lam: int = 2,
        delta_init: float = 1.0,
        alpha: float = 1.5,
        delta_max: float = float("inf"),
    ) -> None:
        if lam < 2:
            raise ConfigError(f"asng lam must be at least 2 (a ranking needs two samples), got {lam}")
        if delta_init <= 0 or delta_max <= 0:
            raise ConfigError("asng delta_init and delta_max must be positive")
        if alpha <= 0:
            raise ConfigError(f"asng alpha must be positive, got {alpha}")
        self.space = space
        self.lam = lam
        self.alpha = alpha
        self.delta_max = delta_max
        self.decisions = categorical_decisions(space, "asng")
        self.num_choices = num_choices(self.decisions)
        self.lower = asng_math.theta_lower_bound(self.num_choices)
        self.rng = np.random.default_rng(seed)
        self.theta = asng_math.uniform_theta(self.num_choices)
        self.step = asng_math.StepSize.initial(asng_math.num_free_params(self.num_choices), delta_init)
        self.batches: dict[int, _Batch] = {}
        self.next_batch = 0
        self.pending: dict[Architecture, deque[tuple[int, int]]] = {}  # arch -> (batch, slot), oldest first
        self.num_updates = 0

    def _open_slot(self, indices: np.ndarray) -> tuple[int, int]:
        """Put a sample into the newest batch that still takes one, or into a new batch."""
        newest = self.next_batch - 1
        if newest not in self.batches or len(self.batches[newest].samples) >= self.lam:
            newest = self.next_batch
            self.batches[newest] = _Batch()
            self.next_batch += 1
        batch = self.batches[newest]
        batch.samples.append(indices)
        batch.rewards.append(None)
        return newest, len(batch.samples) - 1

    def ask(self) -> Architecture:
        indices = asng_math.sample_indices(self.theta, self.rng)
        arch = from_indices(self.space, self.decisions, indices)
        self.pending.setdefault(arch, deque()).append(self._open_slot(indices))
        return arch

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        slots = self.pending.get(arch)
        if slots:
            batch_id, slot = slots.popleft()
            if not slots:
                del self.pending[arch]
        else:  # told without an ask (warm start): it joins a group like a fresh sample
            batch_id, slot = self._open_slot(to_indices(self.decisions, arch))
        batch = self.batches[batch_id]
        batch.rewards[slot] = float(reward) if result.ok else -np.inf
        if len(batch.samples) == self.lam and all(r is not None for r in batch.rewards):
            del self.batches[batch_id]
            self.update(np.array(batch.samples), np.array(batch.rewards, dtype=float))

    def update(self, indices: np.ndarray, rewards: np.ndarray) -> None:
        """One ASNG step from samples (lam, D) and their rewards (higher is better)."""
        samples = asng_math.one_hot(indices, self.num_choices)
        self.theta, self.step = asng_math.asng_step(
            self.theta, self.step, samples, -rewards, self.num_choices, self.alpha, self.delta_max, self.lower
        )
        self.num_updates += 1

    def most_likely(self) -> Architecture:
        """The per-decision argmax of theta: ASNG's answer when the search stops."""
        return from_indices(self.space, self.decisions, self.theta.argmax(axis=1))

    def progress(self) -> dict[str, float]:
        return {"delta": self.step.delta, "theta_max_mean": float(self.theta.max(axis=1).mean())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "theta": self.theta.copy(),
            "delta": self.step.delta,
            "s": self.step.s.copy(),
            "gamma": self.step.gamma,
            "batches": {
                i: ([s.tolist() for s in b.samples], list(b.rewards)) for i, b in self.batches.items()
            },
            "next_batch": self.next_batch,
            "pending": [(arch.to_dict(), list(slots)) for arch, slots in self.pending.items()],
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self.rng.bit_generator.state = state["rng"]
        self.theta = np.asarray(state["theta"], dtype=float)
        self.step = asng_math.StepSize(
            delta=float(state["delta"]), s=np.asarray(state["s"], dtype=float), gamma=float(state["gamma"])
        )
        self.batches = {
            int(i): _Batch([np.array(s) for s in samples], list(rewards))
            for i, (samples, rewards) in state["batches"].items()
        }
        self.next_batch = int(state["next_batch"])
        self.pending = {
            Architecture.from_dict(a): deque((int(b), int(k)) for b, k in slots)
            for a, slots in state["pending"]
        }
        self.num_updates = int(state["num_updates"])
