"""What a one-shot search found: the derived cell's ops, collapse to skip/none cells, true NB201 accuracies.

Collapse is DARTS' best-known failure (Zela et al., "Understanding and Robustifying Differentiable
Architecture Search", ICLR 2020; Chen & Hsieh 2020): parameter-free skip connections (and, in NB201, the
``none`` op) win the architecture weights because they make the supernet train fastest, so the derived
cell has few or no convolutions. It is reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from archsearch.spaces.base import Architecture, SearchSpace

SKIP_OPS = frozenset({"skip_connect", "identity", "none"})
"""Ops a collapsed cell is made of: identities and zeros."""
PARAMETER_FREE_OPS = SKIP_OPS | {"avg_pool_3x3", "max_pool_3x3", "max_pool_5x5", "max_pool_7x7"}
COLLAPSE_FRACTION = 0.5
"""A cell with more than this fraction of skip/none edges is called collapsed."""


@dataclass(frozen=True)
class CollapseCheck:
    """How much of the derived (normal) cell is skip/none, and whether that makes it collapsed."""

    ops: tuple[str, ...]
    skip_none: int
    parametric: int
    output_is_zero: bool
    collapsed: bool
    parameter_free_dominated: bool
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normal_cell_ops(space: SearchSpace, arch: Architecture) -> tuple[str, ...]:
    """The op name on every edge of the normal cell: NB201 values are op names; a NASNet/DARTS cell lists
    (input_a, input_b, op_a, op_b[, combine]) per block, normal cell first, ops indexing ``space.operations``."""
    if arch.space == "nb201":
        return tuple(str(v) for v in arch.values)
    operations: Sequence[str] = space.operations  # type: ignore[attr-defined]
    blocks: int = space.blocks  # type: ignore[attr-defined]
    width = 4 + (1 if len(space.combinations) > 1 else 0)  # type: ignore[attr-defined]
    ops: list[str] = []
    for block in range(blocks):
        values = arch.values[block * width : (block + 1) * width]
        ops += [str(operations[int(values[2])]), str(operations[int(values[3])])]
    return tuple(ops)


def nb201_output_is_zero(ops: Sequence[str]) -> bool:
    """True when every path from the NB201 cell's input (node 0) to its output (node 3) crosses ``none``."""
    from archsearch.spaces.nb201 import EDGES

    reached = {0}
    for (source, target), op in zip(EDGES, ops, strict=True):  # EDGES are in topological order
        if source in reached and op != "none":
            reached.add(target)
    return 3 not in reached


def check_collapse(space: SearchSpace, arch: Architecture) -> CollapseCheck:
    """Count skip/none and parametric ops of the derived normal cell and name the verdict honestly."""
    ops = normal_cell_ops(space, arch)
    skip_none = sum(op in SKIP_OPS for op in ops)
    parametric = sum(op not in PARAMETER_FREE_OPS for op in ops)
    output_is_zero = arch.space == "nb201" and nb201_output_is_zero(ops)
    reasons = []
    if output_is_zero:
        reasons.append("every path to the output crosses none, so the cell outputs zeros")
    if skip_none > COLLAPSE_FRACTION * len(ops):
        reasons.append(f"{skip_none} of {len(ops)} edges are skip/none")
    if parametric == 0:
        reasons.append("no op of the cell has weights")
    collapsed = bool(reasons)
    # pooling, skip and none on most edges: the wider failure of Zela et al. (parameter-free ops win)
    dominated = len(ops) - parametric > COLLAPSE_FRACTION * len(ops)
    if collapsed:
        verdict = "collapsed: " + "; ".join(reasons)
    elif dominated:
        verdict = (
            f"parameter-free ops dominate: {len(ops) - parametric} of {len(ops)} edges are pooling/skip/none "
            f"({skip_none} skip/none), {parametric} with weights"
        )
    else:
        verdict = f"not collapsed: {skip_none} of {len(ops)} edges skip/none, {parametric} with weights"
    return CollapseCheck(ops, skip_none, parametric, output_is_zero, collapsed, dominated, verdict)


def skip_none_mass(probabilities: np.ndarray, op_names: Sequence[str]) -> float:
    """Mean over edges of the probability (or softmax weight) of skip/none ops: collapse in the making."""
    columns = [i for i, name in enumerate(op_names) if name in SKIP_OPS]
    if not columns:
        return 0.0
    return float(np.asarray(probabilities)[:, columns].sum(axis=1).mean())


def mean_entropy(probabilities: np.ndarray) -> float:
    """Mean over edges of the entropy (nats) of each edge's distribution over ops."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return float(-(p * np.log(p)).sum(axis=1).mean())


def nb201_truth(arch: Architecture) -> dict[str, Any]:
    """The table's accuracies (percent) of an NB201 cell on each benchmark data set, with its rank among
    all 15,625 cells by 200-epoch test accuracy (1 = best), the best cell's and the mean cell's accuracy."""
    from archsearch.evaluators.tabular import DATASETS, load_table
    from archsearch.spaces.nb201 import NB201Space

    index = NB201Space().index(arch)
    truth: dict[str, Any] = {"index": index}
    for dataset in DATASETS:
        table = load_table(dataset)
        column = table.test_acc_200ep
        truth[dataset] = {
            "test_acc_200ep": float(column[index]),
            "val_acc_200ep": float(table.val_acc_200ep[index]),
            "val_acc_12ep": float(table.val_acc_12ep[index]),
            "rank": int(np.sum(column > column[index])) + 1,
            "optimum_test_acc_200ep": float(column.max()),
            "mean_test_acc_200ep": float(column.mean()),
        }
    return truth
