"""Evaluators from user code: the user's function scores the child of each trial.

``FunctionEvaluator`` is archsearch's counterpart of Optuna's ``objective(trial)``, NNI's
``FunctionalEvaluator`` and a Ray Tune trainable: the function gets the built child (or the chosen values)
and the trial's seed, returns a number or a dict of metrics, and may ``report`` a value per step for the
learning curve. It runs under the guards of the training evaluators (an exception, a nan, out of memory or
the time limit is a failed trial with its reason). Dotted paths ("pkg.mod:func", "path/file.py:func") resolve through ``archsearch.resolve``.

torch is imported when an evaluator is made, not with this module, so that a dotted path resolves without it.
"""

from __future__ import annotations

import inspect
import math
import numbers
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archsearch import reporting
from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ConfigError, ObjectiveError, TrialPruned, TrialTimeoutError
from archsearch.resolve import check_picklable, path_of, resolve

if TYPE_CHECKING:
    from archsearch.evaluators.common import TrialProgress

# The metric an objective that returns a plain number reports (the ``metric`` reward's default name).
OBJECTIVE_METRIC = "value"
OBJECTIVE_HINT = "return a number or a dict of numbers"


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _as_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (numpy and 0-d torch scalars too, not bools)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # a 0-d array or tensor
        return _as_number(value.item())
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"the string {_short(repr(value), 60)}"
    if isinstance(value, bool | np.bool_):
        return f"a bool ({value})"
    return f"a {type(value).__name__}"


def objective_metrics(value: Any, source: str = "returned") -> dict[str, float]:
    """The metrics of what an objective ``source`` ("returned", "reported at step 3"): a finite number
    is ``{"value": x}``, a dict maps metric names to finite numbers. A nan or an infinity raises
    ChildFailedError (this child failed: a failed trial); anything else (None, a string, an empty dict,
    a non-number in the dict) raises ObjectiveError, which stops the study with its one line: the
    objective itself is wrong and every trial would fail the same way."""
    from archsearch.evaluators.common import ChildFailedError

    number = _as_number(value)
    if number is not None:
        if not math.isfinite(number):
            raise ChildFailedError(f"the objective {source} {number}")
        return {OBJECTIVE_METRIC: number}
    if not isinstance(value, Mapping):
        hint = " (a missing return?)" if value is None and source == "returned" else ""
        raise ObjectiveError(f"the objective {source} {_describe(value)}{hint}; {OBJECTIVE_HINT}")
    if not value:
        raise ObjectiveError(f"the objective {source} an empty dict; {OBJECTIVE_HINT}")
    metrics: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ObjectiveError(f"the objective {source} a dict with the key {key!r}; names must be strings")
        number = _as_number(item)
        if number is None:
            raise ObjectiveError(f"the objective {source} {_describe(item)} for {key!r}; {OBJECTIVE_HINT}")
        if not math.isfinite(number):
            raise ChildFailedError(f"the objective {source} {number} for {key!r}")
        metrics[key] = number
    return metrics


