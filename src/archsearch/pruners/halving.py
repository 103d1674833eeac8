"""Successive halving and its descendants: ASHA, Hyperband and synchronous successive halving.

Trials climb rungs at resources ``min_resource * reduction_factor**(s + k)`` (k = 0, 1, ...; ``s`` the
bracket's early-stopping rate), below ``max_resource``; at each rung only the best
``1 / reduction_factor`` of the trials that reached it go on (Jamieson & Talwalkar 2016; Li et al. 2020,
"A System for Massively Parallel Hyperparameter Tuning" (ASHA), Algorithm 2; Li et al. 2018,
"Hyperband", Algorithm 1). The rules follow Optuna's pruners (optuna/pruners/_successive_halving.py,
_hyperband.py): a report at a resource at or past a rung decides that rung with the report's value, and
a trial that passes a rung is judged at the next ones its report reached.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from archsearch.errors import ConfigError
from archsearch.pruners.base import (
    GO_ON,
    History,
    Pruner,
    Rung,
    Verdict,
    at_least,
    check_count,
    check_positive,
    format_resource,
    settled_at,
)

FLOOR_TOLERANCE = 1e-9
"""floor(9 / 3.0000000001) is 3 here: a reduction factor given as a float is not a hair too large."""


class _Step:
    """One rung of one bracket: the scores of the trials that reached it (higher is better), sorted."""

    __slots__ = ("resource", "entries", "scores", "top", "stopped", "kept")

    def __init__(self, resource: float) -> None:
        self.resource = resource
        self.entries: dict[int, float] = {}
        self.scores: list[float] = []  # the entries' scores, ascending
        self.top = -1  # the largest trial number entered
        self.stopped = 0
        self.kept: set[int] | None = None  # synchronous halving: who goes on, once the bracket is in

    def enter(self, number: int, score: float) -> None:
        self.entries[number] = score
        bisect.insort(self.scores, score)
        self.top = max(self.top, number)


class _Halving(Pruner):
    """The rungs and options shared by the successive-halving pruners."""

    def __init__(
        self,
        metric: str,
        mode: str,
        max_resource: float | None,
        min_resource: float,
        reduction_factor: float,
    ) -> None:
        super().__init__(metric, mode, max_resource)
        self.min_resource = check_positive(self.name, "min_resource", min_resource)
        self.reduction_factor = check_positive(self.name, "reduction_factor", reduction_factor)
        if self.reduction_factor <= 1:
            raise ConfigError(
                f"pruner {self.name}: reduction_factor must be > 1 (1/reduction_factor of the trials at a "
                f"rung go on), got {reduction_factor!r}"
            )
        if self.max_resource is not None and at_least(self.min_resource, self.max_resource):
            raise ConfigError(
                f"pruner {self.name}: min_resource {format_resource(self.min_resource)} must be below "
                f"max_resource {format_resource(self.max_resource)} (no trial could be stopped)"
            )
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._steps: dict[int, list[_Step]] = {}  # by bracket
        self._next: dict[int, int] = {}  # by trial: the index of the next rung it is judged at

    def _options(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "max_resource": self.max_resource,
            "min_resource": self.min_resource,
            "reduction_factor": self.reduction_factor,
        }

    def bracket(self, number: int) -> int:
        """The bracket of trial ``number``."""
        return 0

    def several_brackets(self) -> bool:
        """Whether trials are split into brackets (a reason then names the trial's)."""
        return False

    def rate(self, bracket: int) -> int:
        """The early-stopping rate of ``bracket``: its first rung is ``min * eta**rate``."""
        return bracket

    def rung_resource(self, bracket: int, k: int) -> float | None:
        """The resource of ``bracket``'s k-th rung; None past its last (rungs stay below max_resource)."""
        resource = self.min_resource * self.reduction_factor ** (self.rate(bracket) + k)
        if self.max_resource is not None and at_least(resource, self.max_resource):
            return None
        return resource

    def _step(self, bracket: int, k: int, resource: float) -> _Step:
        steps = self._steps.setdefault(bracket, [])
        while len(steps) <= k:
            steps.append(_Step(self.rung_resource(bracket, len(steps)) or resource))
        return steps[k]

    def keep_count(self, total: int) -> int:
        """How many of ``total`` trials at a rung go on: floor(total / eta), at least one."""
        return max(1, math.floor(total / self.reduction_factor + FLOOR_TOLERANCE))

    def rungs(self, number: int) -> list[float] | None:
        if self.max_resource is None:
            return None
        bracket = self.bracket(number)
        result: list[float] = []
        while (resource := self.rung_resource(bracket, len(result))) is not None:
            result.append(resource)
        return result

    def rung_stats(self) -> list[Rung]:
        return [
            Rung(step.resource, len(step.entries), step.stopped, bracket)
            for bracket, steps in sorted(self._steps.items())
            for step in steps
            if step.entries
        ]

    def _reason(self, resource: float, value: float, keep: int, total: int, bracket: int) -> str:
        where = f", bracket {bracket}" if self.several_brackets() else ""
        return (
            f"stopped at {format_resource(resource)}: {self.describe(value)} is not among the best {keep} "
            f"of {total} trials at this rung ({self.name}{where})"
        )


class AshaPruner(_Halving):
    """Asynchronous successive halving (ASHA; Li et al. 2020, Algorithm 2, as Optuna's
    SuccessiveHalvingPruner): at each rung a trial goes on when its value is among the best
    floor(n / eta) of the n trials that reached the rung so far (itself included); while fewer than eta
    trials reached it, only when it is the best so far (Optuna's rule for the first eta - 1).

    With ``ordered``, "so far" means the trials numbered below it, and the decision waits until each of
    them that still runs reached the rung, was stopped or ended.

    Args:
        min_resource: the first rung (r in the paper); e.g. 1 epoch.
        reduction_factor: eta; 1/eta of a rung's trials go on. A float > 1.
        brackets: trial n runs in bracket n % brackets, whose rungs start at min * eta**bracket
            (bracket s has early-stopping rate s, ASHA's s).
        max_resource: a fully trained trial's resource; rungs stay below it. None: rungs go on forever
            (a trial's last report may then stop it, as in Optuna).
    """

    name = "asha"

    def __init__(
        self,
        metric: str = "val_acc",
        mode: str = "max",
        max_resource: float | None = None,
        min_resource: float = 1.0,
        reduction_factor: float = 3.0,
        brackets: int = 1,
    ) -> None:
        super().__init__(metric, mode, max_resource, min_resource, reduction_factor)
        self.brackets = check_count(self.name, "brackets", brackets, 1)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "params": {**self._options(), "brackets": self.brackets}}

    def bracket(self, number: int) -> int:
        return number % self.brackets

    def several_brackets(self) -> bool:
        return self.brackets > 1

    def decide(self, number: int, resource: float, history: History, ordered: bool) -> Verdict | None:
        value = history.values(number)[resource]
        score = self.score(value)
        bracket = self.bracket(number)
        k = self._next.get(number, 0)
        while (rung := self.rung_resource(bracket, k)) is not None and at_least(resource, rung):
            if ordered and self._waiting(number, bracket, rung, history):
                self._next[number] = k
                return None
            step = self._step(bracket, k, rung)
            self._next[number] = k + 1
            if math.isnan(value):  # Optuna stops a nan at once, without entering it in the rung
                step.stopped += 1
                return Verdict(True, f"stopped at {format_resource(resource)}: {self.metric} is nan")
            if ordered and number < step.top:  # out of number order: rank against the trials below it
                competitors = sorted(s for m, s in step.entries.items() if m < number)
            else:
                competitors = step.scores
            total = len(competitors) + 1
            keep = self.keep_count(total)
            better = len(competitors) - bisect.bisect_right(competitors, score)
            step.enter(number, score)
            if better >= keep:
                step.stopped += 1
                return Verdict(True, self._reason(resource, value, keep, total, bracket))
            k += 1
        self._next[number] = k
        return GO_ON

    def _waiting(self, number: int, bracket: int, rung: float, history: History) -> bool:
        """Whether a live trial below ``number`` in its bracket may still enter the rung at ``rung``."""
        return any(
            self.bracket(m) == bracket and not settled_at(m, rung, history)
            for m in history.live_before(number)
        )


