"""A tiny plug-in package for the tests: it adds a space, a strategy, an evaluator and a reward to archsearch
through entry points (tests/test_plugins.py installs it by writing its dist-info next to it)."""

from __future__ import annotations

from typing import Any

from archsearch.core import Result
from archsearch.strategies.random import RandomSearch

DEMO_CHOICES = {"width": [4, 8, 16], "act": ["relu", "tanh"]}


def demo_objective(values: dict[str, Any], seed: int) -> float:
    """The width, plus one for tanh: a deterministic score."""
    return float(values["width"] + (values["act"] == "tanh"))


class DemoStrategy(RandomSearch):
    """Random search under another name."""


def demo_reward(result: Result) -> float:
    """Twice the metric value (0 for a failed trial)."""
    return 2.0 * result.metrics["value"] if result.ok else 0.0
