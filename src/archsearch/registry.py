"""Names users type in configs and flags, mapped to the classes that implement them."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from archsearch.errors import ArchsearchError, ConfigError

SPACES = {
    "nasrl_cnn": "archsearch.spaces.nasrl_cnn:NasRLCNNSpace",
    "nb201": "archsearch.spaces.nb201:NB201Space",
    "rnn_cell": "archsearch.spaces.rnn_cell:RNNCellSpace",
    "rnn-cell": "archsearch.spaces.rnn_cell:RNNCellSpace",
    "nasnet_cell": "archsearch.spaces.nasnet_cell:NASNetCellSpace",
    "nasnet-cell": "archsearch.spaces.nasnet_cell:NASNetCellSpace",
    "darts_cell": "archsearch.spaces.nasnet_cell:DartsCellSpace",
    "darts-cell": "archsearch.spaces.nasnet_cell:DartsCellSpace",
}
STRATEGIES = {
    "reinforce": "archsearch.strategies.reinforce:Reinforce",
    "random": "archsearch.strategies.random:RandomSearch",
    "evolution": "archsearch.strategies.evolution:RegularizedEvolution",
    "ppo": "archsearch.strategies.ppo:PPO",
    "asng": "archsearch.strategies.asng:ASNG",
    "local_search": "archsearch.strategies.local_search:LocalSearch",
    "categorical_reinforce": "archsearch.strategies.categorical_reinforce:CategoricalReinforce",
    "optuna": "archsearch.strategies.optuna_adapter:OptunaStrategy",
    "nasrl_ps": "archsearch.strategies.parameter_server:ParameterServerReinforce",
    "nsga2": "archsearch.strategies.nsga2:NSGA2",
    "lemonade": "archsearch.strategies.lemonade:Lemonade",
}
EVALUATORS = {
    "training": "archsearch.evaluators.training:TrainingEvaluator",
    "tabular": "archsearch.evaluators.tabular:TabularEvaluator",
    "language_model": "archsearch.evaluators.language_model:LanguageModelEvaluator",
    "latency": "archsearch.evaluators.latency:LatencyEvaluator",
}
REGISTRIES = {"space": SPACES, "strategy": STRATEGIES, "evaluator": EVALUATORS}


def resolve(kind: str, name: str) -> Any:
    """The class registered as ``name`` among the ``kind``s (space, strategy, evaluator)."""
    registry = REGISTRIES[kind]
    if name not in registry:
        raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}")
    module, _, attr = registry[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def accepts(kind: str, name: str, parameter: str) -> bool:
    """Whether the class registered as ``name`` takes the keyword ``parameter`` (e.g. ``objectives``)."""
    return parameter in inspect.signature(resolve(kind, name)).parameters


def construct(kind: str, name: str, params: dict[str, Any], **fixed: Any) -> Any:
    """Instantiate ``name`` with user ``params`` plus ``fixed`` arguments; every mistake is a ConfigError."""
    cls = resolve(kind, name)
    parameters = inspect.signature(cls).parameters
    accepted = [p for p, v in parameters.items() if p not in fixed and v.kind is not v.VAR_KEYWORD]
    takes_any = any(v.kind is v.VAR_KEYWORD for v in parameters.values())  # e.g. Optuna sampler options
    unknown = sorted(set(params) - set(accepted))
    if unknown and not takes_any:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for {kind} {name!r}; options: {', '.join(accepted)}"
        )
    try:
        return cls(**fixed, **params)
    except ArchsearchError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad options for {kind} {name!r}: {exc}") from exc
