"""Random search: the baseline every strategy must beat."""

from __future__ import annotations

from typing import Any

import numpy as np

from archsearch.core import Architecture, Result, SearchSpace, Strategy


class RandomSearch(Strategy):
    """Uniform random sampling over the space's decisions (each link present with probability 1/2).

    The control of Zoph & Le 2017 and of Li & Talwalkar, "Random Search and Reproducibility for NAS" (2019).
    """

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def ask(self) -> Architecture:
        return self.space.sample(self.rng)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        """Random search learns nothing."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
