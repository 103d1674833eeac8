"""DARTS: architecture weights alpha relaxed to a softmax over ops, learned by gradient descent (SPEC.md 3.4)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

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

LossAt = Callable[[], Tensor]
"""A closure computing a scalar loss from the current values of the weights and alphas."""


def _grads(loss: Tensor, tensors: Sequence[Tensor]) -> list[Tensor]:
    """d loss / d tensors, zeros for tensors the loss does not use."""
    grads = torch.autograd.grad(loss, list(tensors), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, tensors, strict=True)]


def finite_difference_hvp(
    loss_at: LossAt,
    weights: Sequence[Tensor],
    alphas: Sequence[Tensor],
    vector: Sequence[Tensor],
    scale: float = 0.01,
) -> list[Tensor]:
    """grad^2_{alpha,w} L . v ~ [grad_alpha L(w + eps v) - grad_alpha L(w - eps v)] / (2 eps) with
    eps = scale / ||v||_2 (Liu et al. 2019, eq. 8; scale 0.01 in the paper). The weights are restored
    exactly afterwards."""
    norm = math.sqrt(sum(float(v.pow(2).sum()) for v in vector))
    if norm == 0.0:
        return [torch.zeros_like(a) for a in alphas]
    epsilon = scale / norm
    saved = [w.detach().clone() for w in weights]
    with torch.no_grad():
        for w, v in zip(weights, vector, strict=True):
            w.add_(v, alpha=epsilon)
    plus = _grads(loss_at(), alphas)
    with torch.no_grad():
        for w, v in zip(weights, vector, strict=True):
            w.sub_(v, alpha=2 * epsilon)
    minus = _grads(loss_at(), alphas)
    with torch.no_grad():
        for w, value in zip(weights, saved, strict=True):
            w.copy_(value)
    return [(p - m) / (2 * epsilon) for p, m in zip(plus, minus, strict=True)]


def second_order_alpha_gradient(
    train_loss_at: LossAt,
    valid_loss_at: LossAt,
    weights: Sequence[Tensor],
    alphas: Sequence[Tensor],
    xi: float,
    scale: float = 0.01,
) -> tuple[list[Tensor], Tensor]:
    """The unrolled architecture gradient of DARTS (Liu et al. 2019, eqs. 6-8):
    grad_alpha L_val(w', alpha) - xi grad^2_{alpha,w} L_train(w, alpha) grad_{w'} L_val(w', alpha) with
    w' = w - xi grad_w L_train(w, alpha), the Hessian-vector product by finite differences around w.
    Returns the gradients for ``alphas`` and L_val(w', alpha); the weights are left at w."""
    saved = [w.detach().clone() for w in weights]
    train_grads = _grads(train_loss_at(), weights)
    with torch.no_grad():
        for w, g in zip(weights, train_grads, strict=True):
            w.sub_(g, alpha=xi)
    valid_loss = valid_loss_at()
    grads = _grads(valid_loss, [*alphas, *weights])
    alpha_grads, unrolled_weight_grads = grads[: len(alphas)], grads[len(alphas) :]
    with torch.no_grad():
        for w, value in zip(weights, saved, strict=True):
            w.copy_(value)
    hessian_terms = finite_difference_hvp(train_loss_at, weights, alphas, unrolled_weight_grads, scale)
    return [g - xi * h for g, h in zip(alpha_grads, hessian_terms, strict=True)], valid_loss.detach()


@register_method("darts")
class DARTS(OneShotMethod):
    """Differentiable architecture search (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture
    Search", ICLR 2019; SPEC 3.4).

    alpha [edges, ops] starts at zero; the supernet runs the mixed op with softmax(alpha) per edge. Each
    ``step`` takes one alpha step on the validation batch, then one weight step on the training batch.
    ``order`` 1: grad_alpha L_val(w, alpha); ``order`` 2: the unrolled gradient with xi = the weights'
    current lr and the finite-difference Hessian-vector product (eps = 0.01 / ||grad_w' L_val||).
    alpha: Adam lr 3e-4, betas (0.5, 0.999), weight decay 1e-3. Weights: SGD lr 0.025, cosine to 0.001
    over ``total_steps`` (code), momentum 0.9, weight decay 3e-4, gradient norm clipped at 5.
    Derivation: the supernet's discretisation of softmax(alpha) (NB201: argmax per edge; DARTS cells:
    top-2 incoming edges per node, excluding none). DARTS has no convergence test: ``converged`` is False
    and the run lasts its epochs, as in the paper.
    """

    def __init__(
        self,
        supernet: Supernet,
        *,
        seed: int,
        total_steps: int = 10_000,
        order: int = 1,
        lr: float = 0.025,
        lr_min: float = 0.001,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        arch_lr: float = 3e-4,
        arch_betas: tuple[float, float] = (0.5, 0.999),
        arch_weight_decay: float = 1e-3,
        fd_scale: float = 0.01,
    ) -> None:
        super().__init__(supernet, seed=seed)
        if order not in (1, 2) or isinstance(order, bool):
            raise ConfigError(f"darts: order must be 1 (first order) or 2 (second order), got {order!r}")
        self.order = int(order)
        self.total_steps = positive_int("total_steps", total_steps, "darts")
        self.lr = positive("lr", lr, "darts")
        self.lr_min = non_negative("lr_min", lr_min, "darts")
        self.grad_clip = positive("grad_clip", grad_clip, "darts")
        self.fd_scale = positive("fd_scale", fd_scale, "darts")
        self.weights = [p for p in supernet.parameters()]
        self.alpha = torch.zeros(
            supernet.edges, len(supernet.op_names), device=self.device, requires_grad=True
        )
        mask = torch.as_tensor(supernet.choice_mask(), device=self.device)
        # decisions with fewer choices than the widest (a user's model space): padding gets weight 0
        self.padding = None if bool(mask.all()) else ~mask
        self.optimizer = torch.optim.SGD(
            self.weights,
            lr=self.lr,
            momentum=non_negative("momentum", momentum, "darts"),
            weight_decay=non_negative("weight_decay", weight_decay, "darts"),
        )
        betas = tuple(float(b) for b in arch_betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"darts: arch_betas must be two numbers in [0, 1), got {arch_betas!r}")
        self.arch_optimizer = torch.optim.Adam(
            [self.alpha],
            lr=positive("arch_lr", arch_lr, "darts"),
            betas=(betas[0], betas[1]),
            weight_decay=non_negative("arch_weight_decay", arch_weight_decay, "darts"),
        )

    def softmax(self, alpha: Tensor) -> Tensor:
        """softmax(alpha) per edge over its real choices; padded entries get 0 (and no gradient)."""
        if self.padding is not None:
            alpha = alpha.masked_fill(self.padding, -math.inf)
        return torch.softmax(alpha, dim=-1)

    def _mixed_loss(self, batch: Batch, alpha: Tensor | None = None) -> tuple[Tensor, float]:
        """Cross-entropy and accuracy of the mixed network softmax(``alpha``) on ``batch``."""
        inputs, targets = batch
        logits = self.supernet(inputs, weights=self.softmax(self.alpha if alpha is None else alpha))
        accuracy = float((logits.argmax(dim=1) == targets).float().mean())
        return torch.nn.functional.cross_entropy(logits, targets), accuracy

    def step(self, train_batch: Batch, valid_batch: Batch) -> dict[str, float]:
        train_batch, valid_batch = self.to_device(train_batch), self.to_device(valid_batch)
        lr = cosine_lr(self.steps_done, self.total_steps, self.lr, self.lr_min)
        self.supernet.train()
        # architecture step on the validation batch
        self.arch_optimizer.zero_grad(set_to_none=True)
        if self.order == 1:
            valid_loss, valid_acc = self._mixed_loss(valid_batch)
            (alpha_grad,) = _grads(valid_loss, [self.alpha])
        else:
            accuracies: list[float] = []

            def valid_loss_at() -> Tensor:
                loss, accuracy = self._mixed_loss(valid_batch)
                accuracies.append(accuracy)  # of the unrolled weights w'
                return loss

            (alpha_grad,), valid_loss = second_order_alpha_gradient(
                lambda: self._mixed_loss(train_batch)[0],
                valid_loss_at,
                self.weights,
                [self.alpha],
                xi=lr,
                scale=self.fd_scale,
            )
            valid_acc = accuracies[-1]
        self.alpha.grad = alpha_grad.detach()
        self.arch_optimizer.step()
        # weight step on the training batch with the new alpha

        def backward() -> float:
            loss, _ = self._mixed_loss(train_batch, self.alpha.detach())
            loss.backward()
            return float(loss.detach())

        train_loss = self.train_weights(self.optimizer, lr, self.grad_clip, backward)
        self.steps_done += 1
        return {
            "train_loss": train_loss,
            "valid_loss": float(valid_loss.detach()),
            "valid_acc": valid_acc,
            "lr": lr,
        }

    def probabilities(self) -> np.ndarray:
        return self.softmax(self.alpha.detach()).cpu().numpy().astype(np.float64)

    def derived_choice(self) -> np.ndarray:
        return self.supernet.derive(self.probabilities())

    def converged(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                **self._base_state(),
                "alpha": self.alpha.detach().cpu(),
                "optimizer": self.optimizer.state_dict(),
                "arch_optimizer": self.arch_optimizer.state_dict(),
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_base_state(state)
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.arch_optimizer.load_state_dict(copy.deepcopy(state["arch_optimizer"]))
