"""Every strategy searches a user's model space and a dict space unchanged (ask/tell a few rounds)."""

from __future__ import annotations

from typing import Any

import pytest

from archsearch.core import Result, SearchSpace, Strategy
from archsearch.nn import ModelSpace
from archsearch.spaces.dict_space import DictSpace
from archsearch.strategies.asng import ASNG
from archsearch.strategies.categorical_reinforce import CategoricalReinforce
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.lemonade import Lemonade
from archsearch.strategies.local_search import LocalSearch
from archsearch.strategies.nsga2 import NSGA2
from archsearch.strategies.optuna_adapter import OptunaStrategy
from archsearch.strategies.ppo import PPO
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.reinforce import Reinforce
from modelspace.user_spaces import Nested, SmallCNN

GOALS = ["score:max", "size:min"]
STRATEGIES: dict[str, Any] = {
    "reinforce": lambda space: Reinforce(space, seed=1, batch_size=2),
    "ppo": lambda space: PPO(space, seed=1, batch_size=2, epochs=1),
    "evolution": lambda space: RegularizedEvolution(space, seed=1, population_size=3, sample_size=2),
    "random": lambda space: RandomSearch(space, seed=1),
    "local_search": lambda space: LocalSearch(space, seed=1),
    "asng": lambda space: ASNG(space, seed=1),
    "categorical_reinforce": lambda space: CategoricalReinforce(space, seed=1),
    "optuna": lambda space: OptunaStrategy(space, seed=1),
    "nsga2": lambda space: NSGA2(space, seed=1, objectives=GOALS, population_size=4),
    "lemonade": lambda space: Lemonade(space, seed=1, objectives=GOALS, initial_size=3),
}


def _score(space: SearchSpace, arch: Any) -> Result:
    """A made-up landscape: how many decisions take their last choice, and the values' string length."""
    decisions = list(space.walk(arch.values))
    score = sum(
        float(d.choices.index(v) == len(d.choices) - 1) for d, v in zip(decisions, arch.values, strict=True)
    )
    return Result(metrics={"score": score, "size": float(len(space.encode(arch)))})


def _search(strategy: Strategy, space: SearchSpace, rounds: int = 12) -> None:
    for _ in range(rounds):
        arch = strategy.ask()
        space.validate(arch)
        result = _score(space, arch)
        strategy.tell(arch, result, result.metrics["score"])


@pytest.fixture(scope="module")
def spaces() -> dict[str, SearchSpace]:
    return {
        "model": ModelSpace(SmallCNN),
        "nested": ModelSpace(Nested),
        "dict": DictSpace({"depth": [2, 4, 6], "width": [32, 64], "act": ["relu", "gelu"]}),
    }


@pytest.mark.parametrize("space_name", ["model", "nested", "dict"])
@pytest.mark.parametrize("strategy_name", list(STRATEGIES))
def test_every_strategy_searches_user_spaces(spaces, space_name, strategy_name):
    space = spaces[space_name]
    strategy = STRATEGIES[strategy_name](space)
    _search(strategy, space)
    state = strategy.state_dict()
    again = STRATEGIES[strategy_name](space)
    again.load_state_dict(state)
    assert again.ask() == strategy.ask()  # resume continues where the strategy was


def test_kinds_are_torch_module_names():
    space = DictSpace({"lr.base": [1, 2], "lr%2Ebase": [3, 4]})
    assert set(space.kinds()) == {"lr%2Ebase", "lr%252Ebase"}
    _search(Reinforce(space, seed=0, batch_size=2), space, rounds=2)
