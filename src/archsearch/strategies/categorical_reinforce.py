"""REINFORCE on independent per-decision softmax policies: the NB201 paper's "REINFORCE" baseline."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies.mutation import categorical_decisions, from_indices, num_choices, to_indices

# torch.optim.Adam's defaults, which the reference code uses
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def softmax_rows(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the valid entries of ``logits`` (zeros elsewhere)."""
    shifted = np.where(mask, logits, -np.inf)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def log_prob_gradient(probs: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """d/d logits of sum_d log softmax(logits_d)[indices_d]: onehot(indices) - probs, row by row."""
    grad = -probs
    grad[np.arange(len(indices)), indices] += 1.0
    return grad


def adam_step(
    param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, step: int, lr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam step (Kingma & Ba 2015, Algorithm 1; torch.optim.Adam's arithmetic) minimising a loss of
    gradient ``grad``; ``step`` counts from 1. Returns the new parameter and moments."""
    beta1, beta2 = ADAM_BETAS
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    denom = np.sqrt(v) / np.sqrt(1 - beta2**step) + ADAM_EPS
    return param - (lr / (1 - beta1**step)) * m / denom, m, v


class CategoricalReinforce(Strategy):
    """REINFORCE on one independent softmax per decision (Williams 1992), as the "REINFORCE" baseline of
    NAS-Bench-201 (Dong & Yang, ICLR 2020; AutoDL-Projects ``exps/NAS-Bench-201-algos/reinforce.py``).

    Logits start at 1e-3 N(0, 1) (code). After every result, one Adam step (``lr``; 0.01 is the value
    passed by AutoDL-Projects ``exps/NATS-algos/run-all.sh``; the NB201 scripts take it as an argument
    and grid it over 0.01, 0.02, 0.1, 0.2, 0.5 in ``scripts-search/NAS-Bench-201-algos/hps/GRID-RL.sh``)
    on the loss -(R - b) sum_d log pi(a_d), with b a bias-corrected exponential moving average of the
    rewards *including* the current one (``baseline_decay``, the code's ``EMA_momentum`` 0.9 in
    REINFORCE.sh and NATS-algos).

    Asynchronous: the log-probability is taken under the policy at tell time (the code is synchronous,
    where that is the policy that sampled). Failed trials are learned from with the reward they are told
    (0 from the default reward), which pushes the policy away from them. Needs a fixed-length space of
    categorical decisions.
    """

    def __init__(
        self, space: SearchSpace, seed: int = 0, lr: float = 0.01, baseline_decay: float = 0.9
    ) -> None:
        if lr <= 0:
            raise ConfigError(f"categorical_reinforce lr must be positive, got {lr}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ConfigError(f"categorical_reinforce baseline_decay must be in [0, 1), got {baseline_decay}")
        self.space = space
        self.lr = lr
        self.baseline_decay = baseline_decay
        self.decisions = categorical_decisions(space, "categorical_reinforce")
        sizes = num_choices(self.decisions)
        self.mask = np.arange(int(sizes.max()))[None, :] < sizes[:, None]
        self.rng = np.random.default_rng(seed)
        self.logits = np.where(self.mask, 1e-3 * self.rng.standard_normal(self.mask.shape), 0.0)
        self.adam_m = np.zeros_like(self.logits)
        self.adam_v = np.zeros_like(self.logits)
        self.num_updates = 0
        # ExponentialMovingAverage of the reference code: numerator / denominator (bias-corrected)
        self.ema_sum = 0.0
        self.ema_weight = 0.0

    @property
    def baseline(self) -> float | None:
        return self.ema_sum / self.ema_weight if self.ema_weight else None

    def probabilities(self) -> np.ndarray:
        """pi, shape (D, K_max), zeros beyond each decision's choices."""
        return softmax_rows(self.logits, self.mask)

    def ask(self) -> Architecture:
        cumulative = self.probabilities().cumsum(axis=1)
        u = self.rng.random((len(self.decisions), 1))
        indices = np.minimum((cumulative <= u).sum(axis=1), self.mask.sum(axis=1) - 1)
        return from_indices(self.space, self.decisions, indices)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        indices = to_indices(self.decisions, arch)
        self.ema_sum = self.baseline_decay * self.ema_sum + (1 - self.baseline_decay) * reward
        self.ema_weight = self.baseline_decay * self.ema_weight + (1 - self.baseline_decay)
        advantage = float(reward) - self.ema_sum / self.ema_weight
        grad = -advantage * log_prob_gradient(self.probabilities(), indices)  # of the loss
        self.num_updates += 1
        self.logits, self.adam_m, self.adam_v = adam_step(
            self.logits, grad * self.mask, self.adam_m, self.adam_v, self.num_updates, self.lr
        )

    def most_likely(self) -> Architecture:
        """The per-decision argmax of the policy."""
        return from_indices(
            self.space, self.decisions, np.where(self.mask, self.logits, -np.inf).argmax(axis=1)
        )

    def progress(self) -> dict[str, float]:
        baseline = self.baseline
        return {} if baseline is None else {"baseline": baseline}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "logits": self.logits.copy(),
            "adam_m": self.adam_m.copy(),
            "adam_v": self.adam_v.copy(),
            "num_updates": self.num_updates,
            "ema_sum": self.ema_sum,
            "ema_weight": self.ema_weight,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self.rng.bit_generator.state = state["rng"]
        self.logits = np.asarray(state["logits"], dtype=float)
        self.adam_m = np.asarray(state["adam_m"], dtype=float)
        self.adam_v = np.asarray(state["adam_v"], dtype=float)
        self.num_updates = int(state["num_updates"])
        self.ema_sum = float(state["ema_sum"])
        self.ema_weight = float(state["ema_weight"])
