"""The Strategy interface: ask() for an architecture, tell() its result; state_dict() for resume."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from archsearch.evaluators.base import Result
from archsearch.spaces.base import Architecture


class Strategy(ABC):
    """A search strategy. ``ask`` may be called many times before the matching ``tell`` calls arrive.

    Given the same seed and the same sequence of ask/tell calls, a strategy must make the same choices,
    and ``load_state_dict(state_dict())`` must restore it exactly (resume relies on both).
    """

    @abstractmethod
    def ask(self) -> Architecture:
        """The next architecture to evaluate."""

    @abstractmethod
    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        """Report the result of an architecture returned by ``ask``, with its shaped reward."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this strategy is."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state returned by ``state_dict``."""

    def progress(self) -> dict[str, float]:
        """Scalars worth recording with a trial (e.g. the REINFORCE baseline)."""
        return {}
