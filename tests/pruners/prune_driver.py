"""A study's loop in miniature for the pruner tests: trials report synthetic curves to a PruningService in
an interleaving drawn from a seed, each waiting for its answer as a worker does; the driver opens trials in
number order as slots free up and ends them when they stop or finish (as Study.run does)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from archsearch.pruners import PruningService


def quality(number: int) -> float:
    """A fixed, scrambled final accuracy per trial number, in (0.1, 1)."""
    return 0.1 + 0.9 * ((number * 7919) % 101) / 101


def value(number: int, resource: float) -> float:
    """Trial ``number``'s accuracy after ``resource`` epochs: curves rise and never cross."""
    return quality(number) * (1 - 0.6**resource)


@dataclass
class _Trial:
    number: int
    index: int = 0
    waiting: bool = False
    answers: list[bool] = field(default_factory=list)


@dataclass
class Outcome:
    """Where each trial stopped (None: trained to the end), the pruner's reasons, and the reports."""

    pruned_at: dict[int, float | None] = field(default_factory=dict)
    reasons: dict[int, str | None] = field(default_factory=dict)


class Driver:
    """Runs ``n_trials`` trials through ``service`` with at most ``slots`` at once, each reporting at
    ``resources`` (steps 1, 2, ...) the values ``curve(number, resource)``; ``seed`` draws which running
    trial reports next."""

    def __init__(
        self,
        service: PruningService,
        n_trials: int,
        slots: int,
        resources: list[float],
        seed: int,
        metric: str = "val_acc",
        curve: Callable[[int, float], float] = value,
    ) -> None:
        self.service = service
        self.n_trials = n_trials
        self.slots = slots
        self.resources = resources
        self.rng = random.Random(seed)
        self.metric = metric
        self.curve = curve
        self.next = 0
        self.active: dict[int, _Trial] = {}
        self.ended: set[int] = set()
        self.outcome = Outcome()
        self.events = 0
        self.told_last = False

    def resume(self, running: list[int]) -> None:
        """After a restore: the trials that were running start again from their first step."""
        for number in sorted(running):
            self.service.open(number)
            self.active[number] = _Trial(number)

    def run(self, max_events: int | None = None) -> Outcome:
        while True:
            while len(self.active) < self.slots and self.next < self.n_trials:
                self.service.open(self.next)
                self.active[self.next] = _Trial(self.next)
                self.next += 1
            if self.next >= self.n_trials and not self.told_last:
                self.told_last = True
                self.service.no_more_trials()
            if not self.active:
                return self.outcome
            if max_events is not None and self.events >= max_events:
                return self.outcome
            ready = [t for t in self.active.values() if not t.waiting]
            assert ready, f"every running trial waits for an answer: {sorted(self.active)}"
            trial = self.rng.choice(ready)
            self._report(trial)
            self.events += 1
            self._take_answers()

    def _report(self, trial: _Trial) -> None:
        resource = self.resources[trial.index]
        trial.waiting = True
        self.service.sink(trial.number).report(
            trial.index + 1,
            resource,
            {self.metric: self.curve(trial.number, resource), "loss": 1.0},
            trial.answers.append,
        )

    def _take_answers(self) -> None:
        for trial in list(self.active.values()):
            if not trial.answers:
                continue
            assert len(trial.answers) == 1, f"trial {trial.number} answered {trial.answers}"
            stop = trial.answers.pop()
            trial.waiting = False
            resource = self.resources[trial.index]
            trial.index += 1
            if stop or trial.index == len(self.resources):
                self._end(trial.number, resource if stop else None)

    def _end(self, number: int, pruned_at: float | None) -> None:
        del self.active[number]
        self.ended.add(number)
        self.service.ended(number)
        self.outcome.pruned_at[number] = pruned_at
        self.outcome.reasons[number] = self.service.reason(number)
