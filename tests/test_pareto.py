"""Non-dominated sorting, crowding distance and hypervolume on hand-made points."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.pareto import (
    constrained_fronts,
    crowding_distance,
    dominates,
    hypervolume,
    non_dominated_sort,
    pareto_mask,
)

# Minimised losses. Front 0: a, b, c; front 1: d, e (each dominated by front 0 only); front 2: f.
POINTS = np.array(
    [
        [1.0, 5.0],  # 0 a
        [2.0, 3.0],  # 1 b
        [4.0, 1.0],  # 2 c
        [3.0, 4.0],  # 3 d: dominated by b
        [5.0, 2.0],  # 4 e: dominated by c
        [6.0, 6.0],  # 5 f: dominated by everyone
    ]
)


def test_non_dominated_sort_finds_the_hand_made_fronts():
    fronts = non_dominated_sort(POINTS)
    assert [f.tolist() for f in fronts] == [[0, 1, 2], [3, 4], [5]]


def test_dominance_needs_one_strictly_better_objective():
    assert dominates([1, 1], [1, 2]) and not dominates([1, 2], [1, 2]) and not dominates([1, 3], [2, 2])


def test_pareto_mask_keeps_copies_and_matches_the_first_front_on_random_ties():
    assert pareto_mask([[1, 1], [1, 1], [1, 2], [0, 3]]).tolist() == [True, True, False, True]
    rng = np.random.default_rng(0)
    for _ in range(100):
        points = rng.integers(0, 5, size=(int(rng.integers(1, 30)), 2)).astype(float)
        assert np.flatnonzero(pareto_mask(points)).tolist() == non_dominated_sort(points)[0].tolist()
    three = rng.integers(0, 4, size=(40, 3)).astype(float)
    assert np.flatnonzero(pareto_mask(three)).tolist() == non_dominated_sort(three)[0].tolist()


def test_crowding_distance_by_hand():
    # Front a, b, c: ranges 3 (first loss) and 4 (second). b is interior: (4-1)/3 + (5-1)/4 = 2.
    distance = crowding_distance(POINTS[:3])
    assert np.isinf(distance[0]) and np.isinf(distance[2])
    assert distance[1] == pytest.approx(2.0)
    four = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    # interior: (3-0)/4 + (4-1)/4 = 1.5 and (4-1)/4 + (2-0)/4 = 1.25
    assert crowding_distance(four)[1:3] == pytest.approx([1.5, 1.25])


def test_hypervolume_of_a_hand_computed_staircase():
    # Reference (6, 6): rectangles [1,2]x[5,6] + [2,4]x[3,6] + [4,6]x[1,6] = 1 + 6 + 10 = 17.
    assert hypervolume(POINTS[:3], [6, 6]) == pytest.approx(17.0)
    # Dominated points and points beyond the reference add nothing.
    assert hypervolume(POINTS, [6, 6]) == pytest.approx(17.0)
    assert hypervolume([[7.0, 0.0]], [6, 6]) == 0.0


def test_hypervolume_in_three_objectives_by_hand():
    # Against (2, 2, 2): (0, 1, 1) dominates a 2x1x1 box, (1, 0, 1) a 1x2x1 box; they overlap in
    # [1,2]x[1,2]x[1,2], volume 1; so 2 + 2 - 1 = 3.
    assert hypervolume([[0, 1, 1], [1, 0, 1]], [2, 2, 2]) == pytest.approx(3.0)


def test_constrained_fronts_put_feasible_points_first_then_by_violation():
    # b and e violate: without b, d is no longer dominated and joins a and c in the first front.
    fronts = constrained_fronts(POINTS, [0, 0.5, 0, 0, 0.2, 0])
    assert [f.tolist() for f in fronts] == [[0, 2, 3], [5], [4], [1]]
