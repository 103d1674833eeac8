"""The PyTorch network of a NASNet / DARTS cell pair (Zoph et al., CVPR 2018; Liu et al., ICLR 2019),
built from plain data.

This file imports only torch and ``cell_ops`` (itself torch only); ``archsearch.report.export`` copies
both texts into standalone model files. A spec is a dict of plain data::

    {"in_channels": 3, "num_classes": 10, "channels": 16, "cells": 2, "reductions": 2,
     "stem_multiplier": 3, "cell_output": "unused", "final_relu": True,
     "normal": [[1, 0, "sep_conv_3x3", "identity", "add"], ...],
     "reduction": [[0, 1, "max_pool_3x3", "sep_conv_7x7", "add"], ...]}

A block ``[input_a, input_b, op_a, op_b, combine]`` reads two states of its cell: 0 is the output of the
cell before the previous one (h_{i-2}), 1 the previous cell's output (h_{i-1}), 2 + k block k's output.
Skeleton: stem (3x3 conv + BN to ``stem_multiplier * channels``), then ``cells`` normal cells, a
reduction cell (channels double, height and width halve), ... ending with ``cells`` normal cells,
then (ReLU when ``final_relu``), global average pooling and a linear classifier. No auxiliary head and
no drop-path: both are regularisers of the papers' final training, not part of the architecture.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archsearch.spaces.cell_ops import FactorizedReduce, ReLUConvBN, make_op


class Cell(nn.Module):
    """One normal or reduction cell.

    Both inputs are first mapped to ``channels`` (a 1x1 ReLU-conv-BN, or ``FactorizedReduce`` for
    h_{i-2} when the previous cell reduced). In a reduction cell the ops reading the two inputs use
    stride 2. A block's output has ``channels`` channels after ``add`` and twice that after ``concat``;
    an op reading a state that is not ``channels`` wide gets a 1x1 ReLU-conv-BN in front (as NASNet's
    code does). The cell's output concatenates the block outputs no block of the cell reads
    (``cell_output`` "unused", NASNet) or all block outputs ("all", DARTS).
    """

    def __init__(
        self,
        blocks: list[list[Any]],
        prev_prev_channels: int,
        prev_channels: int,
        channels: int,
        reduction: bool,
        reduction_prev: bool,
        cell_output: str = "unused",
    ) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(prev_prev_channels, channels)
        else:
            self.preprocess0 = ReLUConvBN(prev_prev_channels, channels, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(prev_channels, channels, 1, 1, 0)
        widths = [channels, channels]
        ops: list[nn.Module] = []
        wiring: list[tuple[int, int, bool]] = []
        for index, (input_a, input_b, op_a, op_b, combine) in enumerate(blocks):
            inputs = (int(input_a), int(input_b))
            if any(not 0 <= j < 2 + index for j in inputs):
                raise ValueError(f"block {index}: inputs {list(inputs)} must be 0, 1 or an earlier block + 2")
            if combine not in ("add", "concat"):
                raise ValueError(f"block {index}: combine must be 'add' or 'concat', got {combine!r}")
            for j, name in zip(inputs, (str(op_a), str(op_b)), strict=True):
                op = make_op(name, channels, 2 if reduction and j < 2 else 1)
                if widths[j] != channels:
                    op = nn.Sequential(ReLUConvBN(widths[j], channels, 1, 1, 0), op)
                ops.append(op)
            wiring.append((inputs[0], inputs[1], combine == "concat"))
            widths.append(channels * (2 if combine == "concat" else 1))
        if not wiring:
            raise ValueError("a cell needs at least one block")
        if cell_output not in ("unused", "all"):
            raise ValueError(f"cell_output must be 'unused' or 'all', got {cell_output!r}")
        read = {j for a, b, _ in wiring for j in (a, b)}
        self.ops = nn.ModuleList(ops)
        self._wiring = tuple(wiring)
        self.concat = tuple(2 + k for k in range(len(wiring)) if cell_output == "all" or 2 + k not in read)
        self.out_channels = sum(widths[j] for j in self.concat)

    def forward(self, prev_prev: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(prev_prev), self.preprocess1(prev)]
        for index, (input_a, input_b, concat) in enumerate(self._wiring):
            a = self.ops[2 * index](states[input_a])
            b = self.ops[2 * index + 1](states[input_b])
            states.append(torch.cat([a, b], dim=1) if concat else a + b)
        return torch.cat([states[j] for j in self.concat], dim=1)


class NASNetCellNetwork(nn.Module):
    """The NASNet CIFAR skeleton ``[Normal x N -> Reduction] x R -> Normal x N`` (Zoph et al. 2018,
    figure 2; DARTS ``NetworkCIFAR`` without the auxiliary head) around one normal and one reduction cell."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.spec = spec
        channels = int(spec["channels"])
        stem_channels = int(spec["stem_multiplier"]) * channels
        self.stem = nn.Sequential(
            nn.Conv2d(int(spec["in_channels"]), stem_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
        )
        cell_output = str(spec.get("cell_output", "unused"))
        prev_prev, prev, reduction_prev = stem_channels, stem_channels, False
        cells: list[Cell] = []
        reductions = int(spec["reductions"])
        for stage in range(reductions + 1):
            kinds = [False] * int(spec["cells"]) + ([True] if stage < reductions else [])
            for reduction in kinds:
                if reduction:
                    channels *= 2
                blocks = spec["reduction"] if reduction else spec["normal"]
                cell = Cell(blocks, prev_prev, prev, channels, reduction, reduction_prev, cell_output)
                cells.append(cell)
                prev_prev, prev, reduction_prev = prev, cell.out_channels, reduction
        self.cells = nn.ModuleList(cells)
        self.final_relu = bool(spec.get("final_relu", True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(prev, int(spec["num_classes"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev_prev = prev = self.stem(x)
        for cell in self.cells:
            prev_prev, prev = prev, cell(prev_prev, prev)
        if self.final_relu:
            prev = torch.relu(prev)
        return self.classifier(self.global_pooling(prev).flatten(1))
