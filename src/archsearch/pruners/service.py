"""The study's pruning service: takes every trial's reports from the executors' threads, keeps them for
the store, asks the pruner and answers each report once it has a verdict.

One lock guards everything; answers are given outside it (an answer may wake a waiting worker). A report
the pruner cannot decide yet (``ordered``: an earlier trial has not got that far) stays pending and is
answered when a later report, the end of a trial or ``no_more_trials`` makes it decidable; pending
reports are tried in trial-number order, so that the pruner sees them in a reproducible order.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from archsearch.pruners.base import GO_ON, History, Pruner, Rung, Verdict
from archsearch.reporting import Answer, Report


@dataclass
class _Pending:
    """A report waiting for its verdict, and the answers to give then (none for a restored one)."""

    resource: float
    answers: list[Answer] = field(default_factory=list)
    blocked: bool = False  # the pruner said wait at the last try


class _TrialSink:
    """One trial's ``ReportSink`` (``archsearch.reporting``): what the executor calls with its reports."""

    def __init__(self, service: PruningService, number: int) -> None:
        self.service = service
        self.number = number
        self.decides = service.pruner is not None

    def report(self, step: int, resource: float, values: dict[str, float], answer: Answer) -> None:
        self.service.receive(self.number, step, resource, values, answer)


