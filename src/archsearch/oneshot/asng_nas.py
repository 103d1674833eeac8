"""ASNG-NAS: supernet weights and a categorical architecture distribution trained together (SPEC.md 5)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot.base import (
    Batch,
    OneShotMethod,
    cosine_lr,
    non_negative,
    positive,
    positive_int,
    register_method,
)
from archsearch.oneshot.supernet import Supernet
from archsearch.strategies import asng_math


@register_method("asng")
class ASNGNAS(OneShotMethod):
    """Adaptive stochastic natural gradient NAS (Akimoto, Shirakawa, Yoshinari, Uchida, Saito & Nishida,
    "Adaptive Stochastic Natural Gradient Method for One-Shot Neural Architecture Search", ICML 2019).

    One ``step`` is the iteration of SPEC 5.2: draw ``lam`` (lambda = 2) architectures c_i ~ p_theta, one
    SGD step on the weights with the mean gradient of their training losses, their losses f_i on the
    validation batch with the NEW weights, then theta <- clip(theta + delta G / ||G||_F) with the ranking
    utility and the SNR rule for delta (alpha = 1.5, delta^0 = 1; SPEC 5.3) and theta_min =
    1 / (D (K - 1)) (SPEC 5.4); the math is ``strategies.asng_math``. Weights: SGD lr 0.025 cosine to 0
    over ``total_steps``, momentum 0.9, no Nesterov, weight decay 3e-4, gradient norm clipped at 5
    (the reference code). ``converged`` once every edge's top probability reaches the ceiling that
    clipping allows (within ``tolerance``). Derivation: the argmax of theta per edge (DARTS space: the
    supernet's top-2 rule applied to theta, so the cell is valid).
    """

    def __init__(
        self,
        supernet: Supernet,
        *,
        seed: int,
        total_steps: int = 10_000,
        lam: int = 2,
        alpha: float = 1.5,
        delta_init: float = 1.0,
        delta_max: float = float("inf"),
        lr: float = 0.025,
        lr_min: float = 0.0,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        tolerance: float = 1e-3,
    ) -> None:
        super().__init__(supernet, seed=seed)
        self.total_steps = positive_int("total_steps", total_steps, "asng")
        if type(lam) is not int or lam < 2:
            raise ConfigError(f"asng: lam must be an int >= 2 (a ranking needs two samples), got {lam!r}")
        self.lam = lam
        self.alpha = positive("alpha", alpha, "asng")
        self.delta_max = positive("delta_max", delta_max, "asng")
        self.lr = positive("lr", lr, "asng")
        self.lr_min = non_negative("lr_min", lr_min, "asng")
        self.grad_clip = positive("grad_clip", grad_clip, "asng")
        self.tolerance = positive("tolerance", tolerance, "asng")
        self.num_choices = supernet.num_choices()
        self.lower = asng_math.theta_lower_bound(self.num_choices)
        self.theta = asng_math.uniform_theta(self.num_choices)
        self.step_size = asng_math.StepSize.initial(
            asng_math.num_free_params(self.num_choices), positive("delta_init", delta_init, "asng")
        )
        self.optimizer = torch.optim.SGD(
            supernet.parameters(),
            lr=self.lr,
            momentum=non_negative("momentum", momentum, "asng"),
            weight_decay=non_negative("weight_decay", weight_decay, "asng"),
        )

    def step(self, train_batch: Batch, valid_batch: Batch) -> dict[str, float]:
        train_batch, valid_batch = self.to_device(train_batch), self.to_device(valid_batch)
        samples = np.stack([asng_math.sample_indices(self.theta, self.rng) for _ in range(self.lam)])
        lr = cosine_lr(self.steps_done, self.total_steps, self.lr, self.lr_min)

        def backward() -> float:  # per sample: the mean gradient without holding lam graphs at once
            total = 0.0
            for choice in samples:
                loss, _ = self.subnet_loss(train_batch, choice)
                (loss / self.lam).backward()
                total += float(loss.detach()) / self.lam
            return total

        train_loss = self.train_weights(self.optimizer, lr, self.grad_clip, backward)
        with torch.no_grad():
            scored = [self.subnet_loss(valid_batch, choice) for choice in samples]
        losses = np.array([float(loss) for loss, _ in scored])
        self.update(samples, losses)
        self.steps_done += 1
        return {
            "train_loss": train_loss,
            "valid_loss": float(losses.mean()),
            "valid_acc": float(np.mean([accuracy for _, accuracy in scored])),
            "lr": lr,
            "delta": self.step_size.delta,
            "theta_max_mean": float(self.theta.max(axis=1).mean()),
        }

    def update(self, samples: np.ndarray, losses: np.ndarray) -> None:
        """The distribution's step (SPEC 5.2-5.4) from ``samples`` (lam, edges) of op indices and their
        validation ``losses`` (lower is better)."""
        self.theta, self.step_size = asng_math.asng_step(
            self.theta,
            self.step_size,
            asng_math.one_hot(samples, self.num_choices),
            np.asarray(losses, dtype=float),
            self.num_choices,
            self.alpha,
            self.delta_max,
            self.lower,
        )

    def probabilities(self) -> np.ndarray:
        return self.theta.copy()

    def derived_choice(self) -> np.ndarray:
        return self.supernet.derive(self.theta)

    def converged(self) -> bool:
        return asng_math.is_converged(self.theta, self.num_choices, self.lower, self.tolerance)

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                **self._base_state(),
                "optimizer": self.optimizer.state_dict(),
                "theta": self.theta.copy(),
                "delta": self.step_size.delta,
                "s": self.step_size.s.copy(),
                "gamma": self.step_size.gamma,
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_base_state(state)
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.theta = np.array(state["theta"], dtype=float)
        self.step_size = asng_math.StepSize(
            delta=float(state["delta"]), s=np.array(state["s"], dtype=float), gamma=float(state["gamma"])
        )
