"""Names users type in configs and flags, mapped to the objects that implement them.

A name is one of

- a registered name (``evolution``, ``nasrl_cnn``, ``training``, ``acc_cubed``, ...);
- a dotted path ``package.module:attribute`` (the current directory is importable, as ``python -m`` has
  it) or a file path ``path/to/file.py:attribute`` (relative to the current directory), resolved by
  ``archsearch.resolve`` as every path a user gives;
- a name an installed package adds through the entry point groups ``archsearch.spaces``,
  ``archsearch.strategies``, ``archsearch.evaluators`` and ``archsearch.rewards``.

What the name points to becomes the component (``make``): a ``SearchSpace`` subclass is constructed with
the options; for a space, an ``nn.Module`` subclass or a function returning a module becomes a
``archsearch.nn.ModelSpace`` and a dict of choices a ``DictSpace``; for an evaluator, a function becomes a
``FunctionEvaluator``; a strategy is a ``Strategy`` subclass (constructed with the space and the seed); a
reward is a class constructed with the options or a function of a ``Result`` (options bound as keywords).
``record`` goes the other way: the (name, options) a study stores for an object so that ``construct``
makes it again (in ``archsearch resume`` and the other commands), or a one-line ConfigError saying why an
object cannot be recorded (a lambda, a function defined inside a function, a class with no ``config()``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import inspect
import json
import sys
import typing
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from archsearch.core import Evaluator, SearchSpace, Strategy
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.resolve import IMPORT_DIRS as IMPORT_DIRS  # the resolver's, which studies store
from archsearch.resolve import importable as importable
from archsearch.resolve import is_path as is_path
from archsearch.resolve import main_path, path_of
from archsearch.resolve import one_line as one_line
from archsearch.resolve import resolve as resolve_path

SPACES = {
    "nasrl_cnn": "archsearch.spaces.nasrl_cnn.space:NasRLCNNSpace",
    "nb201": "archsearch.spaces.nb201.space:NB201Space",
    "rnn_cell": "archsearch.spaces.rnn_cell.space:RNNCellSpace",
    "rnn-cell": "archsearch.spaces.rnn_cell.space:RNNCellSpace",
    "nasnet_cell": "archsearch.spaces.nasnet_cell.space:NASNetCellSpace",
    "nasnet-cell": "archsearch.spaces.nasnet_cell.space:NASNetCellSpace",
    "darts_cell": "archsearch.spaces.nasnet_cell.space:DartsCellSpace",
    "darts-cell": "archsearch.spaces.nasnet_cell.space:DartsCellSpace",
    "dict": "archsearch.spaces.dict_space:DictSpace",
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
    "nasrl_ps": "archsearch.parameter_server.strategy:ParameterServerReinforce",
    "nsga2": "archsearch.strategies.nsga2:NSGA2",
    "lemonade": "archsearch.strategies.lemonade:Lemonade",
    "bohb": "archsearch.strategies.bohb:BOHB",
}
EVALUATORS = {
    "training": "archsearch.evaluators.training:TrainingEvaluator",
    "tabular": "archsearch.evaluators.tabular:TabularEvaluator",
    "language_model": "archsearch.evaluators.language_model:LanguageModelEvaluator",
    "latency": "archsearch.evaluators.latency:LatencyEvaluator",
    "classification": "archsearch.evaluators.supervised:ClassificationEvaluator",
    "regression": "archsearch.evaluators.supervised:RegressionEvaluator",
    "function": "archsearch.evaluators.function:FunctionEvaluator",
}
REGISTRIES = {"space": SPACES, "strategy": STRATEGIES, "evaluator": EVALUATORS}
"""The registered names of spaces, strategies and evaluators; rewards are ``rewards.REWARDS``."""

KINDS = ("space", "strategy", "evaluator", "reward")
ENTRY_POINT_GROUPS = {
    "space": "archsearch.spaces",
    "strategy": "archsearch.strategies",
    "evaluator": "archsearch.evaluators",
    "reward": "archsearch.rewards",
}
"""The entry point group through which an installed package adds names of each kind."""

_EXPECTED = {
    "space": "a SearchSpace subclass, an nn.Module subclass, a function returning a module, or a dict of choices",
    "strategy": "a Strategy subclass",
    "evaluator": "an Evaluator subclass or a function",
    "reward": "a function of a Result or a class whose objects are called with one",
}
_HINT = "or a dotted path such as mypackage.module:Name or path/to/file.py:Name"


# -- names ------------------------------------------------------------------------------------------
def registered(kind: str) -> dict[str, str]:
    """The built-in names of ``kind`` mapped to ``module:attribute``."""
    if kind == "reward":
        from archsearch.rewards import REWARDS

        return {name: f"{cls.__module__}:{cls.__qualname__}" for name, cls in REWARDS.items()}
    return REGISTRIES[kind]


def plugin_names(kind: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The names installed packages add to ``kind`` through its entry point group."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUPS[kind])
    return {entry.name: entry for entry in found}


def known(kind: str) -> list[str]:
    """Every name of ``kind`` other than dotted paths: the built-in ones, then the installed plug-ins'."""
    builtin = registered(kind)
    return [*builtin, *sorted(set(plugin_names(kind)) - set(builtin))]


