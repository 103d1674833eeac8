"""NSGA-II on architectures: non-dominated sorting, crowding distance, binary tournaments, crossover and
mutation of decisions, elitist (mu + lambda) survival."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.objectives import (
    Constraint,
    Objective,
    loss_vector,
    parse_constraints,
    parse_objectives,
    total_violation,
)
from archsearch.pareto import constrained_fronts, crowding_distance
from archsearch.strategies.mutation import alternatives, can_change, complete, mutate, random_value

# How many children to draw before accepting one that was already proposed (a small space can run out).
NOVELTY_ATTEMPTS = 50


@dataclass(frozen=True)
class Member:
    """An evaluated architecture: its losses (every objective minimised) and constraint violation."""

    arch: Architecture
    losses: tuple[float, ...]
    violation: float

    def to_state(self) -> tuple[dict[str, Any], list[float], float]:
        return self.arch.to_dict(), list(self.losses), self.violation

    @classmethod
    def of(
        cls,
        arch: Architecture,
        result: Result,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
    ) -> Member:
        """The member for ``arch`` from the metrics of its result."""
        losses = tuple(float(x) for x in loss_vector(objectives, result.metrics))
        return cls(arch, losses, total_violation(constraints, result.metrics))

    @classmethod
    def from_state(cls, state: Sequence[Any]) -> Member:
        arch, losses, violation = state
        return cls(Architecture.from_dict(arch), tuple(float(x) for x in losses), float(violation))


def propose_novel(make_child: Callable[[], Architecture], proposed: set[Architecture]) -> Architecture:
    """A child from ``make_child`` not yet in ``proposed`` (redrawn up to ``NOVELTY_ATTEMPTS`` times, then
    accepted anyway: a small space can run out), recorded in ``proposed``."""
    child = make_child()
    for _ in range(NOVELTY_ATTEMPTS):
        if child not in proposed:
            break
        child = make_child()
    proposed.add(child)
    return child


def crossover(
    space: SearchSpace, first: Architecture, second: Architecture, rng: np.random.Generator
) -> Architecture:
    """Uniform crossover of decision values: what both parents share is kept (NSGA-Net's crossover keeps
    the common bits), each other decision takes either parent's value with probability 1/2, each link of
    a LINKS decision likewise. Where the prefix asks a question neither parent answered (variable-length
    spaces), the value is uniform."""
    values: list[Any] = []
    first_decisions = list(space.walk(first.values))
    second_decisions = list(space.walk(second.values))
    while (decision := space.decisions(tuple(values))) is not None:
        i = len(values)
        options = [
            parent.values[i]
            for parent, decisions in ((first, first_decisions), (second, second_decisions))
            if i < len(decisions) and decisions[i] == decision
        ]
        if not options:
            values.append(random_value(decision, rng))
        elif len(options) == 1 or options[0] == options[1]:
            values.append(options[0])
        elif decision.is_links:
            a, b = set(options[0]), set(options[1])
            pick = {j for j in a ^ b if rng.random() < 0.5}
            values.append(tuple(sorted((a & b) | pick)))
        else:
            values.append(options[int(rng.integers(2))])
    return Architecture(space.name, tuple(values))


def mutate_each(
    space: SearchSpace, arch: Architecture, rng: np.random.Generator, rate: float | None
) -> Architecture:
    """Each decision changes to a uniform other value with probability ``rate`` (default 1 / number of
    decisions: NSGA-Net's bit-flip mutation); if none changed, exactly one does (``mutation.mutate``),
    so a child never repeats the architecture it came from."""
    decisions = list(space.walk(arch.values))
    rate = 1.0 / max(len(decisions), 1) if rate is None else rate
    values = list(arch.values)
    changed = False
    for i, decision in enumerate(decisions):
        if can_change(decision) and rng.random() < rate:
            options = alternatives(decision, values[i])
            values[i] = options[int(rng.integers(len(options)))]
            changed = True
    if not changed:
        return mutate(space, arch, rng)
    # Keep the changed values where the decisions stay the same; redraw what a changed prefix alters.
    prefix: list[Any] = []
    for i, value in enumerate(values):
        if space.decisions(tuple(prefix)) != decisions[i]:
            break
        prefix.append(value)
    return complete(space, tuple(prefix), tuple(values), decisions, rng)


class NSGA2(Strategy):
    """NSGA-II (Deb, Pratap, Agarwal & Meyarivan, IEEE TEC 2002) as NSGA-Net uses it for architectures
    (Lu et al., GECCO 2019; SPEC.md 6.2).

    ``objectives`` (metrics of the Result with a direction, from the study config) are minimised or
    maximised jointly; ``constraints`` enter through Deb's constrained domination (feasible first, then
    by smaller violation). The first ``population_size`` (40 in NSGA-Net) architectures are uniform.
    Then each child comes from two binary tournaments on (rank ascending, crowding distance descending)
    among the parents, uniform crossover with probability ``crossover_prob`` (else a copy of the first
    parent) and bit-flip mutation (``mutation_rate``, default 1/D; at least one decision changes). Each
    time ``population_size`` children are told, parents and children are merged and the next parents
    filled front by front, the overflowing front truncated by largest crowding distance (elitist mu+lambda).

    Asynchronous: the generation boundary counts told children, so asks may run ahead of tells; a child
    asked from an older parent set simply joins the next merge. Failed trials are not members.
    Children already proposed are redrawn (up to 50 times), so the budget is not spent on repeats.
    Not implemented: NSGA-Net's second, Bayesian-network (BOA) stage.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: Sequence[str | Objective] = (),
        constraints: Sequence[str | Constraint] = (),
        population_size: int = 40,
        crossover_prob: float = 0.9,
        mutation_rate: float | None = None,
    ) -> None:
        self.objectives = parse_objectives(objectives)
        self.constraints = parse_constraints(constraints)
        if len(self.objectives) < 2:
            raise ConfigError(
                "nsga2 needs at least two objectives; set e.g. objectives: [val_acc:max, latency_ms:min] "
                "in the study config"
            )
        if population_size < 2:
            raise ConfigError(f"nsga2 population_size must be at least 2, got {population_size}")
        if not 0 <= crossover_prob <= 1:
            raise ConfigError(f"nsga2 crossover_prob must be in [0, 1], got {crossover_prob}")
        if mutation_rate is not None and not 0 <= mutation_rate <= 1:
            raise ConfigError(f"nsga2 mutation_rate must be in [0, 1], got {mutation_rate}")
        self.space = space
        self.population_size = population_size
        self.crossover_prob = crossover_prob
        self.mutation_rate = mutation_rate
        self.rng = np.random.default_rng(seed)
        self.parents: list[Member] = []
        self.rank: np.ndarray = np.zeros(0, dtype=np.int64)
        self.crowding: np.ndarray = np.zeros(0)
        self.offspring: list[Member] = []  # told since the last survival
        self.proposed: set[Architecture] = set()
        self.generation = 0
        self.num_told = 0
        self.num_failed = 0

    # -- variation ----------------------------------------------------------------------------------
    def _tournament(self) -> Architecture:
        i, j = (int(k) for k in self.rng.integers(len(self.parents), size=2))
        better = (self.rank[i], -self.crowding[i]) <= (self.rank[j], -self.crowding[j])
        return self.parents[i if better else j].arch

    def _child(self) -> Architecture:
        if not self.parents:
            return self.space.sample(self.rng)
        first, second = self._tournament(), self._tournament()
        if self.rng.random() < self.crossover_prob:
            first = crossover(self.space, first, second, self.rng)
        return mutate_each(self.space, first, self.rng, self.mutation_rate)

    def ask(self) -> Architecture:
        return propose_novel(self._child, self.proposed)

    # -- selection ----------------------------------------------------------------------------------
    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        self.num_told += 1
        if not result.ok:
            self.num_failed += 1
            return
        self.offspring.append(Member.of(arch, result, self.objectives, self.constraints))
        if len(self.offspring) >= self.population_size:
            self._survive()

    def _survive(self) -> None:
        merged = self.parents + self.offspring
        losses = np.array([m.losses for m in merged])
        violations = np.array([m.violation for m in merged])
        chosen: list[int] = []
        ranks: list[int] = []
        crowding: list[float] = []
        for rank, front in enumerate(constrained_fronts(losses, violations)):
            distance = crowding_distance(losses[front])
            room = self.population_size - len(chosen)
            order = (
                np.argsort(-distance, kind="stable")[:room] if len(front) > room else np.arange(len(front))
            )
            chosen += [int(front[k]) for k in order]
            ranks += [rank] * len(order)
            crowding += [float(distance[k]) for k in order]
            if len(chosen) >= self.population_size:
                break
        self.parents = [merged[k] for k in chosen]
        self.rank = np.array(ranks, dtype=np.int64)
        self.crowding = np.array(crowding)
        self.offspring = []
        self.generation += 1

    def progress(self) -> dict[str, float]:
        return {
            "generation": float(self.generation),
            "front_size": float(np.sum(self.rank == 0)) if len(self.rank) else 0.0,
        }

    # -- resume -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "parents": [m.to_state() for m in self.parents],
            "rank": self.rank.tolist(),
            "crowding": self.crowding.tolist(),
            "offspring": [m.to_state() for m in self.offspring],
            "proposed": [a.to_dict() for a in sorted(self.proposed, key=lambda a: a.to_json())],
            "generation": self.generation,
            "num_told": self.num_told,
            "num_failed": self.num_failed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.parents = [Member.from_state(m) for m in state["parents"]]
        self.rank = np.array(state["rank"], dtype=np.int64)
        self.crowding = np.array(state["crowding"], dtype=np.float64)
        self.offspring = [Member.from_state(m) for m in state["offspring"]]
        self.proposed = {Architecture.from_dict(a) for a in state["proposed"]}
        self.generation = int(state["generation"])
        self.num_told = int(state["num_told"])
        self.num_failed = int(state["num_failed"])
