"""ASNG math against a hand-computed example (SPEC.md section 5).

D = 2 decisions with K = (3, 4) choices, theta uniform, delta = 1, lambda = 2.
Samples c1 = (0, 3), c2 = (2, 0) with losses 0.1 < 0.7, so u = (+1, -1) and
G = (c1 - c2) / 2 = [[.5, 0, -.5], [-.5, 0, 0, .5]].
||G||_F^2 = .25 * 3 * 2 + .25 * 4 * 2 = 3.5.
theta + G / sqrt(3.5): row 0 = [.600595, .333333, .066072], row 1 = [-.017261, .25, .25, .517261].
theta_min = 1 / (D (K - 1)) = [1/4, 1/6]. Clipping row 0: max -> [.600595, .333333, .25], sum 1.183928,
spare = 1.183928 - 3/4 = .433928, row -= .183928 (row - 1/4) / .433928 -> [.451990, .298011, .25].
Row 1: max -> [1/6, .25, .25, .517261], sum 1.183928, spare = 1.183928 - 4/6 = .517261,
row -= .183928 (row - 1/6) / .517261 -> [.166667, .220368, .220368, .392597].
Step size: N = 2 + 3 = 5, beta = 1/sqrt(5) = .447214, gamma = beta (2 - beta) = .694427,
||s||^2 = gamma (the direction has unit norm), delta = exp(beta (gamma / 1.5 - gamma)) = exp(-.103519) = .901659.
"""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.strategies import asng_math as m

K = np.array([3, 4])


def test_uniform_theta_and_lower_bound():
    theta = m.uniform_theta(K)
    assert theta == pytest.approx(np.array([[1 / 3, 1 / 3, 1 / 3, 0], [0.25, 0.25, 0.25, 0.25]]))
    assert m.theta_lower_bound(K) == pytest.approx([1 / 4, 1 / 6])
    assert m.num_free_params(K) == 5


def test_lower_bound_stays_below_uniform_where_the_paper_formula_would_freeze_theta():
    # D_valid = 1: the paper's 1/(K-1) exceeds 1/K; D_valid = 2, K = 2: it equals 1/2
    assert m.theta_lower_bound(np.array([4])) == pytest.approx([1 / 8])
    assert m.theta_lower_bound(np.array([2, 2])) == pytest.approx([1 / 4, 1 / 4])
    assert m.theta_lower_bound(np.array([1, 5, 5])) == pytest.approx([0, 1 / 8, 1 / 8])


def test_rank_utility_best_gets_plus_one_ties_share():
    assert m.rank_utility(np.array([0.1, 0.7])).tolist() == [1, -1]
    assert m.rank_utility(np.array([0.7, 0.1])).tolist() == [-1, 1]
    assert m.rank_utility(np.array([0.3, 0.3])).tolist() == [0, 0]
    # lambda = 8: mu = 2; the two lowest +1/2, the two highest -1/2
    assert m.rank_utility(np.array([5, 1, 3, 3, 9, 0, 2, 7])).tolist() == [0, 0.5, 0, 0, -0.5, 0.5, 0, -0.5]
    # lambda = 4, mu = 1, a tie for best shares (1 + 0) / 2
    assert m.rank_utility(np.array([1, 1, 2, 3])).tolist() == [0.5, 0.5, 0, -1]


def test_natural_gradient_and_fisher_norms_by_hand():
    theta = m.uniform_theta(K)
    samples = m.one_hot(np.array([[0, 3], [2, 0]]), K)
    g = m.natural_gradient(np.array([1.0, -1.0]), samples, theta)
    assert g == pytest.approx(np.array([[0.5, 0, -0.5, 0], [-0.5, 0, 0, 0.5]]))
    assert m.fisher_norm(g, theta) == pytest.approx(np.sqrt(3.5))
    # F^{1/2} G: row 0 = G_k sqrt(3) + sqrt(1/3) * 0.5 / (1/3 + sqrt(1/3)) for k < 2
    half = m.fisher_sqrt_times(g, theta, K)
    extra0 = np.sqrt(1 / 3) * 0.5 / (1 / 3 + np.sqrt(1 / 3))
    extra1 = np.sqrt(0.25) * -0.5 / (0.25 + 0.5)
    assert half == pytest.approx([0.5 * np.sqrt(3) + extra0, extra0, -0.5 * 2 + extra1, extra1, extra1])
    assert float(half @ half) == pytest.approx(3.5)  # its squared norm is the Fisher norm


def test_clip_theta_by_hand():
    raw = np.array([[0.600595, 0.333333, 0.066072, 0], [-0.017261, 0.25, 0.25, 0.517261]])
    clipped = m.clip_theta(raw, K, np.array([1 / 4, 1 / 6]))
    assert clipped == pytest.approx(
        np.array([[0.451990, 0.298011, 0.25, 0], [0.166667, 0.220368, 0.220368, 0.392597]]), abs=2e-6
    )


def test_one_asng_step_by_hand():
    samples = m.one_hot(np.array([[0, 3], [2, 0]]), K)
    theta, step = m.asng_step(m.uniform_theta(K), m.StepSize.initial(5), samples, np.array([0.1, 0.7]), K)
    assert theta == pytest.approx(
        np.array([[0.451990, 0.298011, 0.25, 0], [0.166667, 0.220368, 0.220368, 0.392597]]), abs=2e-6
    )
    assert step.gamma == pytest.approx(0.694427, abs=1e-6)
    assert float(step.s @ step.s) == pytest.approx(0.694427, abs=1e-6)
    assert step.delta == pytest.approx(0.901659, abs=1e-6)


def test_consistent_directions_grow_delta_and_noise_shrinks_it():
    # ||s||^2 > alpha gamma grows delta: s already aligned with the new direction
    direction = np.array([1.0, 0, 0, 0, 0])
    grown = m.adapt_step_size(m.StepSize(1.0, direction * 1.2, 0.2), direction, alpha=1.5)
    assert grown.delta > 1.0
    shrunk = m.adapt_step_size(m.StepSize(1.0, -direction * 0.5, 0.5), direction, alpha=1.5)
    assert shrunk.delta < 1.0
    assert (
        m.adapt_step_size(m.StepSize(1.0, direction * 1.2, 0.2), direction, 1.5, delta_max=1.1).delta == 1.1
    )


def test_tie_or_identical_samples_leave_theta_alone():
    theta, step = m.uniform_theta(K), m.StepSize.initial(5)
    same = m.one_hot(np.array([[1, 1], [1, 1]]), K)
    other = m.one_hot(np.array([[0, 1], [1, 2]]), K)
    for samples, losses in ((same, [0.1, 0.7]), (other, [0.4, 0.4])):
        new_theta, new_step = m.asng_step(theta, step, samples, np.array(losses), K)
        assert new_theta is theta and new_step is step


def test_sample_indices_follow_theta():
    theta = np.array([[0.2, 0.8, 0.0], [0.1, 0.2, 0.7]])
    rng = np.random.default_rng(0)
    draws = np.array([m.sample_indices(theta, rng) for _ in range(20000)])
    assert draws[:, 0].max() == 1 and draws[:, 1].max() == 2
    assert (draws[:, 0] == 1).mean() == pytest.approx(0.8, abs=0.01)
    assert (draws[:, 1] == 2).mean() == pytest.approx(0.7, abs=0.01)