def is_registered(kind: str, name: str) -> bool:
    """Whether ``name`` is a built-in name of ``kind`` (not a dotted path or a plug-in's name)."""
    return name in registered(kind)


def resolve(kind: str, name: str) -> Any:
    """What ``name`` points to among the ``kind``s (space, strategy, evaluator, reward): a registered
    name's class, a dotted path's attribute, or an entry point's object; every failure a ConfigError."""
    builtin = registered(kind)
    if name in builtin:
        module, _, attr = builtin[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    if is_path(name):
        return resolve_path(name, kind)
    plugins = plugin_names(kind)
    if name in plugins:
        try:
            return plugins[name].load()
        except (Exception, SystemExit) as exc:  # the plug-in's import failed: its own message
            raise ConfigError(
                f"{kind} {name!r} (entry point {plugins[name].value}) does not load: {one_line(exc)}"
            ) from None
    raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(known(kind))}; {_HINT}")


# -- making components -----------------------------------------------------------------------------
def accepts(kind: str, name: str, parameter: str) -> bool:
    """Whether what ``name`` points to takes the keyword ``parameter`` (e.g. ``objectives``)."""
    try:
        return parameter in inspect.signature(resolve(kind, name)).parameters
    except (TypeError, ValueError):  # no signature (a dict of choices, a builtin)
        return False


def construct(kind: str, name: str, params: dict[str, Any], **fixed: Any) -> Any:
    """The component ``name`` with user ``params`` plus ``fixed`` arguments; every mistake is a ConfigError."""
    if kind == "reward" and name in registered("reward"):
        from archsearch.rewards import make_reward

        return make_reward(name, **params)
    return make(kind, name, resolve(kind, name), params, **fixed)


def make(kind: str, name: str, obj: Any, params: dict[str, Any], **fixed: Any) -> Any:
    """The component of ``kind`` that ``obj`` (what ``name`` points to) becomes, given ``params`` and the
    ``fixed`` arguments the study supplies (a strategy's space and seed); see the module docstring."""
    if kind == "space":
        if isinstance(obj, type) and issubclass(obj, SearchSpace):
            return instantiate(kind, name, obj, params)
        if isinstance(obj, Mapping):
            from archsearch.spaces.dict_space import DictSpace

            _no_options(kind, name, params, "a dict of choices")
            return instantiate(kind, name, DictSpace, {"choices": dict(obj)})
        if is_module_class(obj) or inspect.isfunction(obj):
            from archsearch.nn import ModelSpace

            # by its path when it has one, so that the space's name (ModelSpace's reference, which the
            # study's architectures carry) is the name the study stores
            model = name if is_path(name) else obj
            return _call(kind, name, functools.partial(ModelSpace, model), params)
        if isinstance(obj, SearchSpace):
            _no_options(kind, name, params, "a space object")
            return obj
    elif kind == "evaluator":
        if isinstance(obj, type) and issubclass(obj, Evaluator):
            return instantiate(kind, name, obj, params)
        if inspect.isfunction(obj):
            from archsearch.evaluators.function import FunctionEvaluator

            return _call(kind, name, functools.partial(FunctionEvaluator, obj), params)
        if isinstance(obj, Evaluator):
            _no_options(kind, name, params, "an evaluator object")
            return obj
    elif kind == "strategy":
        if isinstance(obj, type) and issubclass(obj, Strategy):
            return instantiate(kind, name, obj, params, **fixed)
        if isinstance(obj, Strategy):
            _no_options(kind, name, params, "a strategy object")
            return obj
    elif kind == "reward":
        if isinstance(obj, type) and _defines_call(obj):
            return instantiate(kind, name, obj, params)
        if inspect.isfunction(obj):
            return functools.partial(obj, **params) if params else obj
        if callable(obj) and not isinstance(obj, type):
            _no_options(kind, name, params, "a reward object")
            return obj
    raise ConfigError(f"{kind} {name!r} is {describe(obj)}, not {_EXPECTED[kind]}")


