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

from archsearch.core import Architecture, SearchSpace

SKIP_OPS = frozenset({"skip_connect", "identity", "none"})
"""Ops a collapsed cell is made of: identities and zeros."""
PARAMETER_FREE_OPS = SKIP_OPS | {"avg_pool_3x3", "max_pool_3x3", "max_pool_5x5", "max_pool_7x7"}
COLLAPSE_FRACTION = 0.5
"""A cell with more than this fraction of its live edges skip connections is called collapsed."""


@dataclass(frozen=True)
class CollapseCheck:
    """The derived (normal) cell's live edges (those on a path from input to output that crosses no
    ``none``), how many of them are skip connections or have weights, and the verdict."""

    ops: tuple[str, ...]
    live_ops: tuple[str, ...]
    skip: int
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


def nb201_live_edges(ops: Sequence[str]) -> list[bool]:
    """For each NB201 edge: whether it lies on a path from node 0 to node 3 that crosses no ``none``
    (an edge out of a node that only zeros reach, or into a node that reaches nothing, is dead)."""
    from archsearch.spaces.nb201 import EDGES

    forward, backward = {0}, {3}
    for (source, target), op in zip(EDGES, ops, strict=True):  # EDGES are in topological order
        if source in forward and op != "none":
            forward.add(target)
    for (source, target), op in reversed(list(zip(EDGES, ops, strict=True))):
        if target in backward and op != "none":
            backward.add(source)
    return [
        op != "none" and source in forward and target in backward
        for (source, target), op in zip(EDGES, ops, strict=True)
    ]


def nb201_output_is_zero(ops: Sequence[str]) -> bool:
    """True when every path from the NB201 cell's input (node 0) to its output (node 3) crosses ``none``."""
    return not any(nb201_live_edges(ops))


def check_collapse(space: SearchSpace, arch: Architecture) -> CollapseCheck:
    """Count the skip connections and the ops with weights on the derived normal cell's live edges and
    name the verdict: collapsed (zeros out, mostly skip, or no weights), dominated by parameter-free ops
    (pooling and skip on most live edges), or neither."""
    ops = normal_cell_ops(space, arch)
    live = (
        ops
        if arch.space != "nb201"
        else tuple(op for op, alive in zip(ops, nb201_live_edges(ops), strict=True) if alive)
    )
    skip = sum(op in SKIP_OPS for op in live)
    parametric = sum(op not in PARAMETER_FREE_OPS for op in live)
    output_is_zero = not live
    reasons = []
    if output_is_zero:
        reasons.append("every path to the output crosses none, so the cell outputs zeros")
    elif skip > COLLAPSE_FRACTION * len(live):
        reasons.append(f"{skip} of {len(live)} live edges are skip connections")
    if live and parametric == 0:
        reasons.append("no live op has weights")
    collapsed = bool(reasons)
    # pooling and skip on most live edges: the wider failure of Zela et al. (parameter-free ops win)
    dominated = len(live) - parametric > COLLAPSE_FRACTION * len(live)
    dead = f"; {len(ops) - len(live)} of {len(ops)} edges none or dead" if len(live) < len(ops) else ""
    if collapsed:
        verdict = "collapsed: " + "; ".join(reasons) + dead
    elif dominated:
        verdict = (
            f"parameter-free ops dominate: {len(live) - parametric} of {len(live)} live edges are "
            f"pooling/skip, {parametric} with weights{dead}"
        )
    else:
        verdict = f"not collapsed: {skip} of {len(live)} live edges skip, {parametric} with weights{dead}"
    return CollapseCheck(ops, live, skip, parametric, output_is_zero, collapsed, dominated, verdict)


def skip_none_mass(
    probabilities: np.ndarray, op_names: Sequence[str], choice_names: Sequence[Sequence[str]] | None = None
) -> float:
    """Mean over edges of the probability (or softmax weight) of skip/none ops: collapse in the making.
    ``choice_names`` (a user's model space) names each edge's own candidates instead of ``op_names``."""
    rows = np.asarray(probabilities, dtype=np.float64)
    if choice_names is not None:
        masses = [
            sum(row[k] for k, name in enumerate(names) if name in SKIP_OPS)
            for row, names in zip(rows, choice_names, strict=True)
        ]
        return float(np.mean(masses))
    columns = [i for i, name in enumerate(op_names) if name in SKIP_OPS]
    if not columns:
        return 0.0
    return float(rows[:, columns].sum(axis=1).mean())


def mean_entropy(probabilities: np.ndarray) -> float:
    """Mean over edges of the entropy (nats) of each edge's distribution over ops."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return float(-(p * np.log(p)).sum(axis=1).mean())


def nb201_truth(arch: Architecture) -> dict[str, Any]:
    """The table's accuracies (percent) of an NB201 cell on each benchmark data set, with its rank among
    all 15,625 cells by 200-epoch test accuracy (1 = best), the best cell's and the mean cell's accuracy."""
    from archsearch.evaluators.nb201_table import DATASETS, load_table
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
