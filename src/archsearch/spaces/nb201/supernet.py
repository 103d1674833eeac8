"""The NB201 supernet (Dong & Yang 2020): the NB201 skeleton whose cells hold every op on every edge."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.spaces.nb201 import module as nb201_module
from archsearch.spaces.nb201.cell import EDGE_NAMES
from archsearch.spaces.nb201.cell import OPS as NB201_OPS
from archsearch.spaces.supernet import MixedEdge, Supernet, add_term, batch_stats_only, check_sizes

# A small skeleton that trains on two CPU cores; the paper's search sizes are named beside it.
NB201_CHANNELS, NB201_CELLS_PER_STAGE = 8, 1
PAPER_NB201_CHANNELS, PAPER_NB201_CELLS_PER_STAGE = 16, 5  # NB201 search setting (Dong & Yang 2020)


class NB201SearchCell(nn.Module):
    """The NB201 cell (SPEC 7.1) with a ``MixedEdge`` of all 5 ops on each of its 6 edges."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            MixedEdge(
                NB201_OPS,
                [batch_stats_only(nb201_module.make_op(name, channels), affine=False) for name in NB201_OPS],
            )
            for _ in nb201_module.EDGES
        )

    def forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        nodes = [x]
        for target in range(1, nb201_module.NUM_NODES):
            total: torch.Tensor | None = None
            for edge, (source, end) in enumerate(nb201_module.EDGES):
                if end == target:
                    total = add_term(
                        total,
                        self.edges[edge](
                            nodes[source],
                            None if choice is None else choice[edge],
                            None if weights is None else weights[edge],
                        ),
                    )
            # every incoming edge is none: the node is zero (as the NB201 network computes it)
            nodes.append(x.mul(0.0) if total is None else total)
        return nodes[-1]


class NB201Supernet(Supernet):
    """The NB201 macro skeleton (SPEC 7.3) whose cells are ``NB201SearchCell``; all cells share one
    choice of an op per edge (6 edges, 5 ops), so every sub-network is an NB201 architecture that the
    tabular benchmark scores."""

    space_name = "nb201"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        channels: int = NB201_CHANNELS,
        cells_per_stage: int = NB201_CELLS_PER_STAGE,
    ) -> None:
        super().__init__()
        check_sizes(input_shape, num_classes, channels=channels, cells_per_stage=cells_per_stage)
        self.edges = len(nb201_module.EDGES)
        self.op_names = NB201_OPS
        self.channels = channels
        self.cells_per_stage = cells_per_stage
        self.stem = batch_stats_only(
            nn.Sequential(
                nn.Conv2d(input_shape[0], channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
            ),
            affine=True,
        )
        body: list[nn.Module] = []
        for stage in range(3):
            width = channels * 2**stage
            if stage:
                body.append(batch_stats_only(nb201_module.ResidualReduction(width // 2, width), affine=True))
            body.extend(NB201SearchCell(width) for _ in range(cells_per_stage))
        self.cells = nn.ModuleList(body)
        self.last_act = batch_stats_only(
            nn.Sequential(nn.BatchNorm2d(channels * 4), nn.ReLU(inplace=True)), affine=True
        )
        self.classifier = nn.Linear(channels * 4, num_classes)

    def _forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.stem(x)
        for module in self.cells:
            x = module(x, choice, weights) if isinstance(module, NB201SearchCell) else module(x)
        features = self.last_act(x)
        return self.classifier(features.mean(dim=(2, 3)))

    @property
    def edge_names(self) -> list[str]:
        """NB201's name of each edge (``edge_1_0``, ...)."""
        return list(EDGE_NAMES)

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        indices = [int(k) for k in np.asarray(choice).flatten()]
        if len(indices) != self.edges:
            raise ValueError(f"an NB201 choice has {self.edges} op indices, got {indices}")
        return Architecture(self.space_name, tuple(self.op_names[k] for k in indices))
