"""Intermediate reports: a running trial says what its child reached after each step, and hears whether
to stop (pruning: median stopping, successive halving, ASHA, Hyperband; ``archsearch.pruners``).

Two ends. In the process that trains the child, the executor installs a ``Channel`` around the
evaluation (``reporting_to``); the evaluator calls ``report(step, values, resource)`` after each epoch
(or each report of a user's objective), which returns True when the study's pruner stops the child: the
evaluator then ends the trial, usually by raising ``archsearch.TrialPruned`` (its guards make it a Result
with status "pruned"). Outside a study (no channel), ``report`` does nothing and returns False.

In the driver, the study gives the executor one ``ReportSink`` per trial (``Executor.submit(...,
reports=sink)``); the executor carries each report from the worker to ``sink.report`` (in any thread of
the driver process) and, when ``sink.decides``, carries the answer back; the worker waits for it.

Users' own evaluators call it as ``archsearch.report_step`` (``archsearch.report`` is the package of
reports); a ``FunctionEvaluator``'s objective gets ``report(step, value)`` and ``report.should_stop()``.

This module imports nothing of archsearch but the core, so evaluators, executors and the study all use it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from archsearch.errors import ChildReportError


@dataclass(frozen=True)
class Report:
    """One intermediate report of trial ``number``, as the study stores it: at ``step`` (1-based epoch,
    or the objective's step) the child had used ``resource`` (epochs) and reached ``values``; ``time``
    is when the driver received it (Unix seconds)."""

    number: int
    step: int
    resource: float
    values: dict[str, float] = field(default_factory=dict)
    time: float = 0.0


Answer = Callable[[bool], None]
"""Called once with the pruner's decision for one report: True stops the trial."""


class ReportSink(Protocol):
    """The driver's end of one trial's reports (given to ``Executor.submit`` as ``reports``)."""

    decides: bool
    """Whether each report waits for an answer (a pruner is set); False: reports are only recorded."""

    def report(self, step: int, resource: float, values: dict[str, float], answer: Answer) -> None:
        """Take one report of the trial, in any thread of the driver process. Calls ``answer(stop)``
        exactly once, now or later and from any thread (the pruner may wait for other trials first)."""
        ...


class Channel(Protocol):
    """The worker's end: where ``report`` sends a running trial's reports (installed by the executor)."""

    decides: bool
    """Whether the study's pruner may stop this trial (its sink decides): an evaluator with fidelities it
    would otherwise skip (the NB201 table's 12 epochs) reports them only then."""

    def report(self, step: int, resource: float, values: dict[str, float]) -> bool:
        """Send one report; True when the trial must stop now (it was pruned)."""
        ...


_local = threading.local()


def current() -> Channel | None:
    """The channel of the trial running in this thread (None outside an executor's evaluation)."""
    return getattr(_local, "channel", None)


@contextmanager
def reporting_to(channel: Channel | None) -> Iterator[None]:
    """Inside, ``report`` in this thread goes to ``channel`` (the executor wraps each evaluation)."""
    previous = current()
    _local.channel = channel
    try:
        yield
    finally:
        _local.channel = previous


def check_values(
    step: int, values: Mapping[str, float], resource: float | None
) -> tuple[float, dict[str, float]]:
    """The resource (``step`` when None) and the values as floats; ChildReportError (a failed trial) for a
    step that is not an integer >= 0, a resource that is not a finite number, or a value that is not a
    number (a nan is allowed: it is the child's, and the pruner ranks it last)."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ChildReportError(f"report: step must be an integer >= 0, got {step!r}")
    at = float(step) if resource is None else resource
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise ChildReportError(f"report: resource must be a finite number >= 0, got {resource!r}")
    numbers: dict[str, float] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise ChildReportError(f"report: metric names must be strings, got {name!r}")
        try:
            numbers[name] = float(value)
        except (TypeError, ValueError):
            raise ChildReportError(f"report: {name} must be a number, got {value!r}") from None
    return float(at), numbers


def last_values(curve: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The last value of each non-empty series of ``curve``: what a pruned child reached, which its
    metrics hold so that rewards score it on what the pruner saw."""
    return {name: float(series[-1]) for name, series in curve.items() if series}


def report(step: int, values: Mapping[str, float], resource: float | None = None) -> bool:
    """Report what the running trial's child reached at ``step`` (e.g. the 1-based epoch): ``values`` by
    metric name ("val_acc": 0.91), ``resource`` what it has used so far in the pruner's unit (epochs by
    default, possibly fractional; ``step`` when None). True when the trial must stop now (pruned)."""
    channel = current()
    at, numbers = check_values(step, values, resource)
    if channel is None:
        return False
    return channel.report(step, at, numbers)
