"""Pareto machinery on loss vectors (every objective minimised): dominance, non-dominated sorting,
crowding distance and hypervolume (Deb, Pratap, Agarwal & Meyarivan, "A fast and elitist multiobjective
genetic algorithm: NSGA-II", IEEE TEC 2002; SPEC.md 6.2)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from archsearch.errors import ConfigError


def _as_losses(losses: ArrayLike) -> np.ndarray:
    array = np.asarray(losses, dtype=np.float64)
    if array.ndim != 2:
        raise ConfigError(f"loss vectors must form an (N, M) array, got shape {array.shape}")
    return array


def dominates(a: ArrayLike, b: ArrayLike) -> bool:
    """Whether ``a`` Pareto-dominates ``b``: no worse in every objective, better in one (minimising)."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.all(a <= b) and np.any(a < b))


def _dominance_matrix(losses: np.ndarray) -> np.ndarray:
    """``D[i, j]``: point i dominates point j."""
    le = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)
    lt = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
    return le & lt


def non_dominated_sort(losses: ArrayLike) -> list[np.ndarray]:
    """Fronts of NSGA-II's fast non-dominated sort: front 0 = the points nobody dominates, front k the
    points dominated only by earlier fronts. Each front is an ascending array of row indices."""
    losses = _as_losses(losses)
    if len(losses) == 0:
        return []
    dominance = _dominance_matrix(losses)
    dominated_by = dominance.sum(axis=0)  # how many points dominate each point
    remaining = np.ones(len(losses), dtype=bool)
    fronts = []
    while remaining.any():
        front = np.flatnonzero(remaining & (dominated_by == 0))
        fronts.append(front)
        remaining[front] = False
        dominated_by = dominated_by - dominance[front].sum(axis=0)
        dominated_by[~remaining] = -1
    return fronts


def pareto_mask(losses: ArrayLike) -> np.ndarray:
    """Which points no other point dominates; O(N log N) in two dimensions, so a whole table is cheap."""
    losses = _as_losses(losses)
    count = len(losses)
    if count == 0:
        return np.zeros(0, dtype=bool)
    if losses.shape[1] != 2:
        return np.asarray(~_dominance_matrix(losses).any(axis=0))
    # Sort by the first loss, then the second: a point is dominated iff a point before it in this order,
    # other than its own copies (which sit next to it), has a second loss <= its own.
    order = np.lexsort((losses[:, 1], losses[:, 0]))
    first, second = losses[order, 0], losses[order, 1]
    new_block = np.concatenate(([True], (first[1:] != first[:-1]) | (second[1:] != second[:-1])))
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(count), 0))
    best_before = np.concatenate(([np.inf], np.minimum.accumulate(second)))[block_start]
    dominated = best_before <= second
    mask = np.empty(count, dtype=bool)
    mask[order] = ~dominated
    return mask


def crowding_distance(losses: ArrayLike) -> np.ndarray:
    """NSGA-II crowding distance of the points of one front: per objective, sort; the two boundary
    points get infinity, an interior point adds ``(f[i+1] - f[i-1]) / (f_max - f_min)``."""
    losses = _as_losses(losses)
    count, num_objectives = losses.shape
    distance = np.zeros(count)
    if count <= 2:
        return np.full(count, np.inf)
    for m in range(num_objectives):
        order = np.argsort(losses[:, m], kind="stable")
        values = losses[order, m]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def hypervolume(losses: ArrayLike, reference: ArrayLike) -> float:
    """The volume dominated by ``losses`` and bounded by ``reference`` (minimising; points not strictly
    better than the reference in every objective add nothing). Two objectives: one sort, exact. More:
    Optuna's exact WFG implementation (While, Bradstreet & Barone 2012)."""
    losses = _as_losses(losses)
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (losses.shape[1],):
        raise ConfigError(f"the reference point needs {losses.shape[1]} values, got {reference.shape}")
    inside = losses[np.all(losses < reference, axis=1)]
    if len(inside) == 0:
        return 0.0
    if losses.shape[1] == 2:
        front = inside[pareto_mask(inside)]
        front = front[np.argsort(front[:, 0])]
        # With the first loss ascending, the second descends along a front: a staircase of rectangles.
        widths = np.diff(np.concatenate((front[:, 0], [reference[0]])))
        return float(np.sum(widths * (reference[1] - front[:, 1])))
    try:
        from optuna._hypervolume import compute_hypervolume
    except ImportError:
        raise ConfigError(
            "hypervolume in more than two objectives needs Optuna: pip install optuna"
        ) from None
    return float(compute_hypervolume(inside, reference))


def constrained_fronts(losses: ArrayLike, violations: ArrayLike) -> list[np.ndarray]:
    """Fronts under Deb's constrained domination (NSGA-II, section VI): feasible points (violation 0)
    first, in their non-dominated fronts; then infeasible points, fewer violation first, points of equal
    violation sharing a front."""
    losses = _as_losses(losses)
    violations = np.asarray(violations, dtype=np.float64)
    feasible_rows = np.flatnonzero(violations <= 0)
    fronts = [feasible_rows[front] for front in non_dominated_sort(losses[feasible_rows])]
    infeasible_rows = np.flatnonzero(violations > 0)
    for value in np.unique(violations[infeasible_rows]):
        fronts.append(infeasible_rows[violations[infeasible_rows] == value])
    return fronts
