"""Local search: hill climbing over one-decision neighbourhoods with random restarts."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies.mutation import neighbours

FAILED = -math.inf  # a failed trial is never an improvement and never a starting point


class LocalSearch(Strategy):
    """Local search (White, Nolen, Ravula & Dey, "Exploring the Loss Landscape in Neural Architecture
    Search", UAI 2021 -- "local search is state of the art for NAS benchmarks"; their Algorithm 1).

    Start from the best of ``num_init`` uniformly random architectures (1 in Algorithm 1; NASLib's
    implementation takes the best of ``num_init``). Evaluate the neighbours of the current architecture
    (every architecture one decision away, see ``mutation.neighbours``) in random order and move to the
    best one if it is strictly better; with ``first_improvement`` move as soon as a better neighbour is
    told (the "query until improvement" variant). At a local optimum restart from random architectures.
    Architectures already evaluated are never asked again; their first result is reused.

    Asynchronous: asks walk the current neighbourhood; when all of it is asked but results are still
    out, further asks are uniformly random architectures, which become restart candidates.
    """

    def __init__(
        self, space: SearchSpace, seed: int = 0, num_init: int = 1, first_improvement: bool = False
    ) -> None:
        if num_init < 1:
            raise ConfigError(f"local_search num_init must be at least 1, got {num_init}")
        self.space = space
        self.num_init = num_init
        self.first_improvement = first_improvement
        self.rng = np.random.default_rng(seed)
        self.seen: dict[Architecture, float] = {}  # every result so far (first one per architecture)
        self.center: tuple[Architecture, float] | None = None
        self.queue: list[Architecture] = []  # neighbours of the centre still to ask, next last
        self.waiting: dict[Architecture, int] = {}  # neighbours asked, result not yet told
        self.best_neighbour: tuple[Architecture, float] | None = None
        self.starts: list[tuple[Architecture, float]] = []  # random results that may start a climb
        self.num_restarts = 0
        self.num_moves = 0

    # -- the climb ----------------------------------------------------------------------------------
    def _take_start(self) -> tuple[Architecture, float] | None:
        """The best restart candidate once ``num_init`` of them are in."""
        if len(self.starts) < self.num_init:
            return None
        best = max(self.starts, key=lambda s: s[1])
        self.starts.clear()
        return best

    def _settle(self, center: tuple[Architecture, float] | None) -> None:
        """Climb from ``center`` through every neighbourhood already evaluated, until one needs asks
        (or no start is at hand). A loop, not recursion: moves strictly improve, so it ends."""
        while center is not None:
            self.center, self.best_neighbour, self.queue = center, None, []
            self.waiting.clear()
            found = neighbours(self.space, center[0], self.rng)
            moved = None
            for i in self.rng.permutation(len(found)):
                arch = found[int(i)]
                if arch not in self.seen:
                    self.queue.append(arch)
                    continue
                self._record(arch, self.seen[arch])
                if self.first_improvement and self.seen[arch] > center[1]:
                    moved = (arch, self.seen[arch])
                    break
            if moved is not None:
                self.num_moves += 1
                center = moved
            elif self.queue:
                self.queue.reverse()  # asked from the end
                return
            else:
                center = self._after_neighbourhood()
        self.center = None

    def _record(self, arch: Architecture, reward: float) -> None:
        if self.best_neighbour is None or reward > self.best_neighbour[1]:
            self.best_neighbour = (arch, reward)

    def _after_neighbourhood(self) -> tuple[Architecture, float] | None:
        """The next centre once a neighbourhood is complete: its best member if better, else a restart."""
        assert self.center is not None
        if self.best_neighbour is not None and self.best_neighbour[1] > self.center[1]:
            self.num_moves += 1
            return self.best_neighbour
        self.num_restarts += 1
        return self._take_start()

    def _neighbour_told(self, arch: Architecture, reward: float) -> None:
        assert self.center is not None
        self._record(arch, reward)
        if self.first_improvement and reward > self.center[1]:
            self.num_moves += 1
            self._settle((arch, reward))
        elif not self.queue and not self.waiting:
            self._settle(self._after_neighbourhood())

    # -- the Strategy interface ---------------------------------------------------------------------
    def ask(self) -> Architecture:
        while self.center is not None and self.queue:
            arch = self.queue.pop()
            if arch in self.seen:  # told meanwhile as a random architecture
                self._neighbour_told(arch, self.seen[arch])
                continue
            self.waiting[arch] = self.waiting.get(arch, 0) + 1
            return arch
        return self.space.sample(self.rng)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        value = float(reward) if result.ok else FAILED
        self.seen.setdefault(arch, value)
        if arch in self.waiting:
            self.waiting[arch] -= 1
            if not self.waiting[arch]:
                del self.waiting[arch]
            self._neighbour_told(arch, value)
        elif value > FAILED:
            self.starts.append((arch, value))
            if self.center is None:
                self._settle(self._take_start())

    def progress(self) -> dict[str, float]:
        out = {"restarts": float(self.num_restarts), "moves": float(self.num_moves)}
        if self.center is not None:
            out["center_reward"] = self.center[1]
        return out

    def state_dict(self) -> dict[str, Any]:
        def pair(p: tuple[Architecture, float] | None) -> Any:
            return None if p is None else (p[0].to_dict(), p[1])

        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "seen": [(a.to_dict(), r) for a, r in self.seen.items()],
            "center": pair(self.center),
            "queue": [a.to_dict() for a in self.queue],
            "waiting": [(a.to_dict(), n) for a, n in self.waiting.items()],
            "best_neighbour": pair(self.best_neighbour),
            "starts": [pair(s) for s in self.starts],
            "num_restarts": self.num_restarts,
            "num_moves": self.num_moves,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        def pair(p: Any) -> tuple[Architecture, float] | None:
            return None if p is None else (Architecture.from_dict(p[0]), float(p[1]))

        state = copy.deepcopy(state)
        self.rng.bit_generator.state = state["rng"]
        self.seen = {Architecture.from_dict(a): float(r) for a, r in state["seen"]}
        self.center = pair(state["center"])
        self.queue = [Architecture.from_dict(a) for a in state["queue"]]
        self.waiting = {Architecture.from_dict(a): int(n) for a, n in state["waiting"]}
        self.best_neighbour = pair(state["best_neighbour"])
        self.starts = [p for p in (pair(s) for s in state["starts"]) if p is not None]
        self.num_restarts = int(state["num_restarts"])
        self.num_moves = int(state["num_moves"])
