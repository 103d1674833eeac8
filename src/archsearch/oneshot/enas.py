"""ENAS: an LSTM controller samples sub-networks of a weight-sharing supernet, trained by REINFORCE (SPEC.md 3.3)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from archsearch.controllers.lstm import LSTMController
from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.oneshot.base import (
    Batch,
    OneShotMethod,
    non_negative,
    positive,
    positive_int,
    register_method,
)
from archsearch.oneshot.supernet import Supernet
from archsearch.strategies.asng_math import one_hot
from archsearch.strategies.reinforce import reinforce_loss

OP_KIND = "op"
PAPER_CONTROLLER_STEPS_PER_EPOCH = 2000


def optional_positive(name: str, value: float | None) -> float | None:
    """``value`` as a float, or None; ConfigError unless it is positive."""
    return None if value is None else positive(name, value, "enas")


class EdgeChoiceSpace(SearchSpace):
    """A supernet's categorical structure as a search space the LSTM controller walks: decision e picks
    the op index of edge e; all edges share one controller head (kind ``"op"``).

    ``num_choices`` (K_d per edge) replaces the one ``num_ops`` for a supernet whose decisions differ (a
    user's model space): each decision then gets its own head, of its own K_d choices (kind ``"op<d>"``),
    as NAS-RL gives each kind of decision its own softmax (Zoph & Le 2017).
    """

    name = "supernet_edges"

    def __init__(self, edges: int, num_ops: int, num_choices: Sequence[int] | None = None) -> None:
        self.edges = edges
        self.num_ops = num_ops
        if num_choices is None:
            self._decisions = tuple(
                Decision(f"edge{e}", OP_KIND, tuple(range(num_ops))) for e in range(edges)
            )
        else:
            if len(num_choices) != edges:
                raise ValueError(f"num_choices needs {edges} entries, got {len(num_choices)}")
            self._decisions = tuple(
                Decision(f"edge{e}", f"{OP_KIND}{e}", tuple(range(int(k)))) for e, k in enumerate(num_choices)
            )
        self.num_choices = None if num_choices is None else [int(k) for k in num_choices]

    @classmethod
    def of(cls, supernet: Supernet) -> EdgeChoiceSpace:
        """The edges of ``supernet``: one shared head when every edge has all ops, else one per edge."""
        num_choices = supernet.num_choices()
        if bool(np.all(num_choices == len(supernet.op_names))):
            return cls(supernet.edges, len(supernet.op_names))
        return cls(supernet.edges, len(supernet.op_names), num_choices.tolist())

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        return self._decisions[len(prefix)] if len(prefix) < self.edges else None

    def kinds(self) -> dict[str, Decision]:
        if self.num_choices is None:
            return {OP_KIND: self._decisions[0]}
        return {decision.kind: decision for decision in self._decisions}

    def encode(self, arch: Architecture) -> str:
        return ",".join(str(v) for v in arch.values)

    def decode(self, text: str) -> Architecture:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise InvalidArchitectureError(
                f"{self.name}: expected comma-separated op indices, got {text!r}"
            ) from None
        arch = Architecture(self.name, values)
        self.validate(arch)
        return arch

    def config(self) -> dict[str, Any]:
        return {"edges": self.edges, "num_ops": self.num_ops, "num_choices": self.num_choices}


def cosine_restarts_lr(
    step: int, steps_per_epoch: int, lr_max: float, lr_min: float, first_period: float, period_factor: float
) -> float:
    """SGDR (Loshchilov & Hutter 2017): cosine from ``lr_max`` to ``lr_min`` over ``first_period`` epochs,
    then over periods ``period_factor`` times longer each, restarting at ``lr_max``; a pure function of
    the step (ENAS code: T0 = 10, Tmul = 2)."""
    epoch = step / steps_per_epoch
    period = first_period
    while epoch >= period:
        epoch -= period
        period *= period_factor
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * epoch / period))


@register_method("enas")
class ENAS(OneShotMethod):
    """Efficient NAS via parameter sharing (Pham, Guan, Zoph, Le & Dean, ICML 2018; SPEC 3.3).

    Each ``step`` alternates the two phases at the granularity of one minibatch: the omega phase samples
    one child (M = 1) from the controller and takes an SGD step on the shared weights on the training
    batch (Nesterov momentum 0.9; cosine lr 0.05 -> 0.0005 with restarts T0 = 10 epochs of
    ``steps_per_epoch`` steps, Tmul = 2; l2 1e-4; gradient norm clipped at 5; code); then the theta phase
    takes REINFORCE steps with the weights fixed: a sampled child's reward is its accuracy on the
    validation batch plus ``entropy_weight`` (1e-4, CIFAR code) times the sample's entropy, against a
    moving-average baseline (decay 0.99, code, starting at 0); Adam lr 0.00035 (paper; the micro search
    script uses 0.0035).

    Controller steps: the paper trains the controller for 2,000 steps after each pass over the training
    data. With ``controller_steps`` None (the default) that is what happens, spread evenly over the
    epoch's minibatches: ``controller_steps_per_epoch`` (default 2,000) steps per ``steps_per_epoch``
    minibatches, e.g. 7 or 8 per minibatch over CIFAR-10's 281 minibatches of 160, but 143 per minibatch
    over a 14-minibatch digits epoch, which makes the theta phase dominate a CPU run. An int
    ``controller_steps`` fixes the count per minibatch instead (``--set hyper.controller_steps=1`` for
    quick CPU runs). A minibatch that gets no controller step still reports the validation accuracy (and
    reward) of its omega-phase child.

    Controller: ``LSTMController`` with 100 hidden units (paper), one layer, init U(-0.1, 0.1) (code),
    walking the supernet's edges (one op per edge, ``EdgeChoiceSpace``), with ENAS's logit shaping
    ``c * tanh(logits / T)``: ``controller_tanh_constant`` c = 1.1 and no temperature, the CIFAR micro
    search's values (code; SPEC 3.3; PTB uses c = 2.5, T = 5.0 and the macro space c = 1.5). The code
    further divides c by ``op_tanh_reduce`` = 2.5 for op decisions (c = 0.44 there) and adds a fixed bias
    favouring its first two ops; neither is in the paper or SPEC, so neither is done here (set
    ``controller_tanh_constant=0.44`` to get the former).

    Derivation (paper): ``derive_samples`` children sampled from the controller, each scored on the
    latest validation batch with the shared weights, the best kept (in the DARTS cell space discretised
    by the supernet's top-2 rule). ``probabilities`` are the controller's marginals, estimated from
    ``marginal_samples`` samples. ENAS has no convergence test: ``converged`` is False.
    """

    def __init__(
        self,
        supernet: Supernet,
        *,
        seed: int,
        total_steps: int = 10_000,
        steps_per_epoch: int | None = None,
        lr: float = 0.05,
        lr_min: float = 0.0005,
        restart_period: float = 10.0,
        restart_factor: float = 2.0,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        grad_clip: float = 5.0,
        controller_lr: float = 0.00035,
        controller_hidden: int = 100,
        controller_layers: int = 1,
        controller_init_range: float = 0.1,
        controller_steps: int | None = None,
        controller_steps_per_epoch: int | None = None,
        controller_tanh_constant: float | None = 1.1,
        controller_temperature: float | None = None,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        derive_samples: int = 10,
        marginal_samples: int = 100,
    ) -> None:
        super().__init__(supernet, seed=seed)
        self.total_steps = positive_int("total_steps", total_steps, "enas")
        # without a given epoch length, ten equal "epochs": one cosine period over the whole run
        self.steps_per_epoch = (
            max(1, self.total_steps // 10)
            if steps_per_epoch is None
            else positive_int("steps_per_epoch", steps_per_epoch, "enas")
        )
        self.lr = positive("lr", lr, "enas")
        self.lr_min = non_negative("lr_min", lr_min, "enas")
        self.restart_period = positive("restart_period", restart_period, "enas")
        self.restart_factor = positive("restart_factor", restart_factor, "enas")
        if self.restart_factor < 1:
            raise ConfigError(f"enas: restart_factor must be >= 1, got {restart_factor!r}")
        self.grad_clip = positive("grad_clip", grad_clip, "enas")
        if controller_steps is not None and controller_steps_per_epoch is not None:
            raise ConfigError(
                "enas: give controller_steps (per minibatch) or controller_steps_per_epoch, not both"
            )
        self.controller_steps = (
            None if controller_steps is None else positive_int("controller_steps", controller_steps, "enas")
        )
        self.controller_steps_per_epoch = (
            PAPER_CONTROLLER_STEPS_PER_EPOCH
            if controller_steps_per_epoch is None
            else positive_int("controller_steps_per_epoch", controller_steps_per_epoch, "enas")
        )
        self.entropy_weight = non_negative("entropy_weight", entropy_weight, "enas")
        if not 0.0 <= baseline_decay < 1.0:
            raise ConfigError(f"enas: baseline_decay must be in [0, 1), got {baseline_decay!r}")
        self.baseline_decay = float(baseline_decay)
        self.derive_samples = positive_int("derive_samples", derive_samples, "enas")
        self.marginal_samples = positive_int("marginal_samples", marginal_samples, "enas")
        self.edge_space = EdgeChoiceSpace.of(supernet)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.controller = LSTMController(
            self.edge_space.kinds(),
            hidden_size=positive_int("controller_hidden", controller_hidden, "enas"),
            num_layers=positive_int("controller_layers", controller_layers, "enas"),
            init_range=positive("controller_init_range", controller_init_range, "enas"),
            generator=self.generator,
            temperature=optional_positive("controller_temperature", controller_temperature),
            tanh_constant=optional_positive("controller_tanh_constant", controller_tanh_constant),
        )
        self.controller_optimizer = torch.optim.Adam(
            self.controller.parameters(), lr=positive("controller_lr", controller_lr, "enas")
        )
        self.optimizer = torch.optim.SGD(
            supernet.parameters(),
            lr=self.lr,
            momentum=non_negative("momentum", momentum, "enas"),
            weight_decay=non_negative("weight_decay", weight_decay, "enas"),
            nesterov=momentum > 0,
        )
        self.baseline = 0.0  # ENAS code starts the moving average at zero
        self.last_valid: Batch | None = None

    def sample(self, generator: torch.Generator | None = None) -> tuple[np.ndarray, Tensor, Tensor]:
        """One child from the controller: op indices [edges], log-probability and entropy (differentiable)."""
        trace = self.controller.walk(
            self.edge_space, generator=self.generator if generator is None else generator
        )
        return np.array(trace.values, dtype=np.int64), trace.log_prob, trace.entropy

    def step(self, train_batch: Batch, valid_batch: Batch) -> dict[str, float]:
        train_batch, valid_batch = self.to_device(train_batch), self.to_device(valid_batch)
        lr = cosine_restarts_lr(
            self.steps_done,
            self.steps_per_epoch,
            self.lr,
            self.lr_min,
            self.restart_period,
            self.restart_factor,
        )
        # omega phase: one sampled child, one SGD step on the shared weights
        with torch.no_grad():
            child, _, child_entropy = self.sample()

        def backward() -> float:
            loss, _ = self.subnet_loss(train_batch, child)
            loss.backward()
            return float(loss.detach())

        train_loss = self.train_weights(self.optimizer, lr, self.grad_clip, backward)
        # theta phase: REINFORCE on the validation reward with the weights fixed
        rewards, accuracies = [], []
        controller_steps = self.controller_steps_at(self.steps_done)
        for _ in range(controller_steps):
            child, log_prob, entropy = self.sample()
            with torch.no_grad():
                _, accuracy = self.subnet_loss(valid_batch, child)
            reward = accuracy + self.entropy_weight * float(entropy.detach())
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
            self.controller_optimizer.zero_grad(set_to_none=True)
            reinforce_loss(log_prob.reshape(1), torch.tensor([reward]), self.baseline).backward()
            self.controller_optimizer.step()
            rewards.append(reward)
            accuracies.append(accuracy)
        if not controller_steps:  # report the omega-phase child's validation accuracy and reward
            with torch.no_grad():
                _, accuracy = self.subnet_loss(valid_batch, child)
            accuracies.append(accuracy)
            rewards.append(accuracy + self.entropy_weight * float(child_entropy))
        self.last_valid = (valid_batch[0].detach().cpu(), valid_batch[1].detach().cpu())
        self.steps_done += 1
        return {
            "train_loss": train_loss,
            "valid_acc": float(np.mean(accuracies)),
            "reward": float(np.mean(rewards)),
            "baseline": self.baseline,
            "lr": lr,
            "controller_steps": float(controller_steps),
        }

    def controller_steps_at(self, step: int) -> int:
        """Controller steps after minibatch ``step``: ``controller_steps``, or else the epoch's
        ``controller_steps_per_epoch`` spread evenly over its ``steps_per_epoch`` minibatches (the counts
        of one epoch add up to exactly ``controller_steps_per_epoch``)."""
        if self.controller_steps is not None:
            return self.controller_steps
        k, n = step % self.steps_per_epoch, self.controller_steps_per_epoch
        return (k + 1) * n // self.steps_per_epoch - k * n // self.steps_per_epoch

    def _fixed_generator(self, salt: int) -> torch.Generator:
        """A generator that depends only on the seed, the step count and ``salt``: deriving or reading
        the marginals never moves the training's random stream."""
        seed = np.random.SeedSequence([self.seed, self.steps_done, salt]).generate_state(1)[0]
        return torch.Generator().manual_seed(int(seed))

    @torch.no_grad()
    def probabilities(self) -> np.ndarray:
        generator = self._fixed_generator(1)
        counts = np.zeros((self.supernet.edges, len(self.supernet.op_names)))
        for _ in range(self.marginal_samples):
            child, _, _ = self.sample(generator)
            counts[np.arange(self.supernet.edges), child] += 1
        return counts / self.marginal_samples

    @torch.no_grad()
    def derived_choice(self) -> np.ndarray:
        generator = self._fixed_generator(2)
        num_choices = self.supernet.num_choices()
        candidates = [
            self.supernet.derive(one_hot(self.sample(generator)[0], num_choices)[0])
            for _ in range(self.derive_samples)
        ]
        if self.last_valid is None:
            return candidates[0]
        valid = self.to_device(self.last_valid)
        scores = [self.subnet_loss(valid, child)[1] for child in candidates]
        return candidates[int(np.argmax(scores))]

    def converged(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                **self._base_state(),
                "optimizer": self.optimizer.state_dict(),
                "controller": self.controller.state_dict(),
                "controller_optimizer": self.controller_optimizer.state_dict(),
                "generator": self.generator.get_state(),
                "baseline": self.baseline,
                "last_valid": self.last_valid,
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self._load_base_state(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.controller.load_state_dict(state["controller"])
        self.controller_optimizer.load_state_dict(state["controller_optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = float(state["baseline"])
        self.last_valid = state["last_valid"]
