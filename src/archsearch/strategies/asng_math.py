"""The math of ASNG (Akimoto et al., ICML 2019) as pure functions on a categorical distribution.

theta has shape (D, K_max): row d holds P(decision d = k) for k < K_d and zeros after; ``num_choices``
holds K_d. Shared by the black-box strategy (strategies/asng.py) and one-shot ASNG-NAS. SPEC.md section 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this every coordinate of the natural gradient counts as zero (the reference code's threshold).
TINY_GRADIENT = 1e-18


@dataclass(frozen=True)
class StepSize:
    """The adaptive step size of SPEC 5.3: delta, the accumulated direction s in R^N and its expected
    squared norm gamma under pure noise. Starts at s = 0, gamma = 0."""

    delta: float
    s: np.ndarray
    gamma: float

    @classmethod
    def initial(cls, num_params: int, delta: float = 1.0) -> StepSize:
        return cls(delta=delta, s=np.zeros(num_params), gamma=0.0)


def valid_mask(num_choices: np.ndarray) -> np.ndarray:
    """Boolean (D, K_max): True where k < K_d."""
    return np.arange(int(num_choices.max()))[None, :] < num_choices[:, None]


def uniform_theta(num_choices: np.ndarray) -> np.ndarray:
    """theta^0: every decision uniform over its K_d choices."""
    return valid_mask(num_choices) / num_choices[:, None]


def num_free_params(num_choices: np.ndarray) -> int:
    """N = sum_d (K_d - 1), the dimension of the statistical manifold."""
    return int((num_choices - 1).sum())


def theta_lower_bound(num_choices: np.ndarray) -> np.ndarray:
    """theta_min,d = 1 / (D_valid (K_d - 1)), D_valid = #decisions with K_d > 1 (SPEC 5.4; 0 where K_d = 1).

    Where the paper's bound reaches 1/K_d (D_valid = 1, or D_valid = 2 with K_d = 2) it would freeze
    theta at uniform or make the projection divide by zero; there we use 1/(2 K_d) instead (our choice).
    """
    d_valid = int((num_choices > 1).sum())
    bound = np.zeros(len(num_choices))
    for d, k in enumerate(num_choices):
        if k > 1:
            paper = 1.0 / (d_valid * (k - 1))
            bound[d] = paper if paper < 1.0 / k else 1.0 / (2 * k)
    return bound


def one_hot(indices: np.ndarray, num_choices: np.ndarray) -> np.ndarray:
    """Samples as one-hot arrays: indices (lam, D) -> (lam, D, K_max)."""
    indices = np.atleast_2d(indices)
    out = np.zeros((indices.shape[0], len(num_choices), int(num_choices.max())))
    np.put_along_axis(out, indices[:, :, None], 1.0, axis=2)
    return out


def sample_indices(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One sample c ~ p_theta as the chosen index of each decision, shape (D,)."""
    cumulative = theta.cumsum(axis=1)
    u = rng.random((theta.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), (theta > 0).sum(axis=1) - 1)


def rank_utility(losses: np.ndarray) -> np.ndarray:
    """Ranking-based utility (SPEC 5.2, reference code): with mu = ceil(lam / 4), the mu lowest losses get
    +1/mu, the mu highest -1/mu, the rest 0; tied losses share the mean of their utilities.
    For lam = 2: better +1, worse -1, a tie 0 and 0."""
    losses = np.asarray(losses, dtype=float)
    lam = len(losses)
    mu = int(np.ceil(lam / 4))
    by_rank = np.zeros(lam)
    by_rank[:mu] = 1.0 / mu
    by_rank[lam - mu :] = -1.0 / mu
    order = np.argsort(losses, kind="stable")
    utility = np.empty(lam)
    start = 0
    while start < lam:
        stop = start + 1
        while stop < lam and losses[order[stop]] == losses[order[start]]:
            stop += 1
        utility[order[start:stop]] = by_rank[start:stop].mean()
        start = stop
    return utility


