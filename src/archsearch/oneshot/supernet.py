"""Supernets: one network holding every candidate op of a cell space, so that sub-networks share weights.

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
from archsearch.spaces.nb201 import OPS as NB201_OPS
from archsearch.spaces.nb201 import NB201Space
from archsearch.spaces.nb201 import module as nb201_module

NONE_OP = "none"

# Small skeletons that train on two CPU cores; the papers' search sizes are named beside them.
NB201_CHANNELS, NB201_CELLS_PER_STAGE = 8, 1
PAPER_NB201_CHANNELS, PAPER_NB201_CELLS_PER_STAGE = 16, 5  # NB201 search setting (Dong & Yang 2020)
DARTS_CHANNELS, DARTS_CELLS, DARTS_BLOCKS, DARTS_REDUCTIONS, DARTS_STEM_MULTIPLIER = 8, 1, 4, 2, 3
PAPER_DARTS_CHANNELS, PAPER_DARTS_CELLS = 16, 2  # 8 cells of 16 channels (Liu et al. 2019, section 3.1)


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


def _add(total: torch.Tensor | None, term: torch.Tensor | None) -> torch.Tensor | None:
    if term is None:
        return total
    return term if total is None else total + term


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
                    total = _add(
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
        _check_sizes(input_shape, num_classes, channels=channels, cells_per_stage=cells_per_stage)
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

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        indices = [int(k) for k in np.asarray(choice).flatten()]
        if len(indices) != self.edges:
            raise ValueError(f"an NB201 choice has {self.edges} op indices, got {indices}")
        return Architecture(NB201Space.name, tuple(self.op_names[k] for k in indices))


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
        from archsearch.spaces import cell_ops

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
                total = _add(
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
    The paper's search network is ``cells=2, channels=16`` (8 cells); the defaults are small for CPU."""

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
    ) -> None:
        super().__init__()
        from archsearch.spaces.cell_ops import DARTS_OPS

        _check_sizes(
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
        self.op_names = DARTS_OPS
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
        """The ``DartsCellSpace`` of the derived architectures, with this supernet's skeleton sizes."""
        from archsearch.spaces.nasnet_cell import DartsCellSpace

        return DartsCellSpace(
            blocks=self.blocks,
            cells=self.cells,
            channels=self.channels,
            reductions=self.reductions,
            stem_multiplier=self.stem_multiplier,
        )

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        """The ``darts_cell`` architecture of a discretised choice (exactly two non-none incoming edges
        per node, as ``derive`` gives); ValueError otherwise."""
        from archsearch.spaces.nasnet_cell import Block

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


def _check_sizes(input_shape: tuple[int, ...], num_classes: int, **sizes: Any) -> None:
    if len(input_shape) != 3 or any(type(n) is not int or n < 1 for n in input_shape):
        raise ConfigError(f"supernet: input_shape must be (channels, height, width), got {input_shape!r}")
    if type(num_classes) is not int or num_classes < 2:
        raise ConfigError(f"supernet: num_classes must be an int >= 2, got {num_classes!r}")
    for name, value in sizes.items():
        if type(value) is not int or value < 1:
            raise ConfigError(f"supernet: {name} must be an int >= 1, got {value!r}")


SUPERNETS = ("nb201", "darts")


def make_supernet(space: str, input_shape: tuple[int, ...], num_classes: int, **size: Any) -> Supernet:
    """The supernet of cell space ``space`` ("nb201" or "darts") for images of ``input_shape``;
    ``size`` overrides the skeleton's sizes (nb201: channels, cells_per_stage; darts: channels, layers)."""
    try:
        if space == "nb201":
            return NB201Supernet(input_shape, num_classes, **size)
        if space == "darts":
            return DartsSupernet(input_shape, num_classes, **size)
    except TypeError as exc:
        raise ConfigError(f"supernet {space!r}: {exc}") from None
    raise ConfigError(f"unknown supernet space {space!r}; known: {', '.join(SUPERNETS)}")
