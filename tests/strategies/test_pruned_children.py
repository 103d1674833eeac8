"""Every strategy takes children stopped early by a pruner (status "pruned", the curve and metrics they
reached, the reward of what they reached): no crash, resume still exact, and each uses them as documented
(evolution, local search, ASNG, NSGA-II and LEMONADE skip them; the controllers learn from the reward)."""

from __future__ import annotations

from typing import Any

import pytest
from synthetic import GridSpace, Landscape

from archsearch.core import Architecture, Result, Strategy
from archsearch.rewards import make_reward
from archsearch.strategies.asng import ASNG
from archsearch.strategies.bohb import BOHB
from archsearch.strategies.categorical_reinforce import CategoricalReinforce
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.lemonade import Lemonade
from archsearch.strategies.local_search import LocalSearch
from archsearch.strategies.nsga2 import NSGA2
from archsearch.strategies.ppo import PPO
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.reinforce import Reinforce

SPACE = GridSpace(num_decisions=4, num_choices=3)
LANDSCAPE = Landscape(SPACE)
GOALS = ["val_acc:max", "params:min"]
REWARD = make_reward("acc_cubed")


def _optuna(space: GridSpace, seed: int) -> Strategy:
    pytest.importorskip("optuna")
    from archsearch.strategies.optuna_adapter import OptunaStrategy

    return OptunaStrategy(space, seed=seed)


STRATEGIES: dict[str, Any] = {
    "reinforce": lambda space, seed: Reinforce(space, seed=seed, batch_size=3),
    "ppo": lambda space, seed: PPO(space, seed=seed, batch_size=3, epochs=1, hidden_size=8),
    "categorical_reinforce": lambda space, seed: CategoricalReinforce(space, seed=seed),
    "evolution": lambda space, seed: RegularizedEvolution(space, seed=seed, population_size=4),
    "local_search": lambda space, seed: LocalSearch(space, seed=seed),
    "asng": lambda space, seed: ASNG(space, seed=seed),
    "nsga2": lambda space, seed: NSGA2(space, seed=seed, objectives=GOALS, population_size=4),
    "lemonade": lambda space, seed: Lemonade(space, seed=seed, objectives=GOALS, initial_size=3),
    "random": lambda space, seed: RandomSearch(space, seed=seed),
    "optuna": _optuna,
    "bohb": lambda space, seed: BOHB(space, seed=seed, min_points=3),
}


def _result(arch: Architecture, pruned: bool) -> Result:
    value = LANDSCAPE(arch)
    if pruned:  # stopped after its first epoch, at half its final accuracy
        metrics = {"val_acc": value / 2, "resource": 1.0}
        return Result(metrics=metrics, curve={"val_acc": [value / 2]}, status="pruned", error="pruned at 1")
    return Result(metrics={"val_acc": value, "params": 1.0}, curve={"val_acc": [value / 2, value]})


def _drive(strategy: Strategy, count: int, pending: list[Architecture], start: int = 0) -> list[Architecture]:
    """``count`` tells with three asks outstanding, every odd-numbered child (counting from ``start``)
    pruned; returns the architectures told."""
    told = []
    for n in range(start, start + count):
        while len(pending) < 3:
            pending.append(strategy.ask())
        arch = pending.pop(0)
        result = _result(arch, pruned=n % 2 == 1)
        strategy.tell(arch, result, REWARD(result))
        told.append(arch)
    return told


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_takes_pruned_children_and_resumes_exactly(name):
    make = STRATEGIES[name]
    original, pending = make(SPACE, 1), []
    _drive(original, 16, pending)
    copy = make(SPACE, 2)
    copy.load_state_dict(original.state_dict())
    copy_pending = list(pending)
    assert _drive(copy, 8, copy_pending, start=16) == _drive(original, 8, pending, start=16)


def test_evolution_keeps_pruned_children_out_of_its_population():
    strategy = RegularizedEvolution(SPACE, seed=0, population_size=20)
    told = _drive(strategy, 12, [])
    members = [arch for arch, _ in strategy.population]
    assert members == told[0::2]  # the children trained to the end, in tell order


def test_reinforce_learns_from_the_reward_a_pruned_child_reached():
    strategy = CategoricalReinforce(SPACE, seed=0)
    arch = strategy.ask()
    pruned = _result(arch, pruned=True)
    strategy.tell(arch, pruned, REWARD(pruned))
    assert strategy.progress()["baseline"] == pytest.approx((LANDSCAPE(arch) / 2) ** 3)
