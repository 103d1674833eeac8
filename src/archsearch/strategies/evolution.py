"""Regularized (aging) evolution: tournament selection, one mutation per child, the oldest model dies."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies.mutation import mutate


class RegularizedEvolution(Strategy):
    """Regularized evolution (Real, Aggarwal, Huang & Le, AAAI 2019, Algorithm 1; SPEC.md 3.2).

    Until ``population_size`` (P in the paper) results are in, every ask is a uniformly random
    architecture. After that the parent is the best of ``sample_size`` (S) members drawn uniformly with
    replacement from the population, the child is the parent with one decision mutated, and each result
    joins the population while the oldest member leaves (aging, not the worst). Defaults P = 10, S = 3
    are those of the NB201 / NATS-Bench REA runs (AutoDL-Projects ``--ea_population 10
    --ea_sample_size 3``); the paper's CIFAR-10 search used P = 100, S = 25.

    Asynchronous: the population holds results in the order they were told, so tells may come in any
    order and many asks may be outstanding. A failed trial is not a trained model: it does not join the
    population (it would only crowd out models with a fitness) and so does not age anyone out.
    """

    def __init__(
        self, space: SearchSpace, seed: int = 0, population_size: int = 10, sample_size: int = 3
    ) -> None:
        if population_size < 1:
            raise ConfigError(f"evolution population_size must be at least 1, got {population_size}")
        if sample_size < 1:
            raise ConfigError(f"evolution sample_size must be at least 1, got {sample_size}")
        self.space = space
        self.population_size = population_size
        self.sample_size = sample_size
        self.rng = np.random.default_rng(seed)
        self.population: list[tuple[Architecture, float]] = []  # oldest first
        self.num_told = 0
        self.num_failed = 0

    def ask(self) -> Architecture:
        if len(self.population) < self.population_size:
            return self.space.sample(self.rng)
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])[0]
        return mutate(self.space, parent, self.rng)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        self.num_told += 1
        if not result.ok:
            self.num_failed += 1
            return
        self.population.append((arch, float(reward)))
        if len(self.population) > self.population_size:
            self.population.pop(0)

    def progress(self) -> dict[str, float]:
        if not self.population:
            return {}
        rewards = [r for _, r in self.population]
        return {"population_best": max(rewards), "population_mean": float(np.mean(rewards))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "population": [(arch.to_dict(), reward) for arch, reward in self.population],
            "num_told": self.num_told,
            "num_failed": self.num_failed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.population = [(Architecture.from_dict(a), float(r)) for a, r in state["population"]]
        self.num_told = int(state["num_told"])
        self.num_failed = int(state["num_failed"])
