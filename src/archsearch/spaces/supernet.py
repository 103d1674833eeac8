"""The supernet kit: one network holding every candidate op of a cell space, so that sub-networks share weights.

The architecture of a supernet is one categorical choice of an op per edge (``edges`` edges, ``op_names``
ops each). ``forward(x, choice=...)`` runs only the chosen op of each edge (ENAS, ASNG-NAS);
``forward(x, weights=...)`` runs the DARTS mixed op, the weighted sum of every op (SPEC.md 3.3-3.4, 5).
Batch norm uses the statistics of the current batch in training and evaluation alike (no running
statistics), as in the DARTS and NB201 search code, because the running averages of a supernet would mix
every sampled sub-network; ops' batch norms have no affine parameters (DARTS search code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError

NONE_OP = "none"


def batch_stats_only(module: nn.Module, affine: bool) -> nn.Module:
    """Replace every BatchNorm2d inside ``module`` by one without running statistics (and without affine
    parameters unless ``affine``); returns ``module``."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(
                module, name, nn.BatchNorm2d(child.num_features, affine=affine, track_running_stats=False)
            )
        else:
            batch_stats_only(child, affine)
    return module


class Supernet(nn.Module):
    """Base of every supernet: ``edges`` categorical decisions over ``op_names``.

    Subclasses implement ``_forward(x, choice, weights)`` with exactly one of ``choice`` (a list of op
    indices) and ``weights`` (a tensor [edges, ops]) given, and ``to_architecture``. In a cell space every
    edge chooses among all ``op_names``; a supernet whose decisions have fewer choices each (a user's model
    space) overrides ``num_choices``: decision d then uses the first K_d columns of every [edges, ops] array
    and the rest are padding, with probability 0, never sampled and never derived.
    """

    edges: int
    op_names: tuple[str, ...]
    space_name: str

    def forward(
        self, x: torch.Tensor, choice: torch.Tensor | None = None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of the sub-network ``choice`` (LongTensor [edges]) or of the mixed network ``weights``
        ([edges, ops], rows summing to 1)."""
        if (choice is None) == (weights is None):
            raise ValueError("supernet forward needs exactly one of choice and weights")
        if choice is not None:
            indices = [int(k) for k in torch.as_tensor(choice).flatten().tolist()]
            limits = self.num_choices()
            if len(indices) != self.edges or not all(
                0 <= k < n for k, n in zip(indices, limits, strict=True)
            ):
                raise ValueError(
                    f"choice must hold {self.edges} op indices below {limits.tolist()}, got {indices}"
                )
            return self._forward(x, indices, None)
        assert weights is not None
        if tuple(weights.shape) != (self.edges, len(self.op_names)):
            raise ValueError(
                f"weights must have shape ({self.edges}, {len(self.op_names)}), got {tuple(weights.shape)}"
            )
        return self._forward(x, None, weights)

    def _forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        raise NotImplementedError

    def derive(self, weights: np.ndarray) -> np.ndarray:
        """The discrete choice [edges] from op strengths [edges, ops]: the strongest op of each edge
        (padding never: it is masked out)."""
        weights = np.asarray(weights, dtype=float)
        return np.where(self.choice_mask(), weights, -np.inf).argmax(axis=1)

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        """The architecture of the normal search space that ``choice`` selects."""
        raise NotImplementedError

    def num_choices(self) -> np.ndarray:
        """K_d of every edge (all equal in a cell space), the shape asng_math works with."""
        return np.full(self.edges, len(self.op_names))

    def choice_mask(self) -> np.ndarray:
        """Boolean [edges, ops]: True where op k is a real choice of edge d (k < K_d), False on padding."""
        return np.arange(len(self.op_names))[None, :] < self.num_choices()[:, None]


class MixedEdge(nn.Module):
    """All candidate ops of one edge: ``forward`` runs one of them or their weighted sum.

    The ``none`` op contributes zeros, so it is never run: with a choice it returns None (the caller
    skips the edge), in the mixed sum its term is dropped (its weight still matters through softmax).
    """

    def __init__(self, op_names: Sequence[str], ops: Sequence[nn.Module]) -> None:
        super().__init__()
        self.op_names = tuple(op_names)
        self.ops = nn.ModuleList(ops)

    def forward(
        self, x: torch.Tensor, choice: int | None, weights: torch.Tensor | None
    ) -> torch.Tensor | None:
        if choice is not None:
            return None if self.op_names[choice] == NONE_OP else self.ops[choice](x)
        assert weights is not None
        total: torch.Tensor | None = None
        for k, (name, op) in enumerate(zip(self.op_names, self.ops, strict=True)):
            if name != NONE_OP:
                term = weights[k] * op(x)
                total = term if total is None else total + term
        return total


def add_term(total: torch.Tensor | None, term: torch.Tensor | None) -> torch.Tensor | None:
    """``total + term``, where None stands for a zero (an edge that was skipped)."""
    if term is None:
        return total
    return term if total is None else total + term


def check_sizes(input_shape: tuple[int, ...], num_classes: int, **sizes: Any) -> None:
    """ConfigError unless ``input_shape`` is (channels, height, width), ``num_classes`` >= 2 and every size
    a positive int."""
    if len(input_shape) != 3 or any(type(n) is not int or n < 1 for n in input_shape):
        raise ConfigError(f"supernet: input_shape must be (channels, height, width), got {input_shape!r}")
    if type(num_classes) is not int or num_classes < 2:
        raise ConfigError(f"supernet: num_classes must be an int >= 2, got {num_classes!r}")
    for name, value in sizes.items():
        if type(value) is not int or value < 1:
            raise ConfigError(f"supernet: {name} must be an int >= 1, got {value!r}")
