"""Names users type in configs and flags, mapped to the classes that implement them."""

from __future__ import annotations

import importlib
import inspect
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError

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


def _typed(kind: str, name: str, cls: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the type hints of ``cls``'s constructor and converted (``1e3`` to the int
    1000 where an int is wanted); ``population_size=1.5`` or ``lr="fast"`` is a ConfigError naming the option.
    Options whose hint pydantic cannot check (classes, callables) pass unchanged."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # a hint that names what only type checkers import: leave the class to check
        return params
    typed = dict(params)
    for key, value in params.items():
        if key not in hints:
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(hints[key])
        except Exception:  # pydantic has no schema for this hint
            continue
        try:
            converted = adapter.validate_python(value)
        except ValidationError as exc:
            problem = str(exc.errors()[0]["msg"])
            raise ConfigError(f"{kind} {name!r} option {key}={value!r}: {problem}") from None
        if not isinstance(value, dict):  # a mapping is left to the class: conversion could drop a typo'd key
            typed[key] = converted
    return typed


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
    params = _typed(kind, name, cls, params)
    try:
        return cls(**fixed, **params)
    except ArchsearchError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad options for {kind} {name!r}: {exc}") from exc
