"""archsearch: neural architecture search and evolved learning algorithms in one toolkit.

The public API. Search your own PyTorch model on your own data::

    import archsearch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            width = archsearch.choice("width", [32, 64])
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))

        def forward(self, x):
            return self.body(x)

    study = archsearch.search(archsearch.ModelSpace(Net), archsearch.ClassificationEvaluator(train=(x, y)))

Every name below is imported on first use, so ``import archsearch`` (and the ``archsearch`` command) stays
fast: torch is loaded only by the names that need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archsearch.core import Architecture, Decision, Evaluator, Result, SearchSpace, Strategy, TrialRecord
from archsearch.errors import ArchsearchError, ConfigError, TrialPruned
from archsearch.reporting import report as report_step

__version__ = "0.1.0"

_LAZY = {
    # model spaces inside the user's PyTorch code (archsearch.nn needs torch)
    "choice": "archsearch.nn",
    "LayerChoice": "archsearch.nn",
    "InputChoice": "archsearch.nn",
    "Repeat": "archsearch.nn",
    "fixed_arch": "archsearch.nn",
    "ModelSpace": "archsearch.nn",
    "DictSpace": "archsearch.spaces.dict_space",
    # evaluators from user code and user data
    "FunctionEvaluator": "archsearch.evaluators.function",
    "ClassificationEvaluator": "archsearch.evaluators.supervised",
    "RegressionEvaluator": "archsearch.evaluators.supervised",
    # running and reading studies
    "search": "archsearch.api",
    "load": "archsearch.api",
    "search_model_space": "archsearch.oneshot",
    "Study": "archsearch.study",
    "StudyConfig": "archsearch.config",
    "export_trial": "archsearch.report.export",
    "MetricReward": "archsearch.rewards",
    # any run directory (a study, a one-shot run, an AutoML-Zero run) behind one protocol
    "open_run": "archsearch.runs",
    "create_run": "archsearch.runs",
    "Run": "archsearch.runs",
}

__all__ = [
    "ArchsearchError",
    "Architecture",
    "ConfigError",
    "Decision",
    "Evaluator",
    "Result",
    "SearchSpace",
    "Strategy",
    "TrialRecord",
    "TrialPruned",
    "report_step",
    "__version__",
    "choice",
    "LayerChoice",
    "InputChoice",
    "Repeat",
    "fixed_arch",
    "ModelSpace",
    "DictSpace",
    "FunctionEvaluator",
    "ClassificationEvaluator",
    "RegressionEvaluator",
    "search",
    "load",
    "search_model_space",
    "Study",
    "StudyConfig",
    "export_trial",
    "MetricReward",
    "open_run",
    "create_run",
    "Run",
]


if TYPE_CHECKING:  # the lazy names, for type checkers and editors
    from archsearch.api import load, search
    from archsearch.config import StudyConfig
    from archsearch.evaluators.function import FunctionEvaluator
    from archsearch.evaluators.supervised import ClassificationEvaluator, RegressionEvaluator
    from archsearch.nn import InputChoice, LayerChoice, ModelSpace, Repeat, choice, fixed_arch
    from archsearch.oneshot import search_model_space
    from archsearch.report.export import export_trial
    from archsearch.rewards import MetricReward
    from archsearch.runs import Run, create_run, open_run
    from archsearch.spaces.dict_space import DictSpace
    from archsearch.study import Study


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'archsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
