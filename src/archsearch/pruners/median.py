"""Median stopping: stop a trial whose best value so far is worse than the median of the other trials'
values at the same resource (Golovin et al. 2017, "Google Vizier", section 3.2.2; Optuna's
``MedianPruner``, optuna/pruners/_median.py and _percentile.py)."""

from __future__ import annotations

import bisect
import heapq
import math
from typing import Any

from archsearch.errors import ConfigError
from archsearch.pruners.base import (
    GO_ON,
    History,
    Pruner,
    Rung,
    Verdict,
    check_count,
    check_number,
    format_resource,
    waiting_for_values,
)


class _Column:
    """The scores reported at one resource, sorted, admitted in trial-number order (ordered decisions
    rank trial n against trials below n only) or all at once (unordered)."""

    __slots__ = ("scores", "waiting", "seen", "top", "decided", "stopped")

    def __init__(self) -> None:
        self.scores: list[float] = []  # ascending; nan values are left out (Optuna's nanpercentile)
        self.waiting: list[int] = []  # a heap of trial numbers that arrived but are not admitted yet
        self.seen = 0  # how many of History.arrivals(resource) went into ``waiting``
        self.top = -1  # the largest admitted trial number
        self.decided = 0
        self.stopped = 0


class MedianPruner(Pruner):
    """Stops trial n at resource r when its best value up to r is worse than the median of the values
    that earlier trials reported at r (Vizier's median stopping rule; Optuna's MedianPruner with its
    defaults: ``n_startup_trials`` 5, ``n_warmup_steps`` 0, ``interval_steps`` 1).

    Differences from Optuna, so that ordered decisions need not wait for earlier trials to finish: the
    median is over every earlier trial that reported at r (running, finished or pruned later on), and
    ``n_startup_trials`` counts those values instead of completed trials.

    Args:
        n_startup_trials: no trial is stopped at r before this many earlier trials reported there.
        warmup_resource: no trial is stopped before it used this much (``n_warmup_steps``).
        interval: a trial is considered at most once per ``interval`` of resource past the warm-up
            (``interval_steps``): at its first report in each interval.
    """

    name = "median"

    def __init__(
        self,
        metric: str = "val_acc",
        mode: str = "max",
        max_resource: float | None = None,
        n_startup_trials: int = 5,
        warmup_resource: float = 0.0,
        interval: float = 1.0,
    ) -> None:
        super().__init__(metric, mode, max_resource)
        self.n_startup_trials = check_count(self.name, "n_startup_trials", n_startup_trials, 0)
        self.warmup_resource = check_number(self.name, "warmup_resource", warmup_resource)
        if self.warmup_resource < 0:
            raise ConfigError(f"pruner median: warmup_resource must be >= 0, got {warmup_resource!r}")
        self.interval = check_number(self.name, "interval", interval)
        if self.interval <= 0:
            raise ConfigError(f"pruner median: interval must be > 0, got {interval!r}")
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._columns: dict[float, _Column] = {}

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": {
                "metric": self.metric,
                "mode": self.mode,
                "max_resource": self.max_resource,
                "n_startup_trials": self.n_startup_trials,
                "warmup_resource": self.warmup_resource,
                "interval": self.interval,
            },
        }

    def decide(self, number: int, resource: float, history: History, ordered: bool) -> Verdict | None:
        curve = history.values(number)
        if not self._considered(resource, curve):
            return GO_ON
        if ordered and waiting_for_values(number, resource, history):
            return None
        column = self._columns.setdefault(resource, _Column())
        others, skip = self._others(column, number, resource, history, ordered)
        column.decided += 1
        size = len(others) - (skip is not None)
        if size < max(self.n_startup_trials, 1):
            return GO_ON
        best = max((self.score(v) for r, v in curve.items() if r <= resource), default=-math.inf)

        def nth(i: int) -> float:  # the i-th of the others, skipping the trial's own value
            return others[i if skip is None or i < skip else i + 1]

        half = size // 2
        median = nth(half) if size % 2 else (nth(half - 1) + nth(half)) / 2
        if best >= median:
            return GO_ON
        column.stopped += 1
        sign = 1.0 if self.mode == "max" else -1.0
        return Verdict(
            True,
            f"stopped at {format_resource(resource)}: best {self.describe(sign * best)} is worse than the "
            f"median {sign * median:.4g} of {size} earlier trials there (median stopping)",
        )

    def _considered(self, resource: float, curve: dict[float, float]) -> bool:
        """Optuna's warm-up and interval rule (``_is_first_in_interval_step``): past the warm-up, and
        the first report of the trial in its interval."""
        if resource < self.warmup_resource:
            return False
        start = (resource - self.warmup_resource) // self.interval * self.interval + self.warmup_resource
        previous = max((r for r in curve if r < resource), default=float("-inf"))
        return previous < start

    def _others(
        self, column: _Column, number: int, resource: float, history: History, ordered: bool
    ) -> tuple[list[float], int | None]:
        """The sorted scores at ``resource`` that trial ``number`` is compared with, and the index of its
        own score among them to skip (None: not there): the trials below it (ordered) or all. Admitted
        into the column incrementally, so that a decision costs a logarithm, not a scan of all trials."""
        values = history.at(resource)
        arrivals = history.arrivals(resource)
        for m in arrivals[column.seen :]:
            heapq.heappush(column.waiting, m)
        column.seen = len(arrivals)
        if ordered and number < column.top:  # decided out of number order: rank against a fresh list
            return sorted(
                s for m, v in values.items() if m < number and (s := self.score(v)) > -math.inf
            ), None
        while column.waiting and (not ordered or column.waiting[0] <= number):
            m = heapq.heappop(column.waiting)
            column.top = max(column.top, m)
            s = self.score(values[m])
            if s > -math.inf:
                bisect.insort(column.scores, s)
        own = self.score(values[number]) if number in values else -math.inf
        if own == -math.inf:
            return column.scores, None
        return column.scores, bisect.bisect_left(column.scores, own)

    def rung_stats(self) -> list[Rung]:
        return [
            Rung(resource, column.decided, column.stopped)
            for resource, column in sorted(self._columns.items())
            if column.decided
        ]
