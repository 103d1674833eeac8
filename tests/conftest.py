"""Shared test fixtures: a small layered space with anchor points that needs no torch module."""

from __future__ import annotations

from typing import Any

import pytest

from archsearch.core import LINKS, Architecture, Decision, Evaluator, SearchSpace
from archsearch.errors import InvalidArchitectureError


class ToyLayerSpace(SearchSpace):
    """Per layer: an anchor point, then filter height and width in (1, 3, 5, 7)."""

    name = "toy"
    sizes = (1, 3, 5, 7)

    def __init__(self, num_layers: int = 3) -> None:
        self.num_layers = num_layers

    def with_depth(self, depth: int) -> ToyLayerSpace:
        return ToyLayerSpace(depth)

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        layer, slot = divmod(len(prefix), 3)
        if layer >= self.num_layers:
            return None
        if slot == 0:
            return Decision(f"layer{layer}.inputs", LINKS, num_links=layer)
        kind = ("filter_h", "filter_w")[slot - 1]
        return Decision(f"layer{layer}.{kind}", kind, self.sizes)

    def kinds(self) -> dict[str, Decision]:
        return {
            LINKS: Decision("inputs", LINKS),
            "filter_h": Decision("filter_h", "filter_h", self.sizes),
            "filter_w": Decision("filter_w", "filter_w", self.sizes),
        }

    def encode(self, arch: Architecture) -> str:
        return repr(arch.values)

    def decode(self, text: str) -> Architecture:
        raise InvalidArchitectureError("toy space cannot decode")

    def config(self) -> dict[str, Any]:
        return {"num_layers": self.num_layers}


def fraction_3x3(arch: Architecture) -> float:
    """Synthetic reward: the fraction of layers whose filter is 3x3."""
    layers = [arch.values[i : i + 3] for i in range(0, len(arch.values), 3)]
    return sum(1 for _, h, w in layers if (h, w) == (3, 3)) / len(layers)


@pytest.fixture
def toy_space() -> ToyLayerSpace:
    return ToyLayerSpace()


class ToyEvaluator(Evaluator):
    """Scores the toy space by ``fraction_3x3`` with a small deterministic per-seed noise.

    ``fail_when_h1`` fails every architecture whose first layer is 1 high; ``sleep_s`` slows each trial.
    """

    def __init__(self, sleep_s: float = 0.0, fail_when_h1: bool = False) -> None:
        self.sleep_s = sleep_s
        self.fail_when_h1 = fail_when_h1

    def evaluate(self, space, arch, seed):
        import time

        from archsearch.core import Result

        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.fail_when_h1 and arch.values[1] == 1:
            return Result.failure("loss became nan at epoch 1, batch 3")
        score = 0.5 + 0.5 * fraction_3x3(arch) - (seed % 97) / 10000
        return Result(
            metrics={"val_acc": score, "test_acc": score}, curve={"val_acc": [score / 2, score]}, cost_s=0.01
        )


@pytest.fixture
def toy_registry(monkeypatch):
    """Register the toy space and evaluator under the names "toy" so studies can use them."""
    from archsearch import registry

    monkeypatch.setitem(registry.SPACES, "toy", "conftest:ToyLayerSpace")
    monkeypatch.setitem(registry.EVALUATORS, "toy", "conftest:ToyEvaluator")
    return registry


def toy_config(**overrides):
    from archsearch.config import parse_config

    data = {
        "seed": 0,
        "n_trials": 12,
        "executor": "inline",
        "space": {"name": "toy", "params": {"num_layers": 3}},
        "strategy": {"name": "reinforce", "params": {"batch_size": 2, "lr": 0.01}},
        "evaluator": {"name": "toy"},
    }
    data.update(overrides)
    return parse_config(data)


class StopAfter:
    """A study listener that interrupts the study (as Ctrl-C would) after ``count`` finished trials."""

    def __init__(self, count: int) -> None:
        self.count = count

    def trial_started(self, record) -> None:
        pass

    def trial_finished(self, record) -> None:
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def tabular_config(strategy: str, params: dict | None = None, **overrides):
    """A NB201 study on the CIFAR-100 table with a 6,000 s simulated budget, run inline."""
    from archsearch.config import parse_config

    data = {
        "seed": 3,
        "n_trials": 100_000,
        "max_time_s": 6_000,
        "clock": "cost",
        "executor": "inline",
        "space": {"name": "nb201"},
        "strategy": {"name": strategy, "params": params or {}},
        "evaluator": {"name": "tabular", "params": {"dataset": "cifar100"}},
        "reward": {"name": "acc_cubed", "params": {"power": 1}},
    }
    data.update(overrides)
    return parse_config(data)
