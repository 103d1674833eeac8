"""Test helpers: a toy supernet in the style of ASNG-NAS's toy benchmark, random image batches, the resume check.

The toy: one op per edge is informative, the rest not.

Each of ``edges`` edges chooses one of ``ops`` ops. Op 0 of edge d scales the informative feature x_d,
every other op a nuisance feature z_d; the label is whether sum_d x_d > 0. Only the all-zero choice can
fit the labels, so a one-shot method that works drives its distribution there while training the scales.
Runs in microseconds, which lets tests take hundreds of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.oneshot.base import Batch, OneShotMethod
from archsearch.oneshot.supernet import Supernet
from archsearch.store.sqlite import state_from_bytes, state_to_bytes


class ToySupernet(Supernet):
    space_name = "toy"

    def __init__(self, edges: int = 4, ops: int = 3) -> None:
        super().__init__()
        self.edges = edges
        self.op_names = tuple(f"op{k}" for k in range(ops))
        self.scale = nn.Parameter(torch.full((edges, ops), 0.1))

    def _forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        if choice is not None:
            weights = nn.functional.one_hot(torch.tensor(choice), len(self.op_names)).to(x.dtype)
        assert weights is not None
        nuisance = x[:, 1:2, :].expand(-1, len(self.op_names) - 1, -1)
        features = torch.cat([x[:, :1, :], nuisance], dim=1).transpose(1, 2)  # [batch, edges, ops]
        score = (features * self.scale * weights).sum(dim=(1, 2))
        return torch.stack([-score, score], dim=1)

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        return Architecture("toy", tuple(int(k) for k in np.asarray(choice)))


def toy_batch(
    generator: torch.Generator, edges: int = 4, size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs [size, 2, edges] (row 0 informative, row 1 nuisance) and labels 1[sum x > 0]."""
    x = torch.randn(size, 2, edges, generator=generator)
    return x, (x[:, 0].sum(dim=1) > 0).long()


def image_batches(
    count: int, shape: tuple[int, ...] = (1, 8, 8), classes: int = 3, size: int = 6
) -> list[Batch]:
    """``count`` batches of random images and labels for the real supernets."""
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(size, *shape, generator=generator),
            torch.randint(0, classes, (size,), generator=generator),
        )
        for _ in range(count)
    ]


def assert_resumes_identically(make: Callable[[int], OneShotMethod], batches: list[Batch]) -> None:
    """A method made by ``make(seed)`` takes a step, its state goes through the stored format, it takes two more
    steps; a method made with another seed (other initial weights) loads the state and takes the same two
    steps with identical metrics, distribution, derived architecture and weights."""
    torch.manual_seed(0)
    method = make(0)
    method.step(batches[0], batches[1])
    blob = state_to_bytes(method.state_dict())
    after = [method.step(batches[2], batches[3]), method.step(batches[4], batches[5])]

    torch.manual_seed(1)
    resumed = make(1)
    resumed.load_state_dict(state_from_bytes(blob))
    again = [resumed.step(batches[2], batches[3]), resumed.step(batches[4], batches[5])]

    assert again == after
    assert np.array_equal(resumed.probabilities(), method.probabilities())
    assert resumed.derive() == method.derive()
    for a, b in zip(method.supernet.parameters(), resumed.supernet.parameters(), strict=True):
        assert torch.equal(a, b)