def _defines_call(cls: type) -> bool:
    """Whether the objects of ``cls`` are callable: only such a class is constructed as a reward."""
    return any("__call__" in vars(base) for base in cls.__mro__ if base is not object)


def is_blueprint(obj: Any) -> bool:
    """Whether ``obj`` is what a component is made from (a class, a function, a dict of choices), not a
    component already made (an object)."""
    return isinstance(obj, type) or inspect.isroutine(obj) or isinstance(obj, Mapping)


def is_module_class(obj: Any) -> bool:
    """Whether ``obj`` is a subclass of torch's ``nn.Module`` (torch is not imported to find out)."""
    torch = sys.modules.get("torch")
    return isinstance(obj, type) and torch is not None and issubclass(obj, torch.nn.Module)


def describe(obj: Any) -> str:
    """``obj`` in a few words for an error: "a class Foo", "the function f", "an int"."""
    if isinstance(obj, type):
        return f"the class {obj.__qualname__}"
    if inspect.isroutine(obj):
        return f"the function {getattr(obj, '__qualname__', obj)}"
    if isinstance(obj, ModuleType):
        return f"the module {obj.__name__}"
    article = "an" if type(obj).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(obj).__name__}"


def _no_options(kind: str, name: str, params: dict[str, Any], what: str) -> None:
    if params:
        raise ConfigError(f"{kind} {name!r} is {what}, which takes no options; got {', '.join(params)}")


def _call(kind: str, name: str, factory: functools.partial[Any], params: dict[str, Any]) -> Any:
    """``factory`` (a class with its first argument bound) called with ``params``, checked as
    ``instantiate`` checks them."""
    return instantiate(kind, name, factory, params, hints_of=factory.func)


def _typed(kind: str, name: str, cls: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the type hints of ``cls``'s constructor and converted (``1e3`` to the int
    1000 where an int is wanted); ``population_size=1.5`` or ``lr="fast"`` is a ConfigError naming the option.
    Options whose hint pydantic cannot check (classes, callables) pass unchanged."""
    from pydantic import TypeAdapter, ValidationError  # here: `archsearch --help` reads the names alone

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
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise ConfigError(f"{kind} {name!r} option {key}={shown}: {problem}") from None
        if not isinstance(value, dict):  # a mapping is left to the class: conversion could drop a typo'd key
            typed[key] = converted
    return typed


def instantiate(
    kind: str, name: str, cls: Any, params: dict[str, Any], hints_of: Any = None, **fixed: Any
) -> Any:
    """``cls`` constructed with user ``params`` plus ``fixed`` arguments: an unknown option or one of the
    wrong type (by the constructor hints of ``hints_of``, default ``cls``) is a ConfigError naming it."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    accepted = [p for p, v in parameters.items() if p not in fixed and v.kind is not v.VAR_KEYWORD]
    takes_any = any(v.kind is v.VAR_KEYWORD for v in parameters.values())  # e.g. Optuna sampler options
    unknown = sorted(set(params) - set(accepted))
    if unknown and not takes_any:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for {kind} {name!r}; options: {', '.join(accepted) or 'none'}"
        )
    params = _typed(kind, name, cls if hints_of is None else hints_of, params)
    try:
        return cls(**fixed, **params)
    except ArchsearchError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad options for {kind} {name!r}: {exc}") from exc


