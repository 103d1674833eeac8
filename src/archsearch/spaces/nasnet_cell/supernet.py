"""The DARTS supernet (Liu et al. 2019): the DARTS search network whose cells hold every op on every edge."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.spaces import cell_ops
from archsearch.spaces.nasnet_cell.cell import Block
from archsearch.spaces.supernet import NONE_OP, MixedEdge, Supernet, add_term, batch_stats_only, check_sizes

# A small skeleton that trains on two CPU cores; the paper's search sizes are named beside it.
DARTS_CHANNELS, DARTS_CELLS, DARTS_BLOCKS, DARTS_REDUCTIONS, DARTS_STEM_MULTIPLIER = 8, 1, 4, 2, 3
PAPER_DARTS_CHANNELS, PAPER_DARTS_CELLS = 16, 2  # 8 cells of 16 channels (Liu et al. 2019, section 3.1)


class DartsSearchCell(nn.Module):
    """A DARTS cell (SPEC 3.4) with a ``MixedEdge`` of every op on each edge (node b <- state j, j < 2 + b):
    both inputs preprocessed to ``channels``, node b = the sum of its incoming edges, output = the concat
    of all intermediate nodes (DARTS ``cnn/model_search.py``)."""

    def __init__(
        self,
        blocks: int,
        prev_prev_channels: int,
        prev_channels: int,
        channels: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.blocks = blocks
        self.preprocess0: nn.Module = (
            cell_ops.FactorizedReduce(prev_prev_channels, channels, affine=False)
            if reduction_prev
            else cell_ops.ReLUConvBN(prev_prev_channels, channels, 1, 1, 0, affine=False)
        )
        self.preprocess1 = cell_ops.ReLUConvBN(prev_channels, channels, 1, 1, 0, affine=False)
        batch_stats_only(self, affine=False)
        self.edges = nn.ModuleList(
            MixedEdge(
                cell_ops.DARTS_OPS,
                [
                    batch_stats_only(
                        cell_ops.make_op(name, channels, 2 if reduction and source < 2 else 1, affine=False),
                        affine=False,
                    )
                    for name in cell_ops.DARTS_OPS
                ],
            )
            for _, source in darts_edges(blocks)
        )
        self.zero = cell_ops.Zero(2 if reduction else 1)
        self.out_channels = blocks * channels

    def forward(
        self,
        prev_prev: torch.Tensor,
        prev: torch.Tensor,
        choice: list[int] | None,
        weights: torch.Tensor | None,
    ) -> torch.Tensor:
        states = [self.preprocess0(prev_prev), self.preprocess1(prev)]
        edge = 0
        for _ in range(self.blocks):
            total: torch.Tensor | None = None
            for source in range(len(states)):
                total = add_term(
                    total,
                    self.edges[edge](
                        states[source],
                        None if choice is None else choice[edge],
                        None if weights is None else weights[edge],
                    ),
                )
                edge += 1
            states.append(self.zero(states[0]) if total is None else total)
        return torch.cat(states[2:], dim=1)


def darts_edges(blocks: int) -> list[tuple[int, int]]:
    """(block, source state) of every edge of one DARTS cell, in edge order: 2 + 3 + ... = 14 for 4 blocks."""
    return [(block, source) for block in range(blocks) for source in range(2 + block)]


class DartsSupernet(Supernet):
    """The DARTS search network (Liu et al. 2019; SPEC 3.4): stem, ``cells`` normal cells then a reduction
    cell, ``reductions`` times, then ``cells`` normal cells, global pooling and a linear classifier (the
    skeleton of ``DartsCellSpace``). Every normal cell shares the first ``edges / 2`` entries of the
    choice, every reduction cell the rest: 2 x 14 edges over the 8 DARTS ops including ``none``.
    The paper's search network is ``cells=2, channels=16`` (8 cells); the defaults are small for CPU.
    ``space_class`` makes the space of the derived cells (``DartsCellSpace``, whose hook passes it)."""

    space_name = "darts_cell"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        channels: int = DARTS_CHANNELS,
        cells: int = DARTS_CELLS,
        blocks: int = DARTS_BLOCKS,
        reductions: int = DARTS_REDUCTIONS,
        stem_multiplier: int = DARTS_STEM_MULTIPLIER,
        *,
        space_class: Callable[..., Any],
    ) -> None:
        super().__init__()
        check_sizes(
            input_shape,
            num_classes,
            channels=channels,
            cells=cells,
            blocks=blocks,
            stem_multiplier=stem_multiplier,
        )
        if type(reductions) is not int or reductions < 0:
            raise ConfigError(f"supernet: reductions must be an int >= 0, got {reductions!r}")
        self.channels, self.cells, self.blocks = channels, cells, blocks
        self.reductions, self.stem_multiplier = reductions, stem_multiplier
        self.space_class = space_class
        self.op_names = cell_ops.DARTS_OPS
        self.cell_edges = len(darts_edges(blocks))
        self.edges = 2 * self.cell_edges
        stem_channels = stem_multiplier * channels
        self.stem = batch_stats_only(
            nn.Sequential(
                nn.Conv2d(input_shape[0], stem_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(stem_channels),
            ),
            affine=True,
        )
        prev_prev, prev, reduction_prev, width = stem_channels, stem_channels, False, channels
        search_cells: list[DartsSearchCell] = []
        for stage in range(reductions + 1):
            for reduction in [False] * cells + ([True] if stage < reductions else []):
                if reduction:
                    width *= 2
                cell = DartsSearchCell(blocks, prev_prev, prev, width, reduction, reduction_prev)
                search_cells.append(cell)
                prev_prev, prev, reduction_prev = prev, cell.out_channels, reduction
        self.search_cells = nn.ModuleList(search_cells)
        self.classifier = nn.Linear(prev, num_classes)

    def _forward(
        self, x: torch.Tensor, choice: list[int] | None, weights: torch.Tensor | None
    ) -> torch.Tensor:
        prev_prev = prev = self.stem(x)
        half = self.cell_edges
        for cell in self.search_cells:
            part = slice(half, 2 * half) if cell.reduction else slice(0, half)
            prev_prev, prev = (
                prev,
                cell(
                    prev_prev,
                    prev,
                    None if choice is None else choice[part],
                    None if weights is None else weights[part],
                ),
            )
        return self.classifier(prev.mean(dim=(2, 3)))

    @property
    def edge_names(self) -> list[str]:
        """A label for each edge: its cell, block and source state (the two cell inputs or a block)."""

        def state(source: int) -> str:
            return ("h[i-2]", "h[i-1]")[source] if source < 2 else f"block {source - 2}"

        return [
            f"{cell} block {block} <- {state(source)}"
            for cell in ("normal", "reduction")
            for block, source in darts_edges(self.blocks)
        ]

    def derive(self, weights: np.ndarray) -> np.ndarray:
        """DARTS discretisation (Liu et al. 2019, section 2.4): each node keeps its 2 incoming edges with
        the largest strength (the largest weight of a non-none op; ties: the earlier source), each with its
        strongest non-none op; every other edge gets ``none``."""
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (self.edges, len(self.op_names)):
            raise ValueError(
                f"weights must have shape ({self.edges}, {len(self.op_names)}), got {weights.shape}"
            )
        none = self.op_names.index(NONE_OP)
        real = np.delete(np.arange(len(self.op_names)), none)
        choice = np.full(self.edges, none)
        for offset in (0, self.cell_edges):
            edge = offset
            for block in range(self.blocks):
                incoming = np.arange(edge, edge + 2 + block)
                strength = weights[incoming][:, real].max(axis=1)
                for kept in incoming[np.argsort(-strength, kind="stable")[:2]]:
                    choice[kept] = real[int(np.argmax(weights[kept, real]))]
                edge += 2 + block
        return choice

    def space(self) -> Any:
        """The space of the derived architectures (``space_class``, the ``DartsCellSpace`` whose hook made
        this supernet) with this supernet's skeleton sizes."""
        return self.space_class(
            blocks=self.blocks,
            cells=self.cells,
            channels=self.channels,
            reductions=self.reductions,
            stem_multiplier=self.stem_multiplier,
        )

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        """The ``darts_cell`` architecture of a discretised choice (exactly two non-none incoming edges
        per node, as ``derive`` gives); ValueError otherwise."""
        indices = [int(k) for k in np.asarray(choice).flatten()]
        if len(indices) != self.edges:
            raise ValueError(f"a DARTS choice has {self.edges} op indices, got {len(indices)}")
        cells: list[list[Block]] = []
        for offset in (0, self.cell_edges):
            blocks, edge = [], offset
            for block in range(self.blocks):
                kept = [
                    (source, self.op_names[indices[edge + source]])
                    for source in range(2 + block)
                    if self.op_names[indices[edge + source]] != NONE_OP
                ]
                if len(kept) != 2:
                    raise ValueError(
                        f"node {block} of a DARTS cell needs exactly 2 non-none incoming edges, got {len(kept)}; "
                        "discretise with derive() first"
                    )
                (a, op_a), (b, op_b) = kept
                blocks.append(Block(input_a=a, input_b=b, op_a=op_a, op_b=op_b))
                edge += 2 + block
            cells.append(blocks)
        return self.space().from_cells(cells[0], cells[1])
