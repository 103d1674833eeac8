"""Pruners: stop bad children early on their intermediate reports (``archsearch.reporting``).

``make_pruner`` builds the one a study's config names (``pruner: {name: asha, params: {...}}``):

- ``median``: median stopping (Golovin et al. 2017; Optuna's MedianPruner).
- ``asha``: asynchronous successive halving (Li et al. 2020), with brackets.
- ``hyperband``: Hyperband's brackets of ASHA (Li et al. 2018; Optuna's HyperbandPruner).
- ``successive_halving``: synchronous successive halving in brackets of trials that run at once
  (Jamieson & Talwalkar 2016).

The study's ``PruningService`` carries the reports of running trials to the pruner and its verdicts back.
"""

from __future__ import annotations

import inspect
from typing import Any

from archsearch.errors import ConfigError
from archsearch.pruners.base import GO_ON, History, Pruner, Rung, Verdict
from archsearch.pruners.halving import AshaPruner, HyperbandPruner, SuccessiveHalvingPruner
from archsearch.pruners.median import MedianPruner
from archsearch.pruners.service import PruningService

PRUNERS: dict[str, type[Pruner]] = {
    "median": MedianPruner,
    "asha": AshaPruner,
    "hyperband": HyperbandPruner,
    "successive_halving": SuccessiveHalvingPruner,
}
"""The pruners a config may name."""


def pruner_options(name: str) -> list[str]:
    """The options (params) pruner ``name`` takes."""
    signature = inspect.signature(PRUNERS[name].__init__)
    return [p for p in signature.parameters if p != "self"]


def make_pruner(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    metric: str = "val_acc",
    mode: str = "max",
    max_resource: float | None = None,
    concurrency: int | None = None,
) -> Pruner:
    """The pruner ``name`` with ``params``; ``metric``, ``mode`` and ``max_resource`` are the study's
    (the reward's metric and direction, the evaluator's epochs) and ``params`` may override them;
    ``concurrency`` (trials run at once) is successive halving's default bracket size. One-line
    ConfigError for an unknown name or option, or a bad value."""
    if name not in PRUNERS:
        raise ConfigError(f"unknown pruner {name!r}; known: {', '.join(sorted(PRUNERS))}")
    options = pruner_options(name)
    params = dict(params or {})
    for key in params:
        if key not in options:
            raise ConfigError(f"pruner {name}: unknown option {key!r} (options: {', '.join(options)})")
    arguments: dict[str, Any] = {"metric": metric, "mode": mode, "max_resource": max_resource}
    if name == "successive_halving":
        arguments["bracket_size"] = concurrency
    arguments.update(params)
    return PRUNERS[name](**arguments)


__all__ = [
    "GO_ON",
    "PRUNERS",
    "AshaPruner",
    "History",
    "HyperbandPruner",
    "MedianPruner",
    "Pruner",
    "PruningService",
    "Rung",
    "SuccessiveHalvingPruner",
    "Verdict",
    "make_pruner",
    "pruner_options",
]