class HyperbandPruner(AshaPruner):
    """Hyperband (Li et al. 2018, Algorithm 1) run asynchronously as Optuna's HyperbandPruner does: one
    ASHA bracket per early-stopping rate s = 0 .. s_max, s_max = floor(log_eta(max / min)); bracket s's
    rungs start at min * eta**s (the last bracket trains every trial fully).

    A trial's bracket follows Hyperband's budgets: bracket s gets ceil((s_max + 1) / (s_max - s + 1) *
    eta**(s_max - s)) of every sum-of-budgets trials (Algorithm 1's n for its bracket s_max - s), spread
    evenly by a smooth weighted round robin over the trial numbers (Optuna hashes the study name and
    number instead; a function of the number alone keeps resumes and seeds exact).

    Args:
        min_resource, reduction_factor: as ASHA's.
        max_resource: R in the paper, required (it fixes the brackets).
    """

    name = "hyperband"

    def __init__(
        self,
        metric: str = "val_acc",
        mode: str = "max",
        max_resource: float | None = None,
        min_resource: float = 1.0,
        reduction_factor: float = 3.0,
    ) -> None:
        if max_resource is None:
            raise ConfigError(
                "pruner hyperband: max_resource is needed (a fully trained trial's epochs) and the "
                "evaluator does not say it; set it in the pruner's params"
            )
        _Halving.__init__(self, metric, mode, max_resource, min_resource, reduction_factor)
        assert self.max_resource is not None
        s_max = 0
        while at_least(self.max_resource, self.min_resource * self.reduction_factor ** (s_max + 1)):
            s_max += 1
        self.brackets = s_max + 1
        self.budgets = [
            math.ceil((s_max + 1) / (s_max - s + 1) * self.reduction_factor ** (s_max - s) - FLOOR_TOLERANCE)
            for s in range(self.brackets)
        ]
        self._schedule = smooth_round_robin(self.budgets)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "params": self._options()}

    def bracket(self, number: int) -> int:
        return self._schedule[number % len(self._schedule)]


