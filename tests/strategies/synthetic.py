"""Test-only search spaces and landscapes for the strategy suite (no torch modules, no tables)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from archsearch.core import Architecture, Decision, Result, SearchSpace, Strategy
from archsearch.errors import InvalidArchitectureError


class GridSpace(SearchSpace):
    """``num_decisions`` independent categorical decisions ("x0", "x1", ...) of ``num_choices`` choices."""

    name = "grid"

    def __init__(self, num_decisions: int = 6, num_choices: int = 5) -> None:
        self.num_decisions = num_decisions
        self.num_choices = num_choices
        self._decisions = [Decision(f"x{d}", "x", tuple(range(num_choices))) for d in range(num_decisions)]

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        return self._decisions[len(prefix)] if len(prefix) < self.num_decisions else None

    def kinds(self) -> dict[str, Decision]:
        return {"x": self._decisions[0]}

    def encode(self, arch: Architecture) -> str:
        return "-".join(str(v) for v in arch.values)

    def decode(self, text: str) -> Architecture:
        try:
            return Architecture(self.name, tuple(int(t) for t in text.split("-")))
        except ValueError:
            raise InvalidArchitectureError(f"not a grid architecture: {text!r}") from None

    def config(self) -> dict[str, Any]:
        return {"num_decisions": self.num_decisions, "num_choices": self.num_choices}


class Landscape:
    """A known reward on a GridSpace: additive per-decision terms plus interactions of neighbouring
    decisions (weight ``interaction``), all uniform in [0, 1) from ``seed``; scaled to [0, 1] over the
    whole grid, so that the optimum scores exactly 1."""

    def __init__(self, space: GridSpace, seed: int = 0, interaction: float = 0.5) -> None:
        rng = np.random.default_rng(seed)
        d, k = space.num_decisions, space.num_choices
        self.additive = rng.random((d, k))
        self.pairs = interaction * rng.random((d - 1, k, k))
        grid = np.array(list(itertools.product(range(k), repeat=d)))
        raw = self._raw(grid)
        self.low, self.high = float(raw.min()), float(raw.max())

    def _raw(self, x: np.ndarray) -> np.ndarray:
        d = np.arange(x.shape[1])
        value = self.additive[d, x].sum(axis=1)
        return value + self.pairs[d[:-1], x[:, :-1], x[:, 1:]].sum(axis=1)

    def __call__(self, arch: Architecture) -> float:
        raw = self._raw(np.array([arch.values]))[0]
        return float((raw - self.low) / (self.high - self.low))


class BranchingSpace(SearchSpace):
    """A variable-length space: a depth in (1, 2, 3), then per layer a kind (conv or pool) and a size
    whose choices depend on the kind (conv: 1, 3, 5; pool: 2, 3)."""

    name = "branching"
    sizes = {"conv": (1, 3, 5), "pool": (2, 3)}

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        if not prefix:
            return Decision("depth", "depth", (1, 2, 3))
        layer, slot = divmod(len(prefix) - 1, 2)
        if layer >= prefix[0]:
            return None
        if slot == 0:
            return Decision(f"layer{layer}.kind", "kind", ("conv", "pool"))
        kind = prefix[-1]
        return Decision(f"layer{layer}.size", f"{kind}_size", self.sizes[kind])

    def kinds(self) -> dict[str, Decision]:
        return {
            "depth": Decision("depth", "depth", (1, 2, 3)),
            "kind": Decision("kind", "kind", ("conv", "pool")),
            "conv_size": Decision("size", "conv_size", self.sizes["conv"]),
            "pool_size": Decision("size", "pool_size", self.sizes["pool"]),
        }

    def encode(self, arch: Architecture) -> str:
        return repr(arch.values)

    def decode(self, text: str) -> Architecture:
        raise InvalidArchitectureError("branching space cannot decode")

    def config(self) -> dict[str, Any]:
        return {}


class Driver:
    """Runs a strategy against a reward with ``in_flight`` asks outstanding, telling the oldest first;
    every ``fail_every``-th result (if set) is a failed trial with reward 0. The outstanding asks live
    on the driver, so a copy of it continues a resumed strategy."""

    def __init__(
        self,
        strategy: Strategy,
        space: SearchSpace,
        reward: Callable[[Architecture], float],
        in_flight: int = 1,
        fail_every: int = 0,
    ) -> None:
        self.strategy, self.space, self.reward = strategy, space, reward
        self.in_flight, self.fail_every = in_flight, fail_every
        self.pending: list[Architecture] = []
        self.told: list[tuple[Architecture, float]] = []

    def step(self, n: int) -> list[tuple[Architecture, float]]:
        """Tell ``n`` more results; returns them as (architecture, reward)."""
        start = len(self.told)
        for _ in range(n):
            while len(self.pending) < self.in_flight:
                arch = self.strategy.ask()
                self.space.validate(arch)
                self.pending.append(arch)
            arch = self.pending.pop(0)
            if self.fail_every and (len(self.told) + 1) % self.fail_every == 0:
                result, value = Result.failure("loss became nan"), 0.0
            else:
                value = self.reward(arch)
                result = Result(metrics={"val_acc": value})
            self.strategy.tell(arch, result, value)
            self.told.append((arch, value))
        return self.told[start:]

    def resumed(self, strategy: Strategy) -> Driver:
        """A driver for ``strategy`` (loaded from this one's state) with the same outstanding asks."""
        other = Driver(strategy, self.space, self.reward, self.in_flight, self.fail_every)
        other.pending, other.told = list(self.pending), list(self.told)
        return other


def run(
    strategy: Strategy,
    space: SearchSpace,
    reward: Callable[[Architecture], float],
    steps: int,
    in_flight: int = 1,
) -> list[tuple[Architecture, float]]:
    """Tell ``steps`` results to a fresh ``Driver``; returns (architecture, reward) in tell order."""
    return Driver(strategy, space, reward, in_flight).step(steps)


def best_so_far(told: list[tuple[Architecture, float]]) -> float:
    return max(r for _, r in told)


def assert_resumes_identically(
    make: Callable[[int], Strategy],
    space: SearchSpace,
    reward: Callable[[Architecture], float],
    before: int,
    after: int,
    in_flight: int = 3,
    fail_every: int = 0,
) -> None:
    """Run ``before`` results, load the state into fresh instances made with another seed (directly and
    through the store's bytes), then the original and both copies continue identically. The original
    continues first, so state shared with a copy (optimizer moments, arrays) would show up."""
    from archsearch.store.sqlite import state_from_bytes, state_to_bytes

    original = Driver(make(3), space, reward, in_flight, fail_every)
    original.step(before)
    state = original.strategy.state_dict()
    direct, stored = make(99), make(98)
    direct.load_state_dict(state)
    stored.load_state_dict(state_from_bytes(state_to_bytes(state)))
    copies = [original.resumed(direct), original.resumed(stored)]
    expected = original.step(after) + [(original.strategy.ask(), 0.0)]
    for copy in copies:
        assert copy.step(after) + [(copy.strategy.ask(), 0.0)] == expected
