"""Depth curriculum: grow the searched network as sampling goes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from archsearch.core import SearchSpace
from archsearch.errors import ConfigError


@runtime_checkable
class Deepenable(Protocol):
    """A space whose number of layers can change (NAS-RL CNN)."""

    num_layers: int

    def with_depth(self, depth: int) -> SearchSpace: ...


@dataclass(frozen=True)
class DepthCurriculum:
    """depth(n) = min(max_depth, start + step * floor(n / every)) after n sampled architectures.

    Zoph & Le 2017, section 4.1: start at 6 layers, add 2 every 1,600 samples.
    """

    start: int = 6
    step: int = 2
    every: int = 1600

    def __post_init__(self) -> None:
        if self.start < 1 or self.step < 0 or self.every < 1:
            raise ConfigError("curriculum needs start >= 1, step >= 0 and every >= 1")

    def depth(self, num_sampled: int, max_depth: int) -> int:
        return min(max_depth, self.start + self.step * (num_sampled // self.every))

    def space_for(self, space: SearchSpace, num_sampled: int) -> SearchSpace:
        if not isinstance(space, Deepenable):
            raise ConfigError(f"space {space.name!r} has no depth, so a depth curriculum cannot apply")
        return space.with_depth(self.depth(num_sampled, space.num_layers))