def smooth_round_robin(weights: list[int]) -> list[int]:
    """One cycle of a smooth weighted round robin: each index i appears weights[i] times, spread
    evenly (at each turn every index gains its weight and the richest is served and pays the total)."""
    total = sum(weights)
    credit = [0] * len(weights)
    order: list[int] = []
    for _ in range(total):
        for i, weight in enumerate(weights):
            credit[i] += weight
        served = max(range(len(weights)), key=lambda i: (credit[i], -i))
        credit[served] -= total
        order.append(served)
    return order


class SuccessiveHalvingPruner(_Halving):
    """Synchronous successive halving (Jamieson & Talwalkar 2016, Algorithm 1): trials are grouped by
    number into brackets of ``bracket_size`` (trials 0..size-1, size..2*size-1, ...); at each rung the
    bracket waits until every member reached it, was stopped or ended, then keeps the best
    floor(n / eta) of the n that reached it (at least one; ties go to the lower number) and stops the
    rest. Its decisions do not depend on arrival order, ``ordered`` or not.

    Every member of a bracket must run at once (the others wait for the last one): ``bracket_size`` is
    at most the study's concurrency (``check_concurrency``), its default.

    Args:
        min_resource, reduction_factor, max_resource: as ASHA's.
        bracket_size: trials per bracket; None: the study's concurrency.
    """

    name = "successive_halving"
    waits_for_later = True

    def __init__(
        self,
        metric: str = "val_acc",
        mode: str = "max",
        max_resource: float | None = None,
        min_resource: float = 1.0,
        reduction_factor: float = 3.0,
        bracket_size: int | None = None,
    ) -> None:
        super().__init__(metric, mode, max_resource, min_resource, reduction_factor)
        if bracket_size is None:
            raise ConfigError(
                "pruner successive_halving: bracket_size is needed (trials that run at once and compete)"
            )
        self.bracket_size = check_count(self.name, "bracket_size", bracket_size, 1)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "params": {**self._options(), "bracket_size": self.bracket_size}}

    def bracket(self, number: int) -> int:
        return number // self.bracket_size

    def several_brackets(self) -> bool:
        return True

    def rate(self, bracket: int) -> int:
        return 0

    def check_concurrency(self, concurrency: int) -> None:
        if self.bracket_size > concurrency:
            raise ConfigError(
                f"pruner successive_halving: a bracket of {self.bracket_size} trials must run at once, but "
                f"the study runs at most {concurrency} at a time; set bracket_size <= {concurrency} or "
                "run more trials at once"
            )

    def decide(self, number: int, resource: float, history: History, ordered: bool) -> Verdict | None:
        value = history.values(number)[resource]
        bracket = self.bracket(number)
        k = self._next.get(number, 0)
        while (rung := self.rung_resource(bracket, k)) is not None and at_least(resource, rung):
            step = self._step(bracket, k, rung)
            if number not in step.entries:
                step.enter(number, self.score(value))
            if step.kept is None:
                if not self._complete(bracket, step, history):
                    self._next[number] = k
                    return None
                ranked = sorted(step.entries, key=lambda m: (-step.entries[m], m))
                keep = self.keep_count(len(ranked))
                step.kept = set(ranked[:keep])
                step.stopped = len(ranked) - keep
                self.revision += 1
            if number not in step.kept:
                self._next[number] = k + 1
                return Verdict(
                    True, self._reason(resource, value, len(step.kept), len(step.entries), bracket)
                )
            k += 1
        self._next[number] = k
        return GO_ON

    def _complete(self, bracket: int, step: _Step, history: History) -> bool:
        """Whether every member of ``bracket`` entered ``step`` or never will."""
        first = bracket * self.bracket_size
        last = first + self.bracket_size - 1
        if history.last is not None:
            last = min(last, history.last)
        return all(m in step.entries or settled_at(m, step.resource, history) for m in range(first, last + 1))