class PruningService:
    """Collects the intermediate reports of a study's trials and answers them with its pruner's verdicts.

    Thread-safe: executors call ``sink(number).report`` from any thread of the driver; the study calls
    the rest from its loop. With ``pruner`` None, reports are only collected (``decides`` is False and
    every report is answered "go on").

    Args:
        pruner: what decides; None to only collect reports.
        ordered: the study's ``ordered``: decisions on trial n use trials below n only and wait for them.
        clock: the time stamped on each report (``time.time``).
    """

    def __init__(self, pruner: Pruner | None, ordered: bool, clock: Callable[[], float] = time.time) -> None:
        self.pruner = pruner
        if pruner is not None:  # its rungs are this service's: a study run again replays its reports
            pruner.reset()
        self.ordered = ordered
        self.clock = clock
        self.history = History()
        self._lock = threading.Lock()
        self._steps: set[tuple[int, int]] = set()  # (number, step) of every report kept
        self._new: list[Report] = []
        self._pending: dict[int, list[_Pending]] = {}
        self._verdicts: dict[int, dict[float, bool]] = {}
        self._reasons: dict[int, str] = {}
        self._pruned_at: dict[int, float] = {}
        self._error: str | None = None

    # -- the study's side ---------------------------------------------------------------------------
    def open(self, number: int) -> None:
        """Trial ``number`` is submitted (again, on resume): ordered decisions of later trials wait for it."""
        with self._lock:
            self.history.open(number)

    def sink(self, number: int) -> _TrialSink:
        """The ``ReportSink`` to give the executor with trial ``number``."""
        return _TrialSink(self, number)

    def ended(self, number: int) -> None:
        """Trial ``number``'s evaluation returned a Result: the trials waiting for it stop waiting."""
        self._settle(lambda: self.history.end(number))

    def no_more_trials(self) -> None:
        """The study asks no more trials (its budget is spent, by count or time): a synchronous bracket
        that will not fill up decides with the members it has. Without this call, the members of such a
        bracket wait for the missing ones forever (other pruners never wait for later trials)."""

        def last() -> None:
            self.history.last = self.history.highest

        self._settle(last)

    def restore(self, reports: Iterable[Report], ended: Iterable[int]) -> None:
        """Take the stored reports of a study being resumed and the numbers of its finished trials, and
        re-make the pruner's decisions on them, trial by trial in number order: the rungs hold the same
        values as before the interruption and, with ``ordered``, the verdicts and reasons are the same
        too (without it, a live decision depended on arrival order, and the replay decides in number
        order). Trials neither finished nor beyond the last one reported are taken to run again (the
        study resubmits them): later ordered decisions wait for them, as they did. Call it before the
        first report; when the study's budget is already spent, call ``no_more_trials`` too."""
        reports = sorted(reports, key=lambda r: (r.number, r.resource))
        finished = set(ended)

        def replay() -> None:
            for report in reports:
                self._steps.add((report.number, report.step))
                self._take(report.number, report.resource, report.values, None)
            for number in finished:
                self.history.end(number)
            # every other trial asked so far runs again: ordered decisions wait for it, as they did
            for number in range(self.history.highest + 1):
                if number not in finished:
                    self.history.open(number)

        self._settle(replay)

    def drain(self) -> list[Report]:
        """The reports received since the last call, in arrival order (the study stores them); a trial's
        report at a step it already reported (it ran again) is not repeated."""
        with self._lock:
            new, self._new = self._new, []
        return new

    @property
    def error(self) -> str | None:
        """What makes the pruner unable to work (a report without its metric), once; None while all is well."""
        return self._error

    def reason(self, number: int) -> str | None:
        """Why trial ``number`` was stopped, in one line (None when it was not)."""
        with self._lock:
            return self._reasons.get(number)

    def pruned_at(self, number: int) -> float | None:
        """The resource at which trial ``number`` was stopped (None when it was not)."""
        with self._lock:
            return self._pruned_at.get(number)

    def rungs(self) -> list[Rung]:
        """The pruner's rungs: how many trials reached each and how many were stopped there."""
        with self._lock:
            return [] if self.pruner is None else self.pruner.rung_stats()

    def check_concurrency(self, workers: int, max_concurrent: int | None = None) -> None:
        """ConfigError when the pruner cannot work with this many trials at once (synchronous successive
        halving needs its whole bracket running)."""
        if self.pruner is not None:
            self.pruner.check_concurrency(min(workers, max_concurrent or workers))

    # -- the executors' side ------------------------------------------------------------------------
    def receive(
        self, number: int, step: int, resource: float, values: dict[str, float], answer: Answer
    ) -> None:
        """Take trial ``number``'s report and call ``answer(stop)`` once, now or when decidable."""
        resource = float(resource)
        values = dict(values)

        def take() -> list[tuple[Answer, bool]]:
            if (number, step) not in self._steps:
                self._steps.add((number, step))
                self._new.append(Report(number, step, resource, values, self.clock()))
            return self._take(number, resource, values, answer)

        self._settle(take)

    # -- inside the lock ----------------------------------------------------------------------------
    def _settle(self, change: Callable[[], object]) -> None:
        """Apply ``change`` under the lock, decide what became decidable, then give the answers."""
        with self._lock:
            ready = change()
            answers = list(ready) if isinstance(ready, list) else []
            answers.extend(self._sweep())
        for answer, stop in answers:
            answer(stop)

    def _take(
        self, number: int, resource: float, values: dict[str, float], answer: Answer | None
    ) -> list[tuple[Answer, bool]]:
        """Record one report; the answers that are known at once (no pruner, an error, a repeat)."""
        pruner = self.pruner
        if pruner is None:
            return [] if answer is None else [(answer, False)]
        if pruner.metric not in values:
            if self._error is None:
                self._error = (
                    f"the pruner's metric {pruner.metric!r} is not among the values the evaluator reports "
                    f"({', '.join(sorted(values)) or 'none'})"
                )
            self._reasons.setdefault(number, self._error)
            self.history.stop(number)
            return [] if answer is None else [(answer, True)]
        self.history.add(number, resource, float(values[pruner.metric]))
        verdicts = self._verdicts.get(number, {})
        if resource in verdicts:  # a trial run again repeats a decided report: the same answer
            return [] if answer is None else [(answer, verdicts[resource])]
        if self.history.stopped(number):  # reports after a stop (should not come): stop again
            return [] if answer is None else [(answer, True)]
        queue = self._pending.setdefault(number, [])
        for pending in queue:
            if pending.resource == resource:
                if answer is not None:
                    pending.answers.append(answer)
                return []
        queue.append(_Pending(resource, [] if answer is None else [answer]))
        queue.sort(key=lambda p: p.resource)
        return []

    def _sweep(self) -> list[tuple[Answer, bool]]:
        """Decide the pending reports that are decidable, trial by trial in number order, until none is."""
        pruner = self.pruner
        answers: list[tuple[Answer, bool]] = []
        if pruner is None:
            return answers
        again = True
        while again and self._pending:
            # a pass in number order decides what waited for earlier trials; another pass only when a
            # trial left waiting may have been released by a later one (a synchronous bracket)
            again = blocked = False
            revision = pruner.revision
            for number in sorted(self._pending):
                queue = self._pending[number]
                while queue:
                    pending = queue[0]
                    if pending.blocked and not pruner.waits_for_later and self.history.touched > number:
                        break  # only earlier trials can release it, and none of them changed
                    if pruner.final(pending.resource):
                        verdict: Verdict | None = GO_ON
                    else:
                        verdict = pruner.decide(number, pending.resource, self.history, self.ordered)
                    if verdict is None:
                        pending.blocked = blocked = True
                        break
                    again = again or blocked
                    queue.pop(0)
                    self._record(number, pending.resource, verdict)
                    answers.extend((answer, verdict.stop) for answer in pending.answers)
                    if verdict.stop:  # what it reported past the stop is moot: stop those too
                        for later in queue:
                            self._verdicts[number][later.resource] = True
                            answers.extend((answer, True) for answer in later.answers)
                        queue.clear()
                if not queue:
                    del self._pending[number]
            again = again or pruner.revision != revision
        self.history.touched = math.inf
        return answers

    def _record(self, number: int, resource: float, verdict: Verdict) -> None:
        self._verdicts.setdefault(number, {})[resource] = verdict.stop
        if verdict.stop:
            self._reasons.setdefault(number, verdict.reason)
            self._pruned_at.setdefault(number, resource)
            self.history.stop(number)
        self.history.decide(number, resource)
