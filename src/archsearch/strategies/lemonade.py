"""LEMONADE-style search: parents drawn from the Pareto front by inverse density of the cheap objectives."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective, parse_constraints, parse_objectives
from archsearch.pareto import pareto_mask
from archsearch.strategies.mutation import mutate
from archsearch.strategies.nsga2 import Member, propose_novel


def inverse_density_weights(points: np.ndarray) -> np.ndarray:
    """Selection probabilities proportional to 1 / p_KDE(point), p_KDE a Gaussian kernel density
    estimate fitted on ``points`` (N, D) themselves (LEMONADE, Elsken et al. 2019, Algorithm 1).

    The estimator is scipy's ``gaussian_kde`` (kernel covariance = data covariance x Scott's factor
    N^(-2/(D+4))), evaluated in a few numpy lines: the front holds tens of points, where scipy's per-call
    overhead is most of the time (the tests compare the two). Uniform when the estimate is degenerate
    (fewer than two distinct points, or a singular covariance).
    """
    count, dims = points.shape
    uniform = np.full(count, 1.0 / count)
    if count < 2 or len(np.unique(points, axis=0)) < 2:
        return uniform
    covariance = np.atleast_2d(np.cov(points, rowvar=False)) * count ** (-2.0 / (dims + 4))
    try:
        precision = np.linalg.inv(covariance)
    except np.linalg.LinAlgError:
        return uniform
    if not np.all(np.isfinite(precision)):
        return uniform
    diff = points[:, None, :] - points[None, :, :]
    density = np.exp(-0.5 * np.einsum("ijk,kl,ijl->ij", diff, precision, diff)).mean(axis=1)
    weights = 1.0 / np.maximum(density, np.finfo(float).tiny)
    return np.asarray(weights / weights.sum())


class Lemonade(Strategy):
    """LEMONADE-style multi-objective evolution (Elsken, Metzen & Hutter, ICLR 2019; SPEC.md 6.3).

    The population is the current Pareto front of every told architecture under ``objectives``
    (constraints: the front of the feasible ones, or of the least violating ones while none is feasible).
    Each child's parent is drawn from the front with probability proportional to 1 / p_KDE(f_cheap),
    a kernel density fitted on the front's cheap objectives, which favours sparse regions of the front;
    the child is the parent with one decision mutated. ``cheap_objectives`` names the metrics that are
    cheap (default: every objective but the first, e.g. latency or parameters beside accuracy). The first
    ``initial_size`` architectures are uniform.

    Simplified from the paper, because strategies here see decisions and results only:
    - no Lamarckian inheritance: network morphisms become one-decision mutations and every child is
      trained (or looked up) from scratch;
    - no second density filter: the paper accepts n_ac of n_pc children by inverse density of the
      children's own f_cheap before training them, which needs f_cheap of an untrained architecture;
      here every child is accepted (n_ac = n_pc) and f_cheap is read from its result like the others;
    - steady state instead of generations: each ask draws from the front as it is after the last tell.
    Children already proposed are redrawn (up to 50 times), so the budget is not spent on repeats.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: Sequence[str | Objective] = (),
        constraints: Sequence[str | Constraint] = (),
        cheap_objectives: Sequence[str] | None = None,
        initial_size: int = 10,
    ) -> None:
        self.objectives = parse_objectives(objectives)
        self.constraints = parse_constraints(constraints)
        if len(self.objectives) < 2:
            raise ConfigError(
                "lemonade needs at least two objectives; set e.g. objectives: [val_acc:max, latency_ms:min] "
                "in the study config"
            )
        metrics = [o.metric for o in self.objectives]
        cheap = list(cheap_objectives) if cheap_objectives is not None else metrics[1:]
        unknown = [m for m in cheap if m not in metrics]
        if unknown or not cheap:
            raise ConfigError(
                f"lemonade cheap_objectives must name some of the objectives ({', '.join(metrics)}), got {cheap}"
            )
        if initial_size < 1:
            raise ConfigError(f"lemonade initial_size must be at least 1, got {initial_size}")
        self.space = space
        self.cheap_columns = [metrics.index(m) for m in cheap]
        self.initial_size = initial_size
        self.rng = np.random.default_rng(seed)
        self.members: list[Member] = []
        self._parents: tuple[list[Member], np.ndarray] | None = None  # front and weights, until a tell
        self.proposed: set[Architecture] = set()
        self.num_told = 0
        self.num_failed = 0

    def front(self) -> list[Member]:
        """The Pareto front of the told members (of the feasible, or least violating, ones)."""
        if not self.members:
            return []
        least = min(m.violation for m in self.members)
        pool = [m for m in self.members if m.violation == least]
        mask = pareto_mask(np.array([m.losses for m in pool]))
        return [m for m, keep in zip(pool, mask, strict=True) if keep]

    def _child(self) -> Architecture:
        if len(self.members) < self.initial_size:
            return self.space.sample(self.rng)
        if self._parents is None:
            front = self.front()
            cheap = np.array([[m.losses[c] for c in self.cheap_columns] for m in front])
            self._parents = front, inverse_density_weights(cheap)
        front, weights = self._parents
        parent = front[int(self.rng.choice(len(front), p=weights))]
        return mutate(self.space, parent.arch, self.rng)

    def ask(self) -> Architecture:
        return propose_novel(self._child, self.proposed)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        self.num_told += 1
        if not result.ok:
            self.num_failed += 1
            return
        self.members.append(Member.of(arch, result, self.objectives, self.constraints))
        self._parents = None

    def progress(self) -> dict[str, float]:
        return {"front_size": float(len(self.front()))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "members": [m.to_state() for m in self.members],
            "proposed": [a.to_dict() for a in sorted(self.proposed, key=lambda a: a.to_json())],
            "num_told": self.num_told,
            "num_failed": self.num_failed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.members = [Member.from_state(m) for m in state["members"]]
        self._parents = None
        self.proposed = {Architecture.from_dict(a) for a in state["proposed"]}
        self.num_told = int(state["num_told"])
        self.num_failed = int(state["num_failed"])
