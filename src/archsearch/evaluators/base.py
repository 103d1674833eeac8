"""Result of one evaluation and the Evaluator interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from archsearch.spaces.base import Architecture, SearchSpace

Status = Literal["ok", "failed", "timeout"]


@dataclass
class Result:
    """What an evaluation measured.

    ``metrics`` holds scalars ("val_acc", "test_acc", "params", ...), ``curve`` per-epoch series
    ("val_acc": [...]); ``cost_s`` is wall-clock or simulated seconds.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    cost_s: float = 0.0
    status: Status = "ok"
    error: str | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "cost_s": self.cost_s,
            "status": self.status,
            "error": self.error,
            "curve": {k: list(v) for k, v in self.curve.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(
            metrics=dict(data.get("metrics", {})),
            cost_s=float(data.get("cost_s", 0.0)),
            status=data.get("status", "ok"),
            error=data.get("error"),
            curve={k: list(v) for k, v in data.get("curve", {}).items()},
        )

    @classmethod
    def failure(cls, error: str, cost_s: float = 0.0, status: Status = "failed") -> Result:
        return cls(status=status, error=error, cost_s=cost_s)


class Evaluator(ABC):
    """Scores one architecture. Must be picklable: executors send it to worker processes."""

    def prepare(self) -> None:
        """Load and check what every trial needs (data), so that a mistake stops the study at once
        with a clear error instead of failing every trial."""

    @abstractmethod
    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        """Evaluate ``arch``; never raise for a failing child, return ``Result.failure`` instead."""