def natural_gradient(utilities: np.ndarray, samples: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """G = (1/lam) sum_i u_i (c_i - theta): the natural-gradient estimate, with T(c) = c for the
    categorical family (SPEC 5.1-5.2). ``samples`` one-hot (lam, D, K_max); padding stays 0."""
    mask = theta > 0
    return np.mean(utilities[:, None, None] * (samples - theta[None]), axis=0) * mask


def fisher_norm(gradient: np.ndarray, theta: np.ndarray) -> float:
    """||G||_F(theta) = sqrt(sum_{d,k} G_dk^2 / theta_dk) (SPEC 5.2)."""
    mask = theta > 0
    return float(np.sqrt(np.sum(gradient[mask] ** 2 / theta[mask])))


def fisher_sqrt_times(gradient: np.ndarray, theta: np.ndarray, num_choices: np.ndarray) -> np.ndarray:
    """F(theta)^{1/2} G in R^N, per decision over its first K_d - 1 coordinates (SPEC 5.3):
    (F^{1/2} G)_k = G_k / sqrt(theta_k) + sqrt(theta_k) (sum_{j<K} G_j) / (theta_K + sqrt(theta_K))."""
    free = np.arange(theta.shape[1])[None, :] < (num_choices - 1)[:, None]
    last = np.take_along_axis(theta, (num_choices - 1)[:, None], axis=1)
    root = np.sqrt(np.where(free, theta, 1.0))
    total = np.where(free, gradient, 0.0).sum(axis=1, keepdims=True)
    return (gradient / root + root * total / (last + np.sqrt(last)))[free]


def clip_theta(theta: np.ndarray, num_choices: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Range restriction (SPEC 5.4): theta_d <- max(theta_d, theta_min,d), then
    theta_d <- theta_d - (sum theta_d - 1)(theta_d - theta_min,d) / (sum theta_d - K_d theta_min,d),
    then renormalise each row to sum 1."""
    mask = valid_mask(num_choices)
    low = lower[:, None]
    row = np.where(mask, np.maximum(theta, low), 0.0)
    total = row.sum(axis=1, keepdims=True)
    spare = total - num_choices[:, None] * low
    shrink = np.divide(total - 1.0, spare, out=np.zeros_like(spare), where=spare > 0)
    row = np.where(mask, row - shrink * (row - low), 0.0)
    return row / row.sum(axis=1, keepdims=True)


def adapt_step_size(
    step: StepSize, direction: np.ndarray, alpha: float, delta_max: float = np.inf
) -> StepSize:
    """One SNR update of delta (SPEC 5.3), with ``direction`` = F^{1/2} G / ||G||_F and N = len(direction):
    beta = delta / sqrt(N); s <- (1-beta) s + sqrt(beta (2-beta)) direction;
    gamma <- (1-beta)^2 gamma + beta (2-beta); delta <- min(delta_max, delta exp(beta (||s||^2/alpha - gamma)))."""
    beta = step.delta / np.sqrt(len(direction))
    s = (1 - beta) * step.s + np.sqrt(beta * (2 - beta)) * direction
    gamma = (1 - beta) ** 2 * step.gamma + beta * (2 - beta)
    delta = min(delta_max, step.delta * float(np.exp(beta * (float(s @ s) / alpha - gamma))))
    return StepSize(delta=delta, s=s, gamma=float(gamma))


def asng_step(
    theta: np.ndarray,
    step: StepSize,
    samples: np.ndarray,
    losses: np.ndarray,
    num_choices: np.ndarray,
    alpha: float = 1.5,
    delta_max: float = np.inf,
    lower: np.ndarray | None = None,
) -> tuple[np.ndarray, StepSize]:
    """One ASNG update of theta from lam one-hot ``samples`` (lam, D, K_max) and their ``losses``
    (lower is better), SPEC 5.2-5.4: theta <- clip(theta + delta G / ||G||_F), then adapt delta.

    Returns the inputs unchanged when all utilities are equal or G vanishes (nothing to learn).
    """
    utilities = rank_utility(losses)
    if np.all(utilities == utilities[0]):
        return theta, step
    gradient = natural_gradient(utilities, samples, theta)
    if np.all(np.abs(gradient) < TINY_GRADIENT):
        return theta, step
    norm = fisher_norm(gradient, theta)
    direction = fisher_sqrt_times(gradient, theta, num_choices) / norm
    if lower is None:
        lower = theta_lower_bound(num_choices)
    new_theta = clip_theta(theta + step.delta * gradient / norm, num_choices, lower)
    return new_theta, adapt_step_size(step, direction, alpha, delta_max)


def is_converged(
    theta: np.ndarray, num_choices: np.ndarray, lower: np.ndarray, tolerance: float = 1e-3
) -> bool:
    """True when every decision with K_d > 1 puts within ``tolerance`` of the most probability that the
    range restriction allows, 1 - (K_d - 1) theta_min,d, on one choice: theta can move no further towards
    a single architecture (the one-shot run's convergence test; SPEC 5.4)."""
    ceiling = 1.0 - (num_choices - 1) * lower
    free = num_choices > 1
    return bool(np.all(theta.max(axis=1)[free] >= ceiling[free] - tolerance))
