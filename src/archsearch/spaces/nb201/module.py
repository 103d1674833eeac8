"""The PyTorch network of one NAS-Bench-201 cell (Dong & Yang, ICLR 2020), built from plain data.

This file imports only torch and ``cell_ops`` (the ops shared by all cell spaces, itself torch only), so
an exporter can copy both texts into a standalone model file. A spec is a dict of plain data::

    {"in_channels": 3, "num_classes": 10, "channels": 16, "cells_per_stage": 5,
     "ops": ["nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "skip_connect"]}

where ``ops[e]`` is the operation on edge e in the NB201 string order (0->1), (0->2), (1->2), (0->3),
(1->3), (2->3). Modules follow AutoDL-Projects (``xautodl/models/cell_operations.py``,
``cell_infers/cells.py``, ``cell_infers/tiny_network.py``), so parameter counts equal the benchmark's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archsearch.spaces.cell_ops import NB201_OPS, OP_FACTORIES, ReLUConvBN

EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""(source, target) node of each edge, in the order of the NB201 string."""
NUM_NODES = 4


def make_op(name: str, channels: int) -> nn.Module:
    """One cell edge; every op keeps ``channels`` and the spatial size (cells never reduce in NB201)."""
    if name not in NB201_OPS:
        raise ValueError(f"unknown NB201 op {name!r}")
    return OP_FACTORIES[name](channels, 1, True)


class Cell(nn.Module):
    """A 4-node DAG: node j = sum over i < j of op_{i->j}(node i); the output is node 3."""

    def __init__(self, ops: list[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(name, channels) for name in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, NUM_NODES):
            total: torch.Tensor | None = None
            for edge, (source, end) in enumerate(EDGES):
                if end == target:
                    out = self.edges[edge](nodes[source])
                    total = out if total is None else total + out
            assert total is not None  # every node has at least one incoming edge
            nodes.append(total)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """The basic residual block, stride 2, between stages (``ResNetBasicblock`` of NB201).

    ReLU-Conv3x3(s2)-BN -> ReLU-Conv3x3-BN, plus a shortcut AvgPool 2x2 (s2) -> 1x1 conv. The pool rounds
    up (``ceil_mode``) so that odd sizes line up with the strided conv; on even sizes, as in NB201, this
    changes nothing.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, 2)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NB201 macro skeleton (``TinyNetwork``): stem conv 3x3 + BN, three stages of
    ``cells_per_stage`` cells at C, 2C, 4C channels separated by residual reductions, BN + ReLU,
    global average pooling and a linear classifier."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.spec = spec
        channels = int(spec["channels"])
        cells = int(spec["cells_per_stage"])
        ops = [str(name) for name in spec["ops"]]
        if len(ops) != len(EDGES):
            raise ValueError(f"an NB201 cell has {len(EDGES)} edges, got {len(ops)} ops")
        self.stem = nn.Sequential(
            nn.Conv2d(int(spec["in_channels"]), channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        body: list[nn.Module] = []
        for stage in range(3):
            width = channels * 2**stage
            if stage:
                body.append(ResidualReduction(width // 2, width))
            body.extend(Cell(ops, width) for _ in range(cells))
        self.cells = nn.Sequential(*body)
        last = channels * 4
        self.last_act = nn.Sequential(nn.BatchNorm2d(last), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last, int(spec["num_classes"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.last_act(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(features).flatten(1))
