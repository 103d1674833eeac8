"""The supernet of ``HookedSpace``: one edge choosing the activation (the width fixed by ``width``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.spaces.supernet import MixedEdge, Supernet
from spaces.hooked_space.space import ACTIVATIONS


class HookedSupernet(Supernet):
    space_name = "hooked"

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, width: int = 8) -> None:
        super().__init__()
        self.edges = 1
        self.op_names = ACTIVATIONS
        self.width = width
        features = int(np.prod(input_shape))
        self.first = nn.Sequential(nn.Flatten(), nn.Linear(features, width))
        self.edge = MixedEdge(ACTIVATIONS, [nn.ReLU(), nn.Tanh()])
        self.last = nn.Linear(width, num_classes)
        self.edge_names = ["activation"]

    def _forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        hidden = self.edge(
            self.first(x), None if choice is None else choice[0], None if weights is None else weights[0]
        )
        assert hidden is not None
        return self.last(hidden)

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        return Architecture("hooked", (self.width, self.op_names[int(np.asarray(choice).flatten()[0])]))