def report_style(fn: Callable[..., Any]) -> str | None:
    """How ``fn`` takes ``report`` after child and seed: "positional" (a third positional parameter or
    ``*args``), "keyword" (a keyword-only ``report``) or None (it does not)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: call it with child and seed only
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return "positional"
    if any(p.name == "report" and p.kind is p.KEYWORD_ONLY for p in parameters):
        return "keyword"
    return None


def _takes_child_and_seed(fn: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to check (a builtin)
        return True
    style = report_style(fn)
    calls = {"positional": ((None, 0, None), {}), "keyword": ((None, 0), {"report": None})}
    arguments, keywords = calls.get(style or "", ((None, 0), {}))
    try:
        signature.bind(*arguments, **keywords)
    except TypeError:
        return False
    return True


def build_child(space: SearchSpace, arch: Architecture) -> Any:
    """What the objective gets for ``arch``: ``space.build(arch)`` (an nn.Module) for a space whose build
    takes the architecture alone (a ModelSpace), else ``space.values(arch)`` (a dict of the chosen values,
    e.g. a DictSpace), else the Architecture itself (the built-in spaces)."""
    if type(space).build is not SearchSpace.build:
        try:
            inspect.signature(space.build).bind(arch)
        except TypeError:
            pass
        else:
            return space.build(arch)  # type: ignore[call-arg]
    values = getattr(space, "values", None)
    if callable(values):
        return values(arch)
    return arch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators, which user code draws from."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Reporter:
    """The ``report(step, value)`` an objective gets: ``value`` (a number, the metric "value", or a dict
    of numbers) is appended to the trial's learning curve (``Result.curve``, one series per metric);
    ``step`` (an integer, e.g. the epoch) names the point in messages. A nan, or the time limit passed,
    ends the trial from inside the objective.

    In a study, each report also goes to the study (``archsearch.reporting``) with ``resource`` (what the
    child has used so far in the pruner's unit, e.g. epochs; ``step`` when not given), and the study's
    pruner may stop the trial: ``report`` then returns True and ``should_stop()`` is True from then on.
    The objective should then return (the trial ends "pruned" with the metrics it returns, or None for
    none beyond what it reported) or raise ``archsearch.TrialPruned``; a further ``report`` raises
    TrialPruned itself, ending the trial there.
    """

    def __init__(self, progress: TrialProgress, deadline: float | None) -> None:
        self.progress = progress
        self.deadline = deadline
        self.steps = 0
        self.last_step: int | None = None
        self.stopped = False
        self.returned: dict[str, float] = {}  # what an objective returned after it was stopped

    def __call__(self, step: int, value: Any, resource: float | None = None) -> bool:
        from archsearch.evaluators.common import ChildFailedError, is_int

        if not is_int(step):
            raise ChildFailedError(f"report(step, value): step must be an integer, got {_describe(step)}")
        if self.stopped:
            raise TrialPruned(self.stop_message())
        metrics = objective_metrics(value, f"reported at step {step}")
        for key, number in metrics.items():
            self.progress.curve.setdefault(key, []).append(number)
        self.steps += 1
        self.last_step = step
        self.progress.epoch = self.steps
        at = step if resource is None else resource
        if isinstance(at, int | float) and not isinstance(at, bool):
            self.progress.resource = float(at)
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise TrialTimeoutError(f"time limit reached at step {step}")
        if reporting.current() is not None:
            started = time.perf_counter()
            self.stopped = reporting.report(step, metrics, resource)
            waited = time.perf_counter() - started  # waiting for the pruner: not the objective's time
            self.progress.waited_s += waited
            if self.deadline is not None:
                self.deadline += waited
        return self.stopped

    def should_stop(self) -> bool:
        """Whether the study's pruner stopped this trial (at the last ``report``): return now."""
        return self.stopped

    def stop_message(self) -> str:
        where = f"step {self.last_step}"
        if self.progress.resource is not None and self.progress.resource != self.last_step:
            where += f" (resource {self.progress.resource:g})"
        return f"pruned at {where}"


class FunctionEvaluator(Evaluator):
    """Scores each architecture with the user's function ``fn(child, seed)`` or ``fn(child, seed, report)``.

    ``fn`` is a module-level function, or a dotted path to one ("pkg.mod:func" with the current directory
    importable, or "path/file.py:func"). ``child`` is the built ``nn.Module`` for a space whose ``build``
    takes the architecture alone (``archsearch.nn.ModelSpace``; moved to ``device``), the dict of chosen
    values for a space without one (``DictSpace``), else the ``Architecture``. ``seed`` is the trial's
    seed; Python's, numpy's and torch's global generators are seeded with it before the child is built.
    ``report(step, value)`` is passed when ``fn`` takes a third parameter or a ``report`` keyword (see
    ``Reporter``: in a study with a pruner, ``report`` returns True and ``report.should_stop()`` is True
    once the pruner stops the trial; the objective then returns, and the trial is "pruned"). ``fn`` returns a finite number (metric ``value``, what the ``metric`` reward maximises by
    default) or a dict of finite numbers; anything else, an exception, a nan or out of memory is a failed
    trial with a one-line reason. For a module child the metrics get its trainable parameter count
    ``params`` (unless ``fn`` returned one) and, with ``keep_weights``, ``Result.weights`` its trained
    ``state_dict``. ``timeout_s`` (seconds, or None) is checked at each ``report`` and when ``fn`` returns:
    past it the trial is "timeout" (an objective that never reports cannot be stopped sooner). ``threads``
    torch threads run the trial; ``device`` is auto, cpu or cuda[:N]. The evaluator pickles to worker
    processes: ``fn`` travels by reference, so a lambda or a function defined inside a function is a
    ConfigError here.
    """

    # The reward that suits this evaluator's metrics (what a study uses unless its config names one).
    default_reward: ClassVar[dict[str, Any]] = {
        "name": "metric",
        "params": {"metric": OBJECTIVE_METRIC, "mode": "max"},
    }

    def __init__(
        self,
        fn: Callable[..., Any] | str,
        *,
        timeout_s: float | None = None,
        threads: int = 1,
        device: str = "auto",
        keep_weights: bool = True,
    ) -> None:
        from archsearch.evaluators.common import check_settings

        if isinstance(fn, str):
            self.fn_path: str | None = fn
            function = resolve(fn, "objective function")
            name = repr(fn)
        else:
            self.fn_path = None
            function = fn
            name = getattr(fn, "__qualname__", repr(fn))
        if not callable(function):
            raise ConfigError(
                f"objective function {_short(name)} is a {type(function).__name__}, not a function"
            )
        if not _takes_child_and_seed(function):
            raise ConfigError(
                f"objective function {_short(name)} must take (child, seed) or (child, seed, report); "
                f"its parameters are {inspect.signature(function)}"
            )
        if self.fn_path is None:
            check_picklable(function, "objective function")
        check_settings(
            [(isinstance(keep_weights, bool), f"keep_weights must be true or false, got {keep_weights!r}")],
            timeout_s=timeout_s,
            threads=threads,
            device=device,
        )
        self._fn: Callable[..., Any] | None = function
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.threads = threads
        self.device = device
        self.keep_weights = keep_weights

    @property
    def fn(self) -> Callable[..., Any]:
        """The objective function (resolved again from its dotted path in a worker process)."""
        if self._fn is None:
            assert self.fn_path is not None
            self._fn = resolve(self.fn_path, "objective function")
        return self._fn

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.fn_path is not None:  # a function from a file path imports again where it is needed
            state["_fn"] = None
        return state

    def config(self) -> dict[str, Any]:
        """The options that recreate this evaluator, ``fn`` as a dotted path."""
        return {
            "fn": self.fn_path or path_of(self.fn, "objective function"),
            "timeout_s": self.timeout_s,
            "threads": self.threads,
            "device": self.device,
            "keep_weights": self.keep_weights,
        }

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        from archsearch.evaluators.common import TrialProgress, guarded_trial, resolve_device

        fn = self.fn
        device = resolve_device(self.device)
        started = time.perf_counter()
        deadline = None if self.timeout_s is None else started + self.timeout_s
        progress = TrialProgress(OBJECTIVE_METRIC)
        reporter = Reporter(progress, deadline)
        result = guarded_trial(
            lambda _progress: self._run(fn, space, arch, seed, device, reporter),
            progress,
            epochs=0,
            timeout_s=self.timeout_s,
            threads=self.threads,
            device=device,
            describe=f"{arch.to_json()} (seed {seed})",
        )
        result.curve = {key: series for key, series in result.curve.items() if series}
        if result.status == "pruned":
            result.metrics.update(reporter.returned)
        if not result.ok:
            result.metrics.pop("epochs", None)  # the training evaluators' count; here the steps reported
            result.metrics["steps"] = float(reporter.steps)
        if result.status == "timeout":
            where = (
                f"at step {reporter.last_step}"
                if reporter.last_step is not None
                else f"(the objective took {result.cost_s:.1f} s)"
            )
            result.error = f"exceeded the time limit of {self.timeout_s:g} s {where}"
        return result

    def _run(
        self,
        fn: Callable[..., Any],
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        device: Any,
        reporter: Reporter,
    ) -> dict[str, float]:
        import torch

        from archsearch.evaluators.common import state_dict_bytes

        seed_everything(seed)
        child = build_child(space, arch)
        module = isinstance(child, torch.nn.Module)
        if module:
            child = child.to(device)
            reporter.progress.params = sum(p.numel() for p in child.parameters() if p.requires_grad)
        style = report_style(fn)
        if style == "positional":
            value = fn(child, seed, reporter)
        elif style == "keyword":
            value = fn(child, seed, report=reporter)
        else:
            value = fn(child, seed)
        if reporter.stopped:  # returned after the pruner stopped it: pruned, with what it returned
            reporter.returned = {} if value is None else objective_metrics(value)
            raise TrialPruned(reporter.stop_message())
        metrics = objective_metrics(value)
        if reporter.deadline is not None and time.perf_counter() > reporter.deadline:
            raise TrialTimeoutError("the objective returned after the time limit")
        if module:
            metrics.setdefault("params", float(reporter.progress.params or 0))
            if self.keep_weights:
                reporter.progress.weights = state_dict_bytes(child)
        return metrics