def reward_for(evaluator: Any, name: str) -> dict[str, Any] | None:
    """The reward (``{"name", "params"}``) a study of ``evaluator`` (an object, a class or a function,
    called ``name``) uses unless its config names one: the evaluator's ``default_reward`` (the metric
    reward on ``val_acc``, ``val_rmse``, a function's ``value``); for another evaluator of the user's the
    metric reward on ``value``; None for the built-in ones without a default (the config's reward)."""
    if inspect.isfunction(evaluator):
        from archsearch.evaluators.function import FunctionEvaluator

        evaluator = FunctionEvaluator
    default = getattr(evaluator, "default_reward", None)
    if isinstance(default, dict):
        return {"name": default["name"], "params": dict(default.get("params", {}))}
    return None if is_registered("evaluator", name) else {"name": "metric", "params": {}}


# -- recording objects ------------------------------------------------------------------------------
def _registered_name(kind: str, cls: type) -> str | None:
    path = f"{cls.__module__}:{cls.__qualname__}"
    return next((name for name, where in registered(kind).items() if where == path), None)


def _json_options(kind: str, name: str, params: Any) -> dict[str, Any]:
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise ConfigError(f"{kind} {name!r}: config() must return a dict of options, got {describe(params)}")
    try:
        return dict(json.loads(json.dumps(params, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{kind} {name!r}: its options must be JSON values (numbers, strings, lists, dicts) to be "
            f"stored with the study: {one_line(exc)}"
        ) from None


def record(kind: str, obj: Any) -> tuple[str, dict[str, Any]]:
    """The (name, options) a study stores for ``obj`` so that ``construct(kind, name, options)`` makes
    an equal component again: a class, function or dict by its dotted path; a ``ModelSpace`` by its model's
    path and keyword arguments; a ``DictSpace`` as ``dict`` with its choices; a ``FunctionEvaluator`` by its
    function's path and options; a dataclass reward by its fields; any other object by its class and what
    its ``config()`` returns (its constructor's keyword arguments). A ConfigError says what cannot be."""
    if isinstance(obj, Mapping) and kind == "space":
        return "dict", _json_options(kind, "dict", {"choices": dict(obj)})
    if isinstance(obj, type) or inspect.isroutine(obj):
        name = (_registered_name(kind, obj) if isinstance(obj, type) else None) or path_of(obj, kind)
        return name, {}
    cls = type(obj)
    if cls.__module__.startswith("archsearch.nn") and cls.__name__ == "ModelSpace":
        model = obj.name  # "module:Net", or "path/to/file.py:Net" (ModelSpace's reference)
        if model.startswith("__main__:"):
            model = main_path(f"space {model}", model.partition(":")[2])
        if "<locals>" in model or "<lambda>" in model:
            raise ConfigError(
                f"space {model} is defined inside a function: define the model at the top level of a "
                "module, so workers and `archsearch resume` can import it"
            )
        return model, _json_options(kind, model, obj.config().get("kwargs", {}))
    if (
        kind == "evaluator"
        and cls.__name__ == "FunctionEvaluator"
        and cls.__module__.startswith("archsearch.")
    ):
        options = dict(obj.config())
        options.pop("fn", None)  # the name says which function
        name = getattr(obj, "fn_path", None) or path_of(obj.fn, kind)
        return name, _json_options(kind, name, options)
    name = _registered_name(kind, cls) or path_of(cls, kind)
    if dataclasses.is_dataclass(obj) and not callable(getattr(obj, "config", None)):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
        return name, _json_options(kind, name, fields)
    config_method = getattr(obj, "config", None)
    if not callable(config_method):
        raise ConfigError(
            f"{kind} {cls.__qualname__} cannot be stored with the study: give the class a config() method "
            f"returning its constructor's keyword arguments (or pass its name and options instead)"
        )
    return name, _json_options(kind, name, config_method())
