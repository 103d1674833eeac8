"""The interface every one-shot method (ENAS, DARTS, ASNG-NAS) offers to the search loop, and their registry.

A method owns a supernet (oneshot/supernet.py) whose architecture is one categorical choice of an op per
edge, trains its shared weights and its architecture distribution together in ``step``, and derives the
discrete architecture of the normal search space at the end (SPEC.md 3.3, 3.4, 5).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.oneshot.supernet import Supernet

Batch = tuple[Tensor, Tensor]


def cosine_lr(step: int, total_steps: int, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine annealing from ``lr_max`` at step 0 to ``lr_min`` at ``total_steps`` (SGDR without restarts,
    Loshchilov & Hutter 2017), held at ``lr_min`` after the end; a pure function of the step so that a
    resumed run continues the schedule exactly."""
    progress = min(step, total_steps) / total_steps
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * progress))


def positive(name: str, value: float, method: str) -> float:
    """``value`` as a float; ConfigError unless it is positive."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{method}: {name} must be a positive number, got {value!r}")
    return float(value)


def positive_int(name: str, value: int, method: str) -> int:
    """``value``; ConfigError unless it is an int >= 1."""
    if type(value) is not int or value < 1:
        raise ConfigError(f"{method}: {name} must be an int >= 1, got {value!r}")
    return value


def non_negative(name: str, value: float, method: str) -> float:
    """``value`` as a float; ConfigError unless it is >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{method}: {name} must be a number >= 0, got {value!r}")
    return float(value)


class OneShotMethod(abc.ABC):
    """A weight-sharing architecture search on a ``Supernet``.

    ``__init__(supernet, *, seed, **hyper)`` takes the paper's defaults for every hyper-parameter; the
    keyword ``total_steps`` (the number of ``step`` calls the run will make) sets the length of the
    cosine learning-rate schedules. Randomness flows from ``seed`` only, so the same seed and the same
    batches give the same trajectory, and ``state_dict`` holds everything a resume needs.
    """

    name: ClassVar[str]

    def __init__(self, supernet: Supernet, *, seed: int) -> None:
        self.supernet = supernet
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.steps_done = 0

    @property
    def device(self) -> torch.device:
        return next(self.supernet.parameters()).device

    def to_device(self, batch: Batch) -> Batch:
        inputs, targets = batch
        return inputs.to(self.device), targets.to(self.device)

    def subnet_loss(self, batch: Batch, choice: np.ndarray) -> tuple[Tensor, float]:
        """Cross-entropy and accuracy of the sub-network ``choice`` on ``batch`` (already on the device)."""
        inputs, targets = batch
        logits = self.supernet(inputs, choice=torch.as_tensor(choice, dtype=torch.long))
        accuracy = float((logits.argmax(dim=1) == targets).float().mean())
        return nn.functional.cross_entropy(logits, targets), accuracy

    def train_weights(
        self, optimizer: torch.optim.Optimizer, lr: float, grad_clip: float, backward: Callable[[], float]
    ) -> float:
        """One step of ``optimizer`` on the supernet's weights at ``lr``: ``backward()`` runs the backward
        passes and returns the loss to report; the gradient norm is clipped at ``grad_clip`` first."""
        for group in optimizer.param_groups:
            group["lr"] = lr
        self.supernet.train()
        optimizer.zero_grad(set_to_none=True)
        loss = backward()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), grad_clip)
        optimizer.step()
        return loss

    @abc.abstractmethod
    def step(self, train_batch: Batch, valid_batch: Batch) -> dict[str, float]:
        """One search iteration: weight update(s) and one architecture update; returns metrics
        (at least ``train_loss``)."""

    @abc.abstractmethod
    def probabilities(self) -> np.ndarray:
        """[edges, ops]: the method's current distribution over the op of each edge."""

    @abc.abstractmethod
    def derived_choice(self) -> np.ndarray:
        """[edges] op index per edge of the derived discrete architecture (in the supernet's op order)."""

    def derive(self) -> Architecture:
        """The discrete architecture of the normal search space that the search found."""
        return self.supernet.to_architecture(self.derived_choice())

    @torch.no_grad()
    def estimate(self, loader: Iterable[Batch]) -> float:
        """Accuracy of ``derive()`` on ``loader`` with the shared weights (the method's own estimate)."""
        choice = torch.as_tensor(self.derived_choice(), dtype=torch.long)
        correct = total = 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            logits = self.supernet(inputs, choice=choice)
            correct += int((logits.argmax(dim=1) == targets).sum())
            total += int(targets.numel())
        if total == 0:
            raise ConfigError("one-shot estimate: the loader gave no examples")
        return correct / total

    @abc.abstractmethod
    def converged(self) -> bool:
        """True once the architecture distribution has settled (the run may stop early)."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything for an exact resume: weights, optimizers, distribution or controller, random state."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned; the next ``step`` equals the uninterrupted run's."""

    def _base_state(self) -> dict[str, Any]:
        return {
            "supernet": self.supernet.state_dict(),
            "rng": self.rng.bit_generator.state,
            "steps_done": self.steps_done,
            "seed": self.seed,
        }

    def _load_base_state(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.rng.bit_generator.state = state["rng"]
        self.steps_done = int(state["steps_done"])
        self.seed = int(state["seed"])


METHODS: dict[str, type[OneShotMethod]] = {}
"""Method name -> class: "enas", "darts" (hyper ``order`` = 1 or 2), "asng". Filled on import of
``archsearch.oneshot``."""

MethodT = TypeVar("MethodT", bound=type[OneShotMethod])


def register_method(name: str) -> Callable[[MethodT], MethodT]:
    """Class decorator that lists a method in ``METHODS`` under ``name``."""

    def add(cls: MethodT) -> MethodT:
        cls.name = name
        METHODS[name] = cls
        return cls

    return add


def make_method(name: str, supernet: Supernet, *, seed: int, **hyper: Any) -> OneShotMethod:
    """The method ``name`` on ``supernet``; ConfigError naming the known methods otherwise."""
    import archsearch.oneshot  # noqa: F401  (registers every method)

    if name not in METHODS:
        raise ConfigError(f"unknown one-shot method {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[name](supernet, seed=seed, **hyper)
