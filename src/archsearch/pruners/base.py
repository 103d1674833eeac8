"""What every pruner shares: the ``History`` of the values trials reported, the ``Pruner`` interface, its
``Verdict`` on one report, and the checks of its options.

A pruner sees one report at a time (trial ``number`` reached ``value`` of its metric after using
``resource``) and answers with a Verdict (stop or go on) or None: not yet, it waits for other trials.
With ``ordered`` (the study's ``ordered: true``), the verdict on trial n uses only trials numbered below n
(and n itself), and it is given only once every trial below n that is still running has got as far:
decisions then depend on the values in ask order, never on which child happened to report first, so a
seed fixes the trajectory and a resumed study re-makes the same decisions from its stored reports.
Without ``ordered``, a pruner decides at once on what it knows (only synchronous successive halving waits,
for its bracket, by definition).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from archsearch.errors import ConfigError

RELATIVE_TOLERANCE = 1e-9
"""Resources are floats (epochs, or fractions of an epoch); a report at 2.9999999999 reached rung 3."""


def at_least(resource: float, threshold: float) -> bool:
    """Whether ``resource`` reached ``threshold`` (up to float rounding of computed rung resources)."""
    return resource >= threshold or threshold - resource <= RELATIVE_TOLERANCE * max(1.0, abs(threshold))


@dataclass(frozen=True)
class Verdict:
    """A pruner's answer to one report: ``stop`` the trial now or let it go on; ``reason`` says why it
    was stopped, in one line (empty when it goes on)."""

    stop: bool
    reason: str = ""


GO_ON = Verdict(stop=False)


@dataclass(frozen=True)
class Rung:
    """One rung of a pruner, for the progress display: the trials that reached ``resource`` (in
    ``bracket``) and how many of them were stopped there."""

    resource: float
    reached: int
    stopped: int
    bracket: int = 0


class History:
    """The values of the pruner's metric that trials reported, by trial and by resource, and where each
    trial stands: running (opened), ended (its evaluation returned), stopped (told to stop), decided
    (the largest resource with a verdict).

    Indexed both ways so that a pruner looks up one trial's curve or one resource's values without a
    scan over all trials (tens of thousands in a tabular benchmark). The ``live`` trials are those whose
    values or decisions may still change: the only ones an ordered pruner waits for.
    """

    def __init__(self) -> None:
        self._values: dict[int, dict[float, float]] = {}
        self._at: dict[float, dict[int, float]] = {}
        self._arrivals: dict[float, list[int]] = {}
        self._reached: dict[int, float] = {}
        self._decided: dict[int, float] = {}
        self._opened: set[int] = set()
        self._ended: set[int] = set()
        self._stopped: set[int] = set()
        self._live: set[int] = set()
        self.highest = -1
        """The largest trial number opened, reported or ended."""
        self.touched = math.inf
        """The smallest trial number whose state changed since the service last reset it (an ordered
        decision waiting on earlier trials is retried only when one of them changed)."""
        self.last: int | None = None
        """The number of the study's last trial, once it asks no more (None while it may ask more)."""

    # -- what happened ------------------------------------------------------------------------------
    def add(self, number: int, resource: float, value: float) -> bool:
        """Record that trial ``number`` reached ``value`` at ``resource``; False (and nothing changes)
        when it already has a value there: the first one wins (a trial run again reports the same)."""
        self.highest = max(self.highest, number)
        curve = self._values.setdefault(number, {})
        if resource in curve:
            return False
        curve[resource] = value
        self._at.setdefault(resource, {})[number] = value
        self._arrivals.setdefault(resource, []).append(number)
        if resource > self._reached.get(number, -math.inf):
            self._reached[number] = resource
        self._refresh(number)
        return True

    def open(self, number: int) -> None:
        """Trial ``number`` is being evaluated (again, after a resume)."""
        self._opened.add(number)
        self.highest = max(self.highest, number)
        self._refresh(number)

    def end(self, number: int) -> None:
        """Trial ``number``'s evaluation returned: it reports nothing more."""
        self._ended.add(number)
        self.highest = max(self.highest, number)
        self._refresh(number)

    def stop(self, number: int) -> None:
        """Trial ``number`` was told to stop."""
        self._stopped.add(number)
        self._refresh(number)

    def decide(self, number: int, resource: float) -> None:
        """Trial ``number``'s report at ``resource`` got its verdict."""
        if resource > self._decided.get(number, -math.inf):
            self._decided[number] = resource
        self._refresh(number)

    def _refresh(self, number: int) -> None:
        self.touched = min(self.touched, number)
        if self.is_live(number):
            self._live.add(number)
        else:
            self._live.discard(number)

    # -- what is known ------------------------------------------------------------------------------
    def values(self, number: int) -> dict[float, float]:
        """Trial ``number``'s values by resource, in the order it reported them."""
        return self._values.get(number, {})

    def at(self, resource: float) -> dict[int, float]:
        """The values reported at exactly ``resource``, by trial number."""
        return self._at.get(resource, {})

    def arrivals(self, resource: float) -> Sequence[int]:
        """The trials that reported at ``resource``, in the order their reports arrived."""
        return self._arrivals.get(resource, [])

    def reached(self, number: int) -> float | None:
        """The largest resource trial ``number`` reported at (None before its first report)."""
        return self._reached.get(number)

    def decided(self, number: int) -> float | None:
        """The largest resource at which trial ``number`` got a verdict (None before the first)."""
        return self._decided.get(number)

    def known(self, number: int) -> bool:
        """Whether trial ``number`` was opened, reported or ended."""
        return number in self._opened or number in self._values or number in self._ended

    def ended(self, number: int) -> bool:
        return number in self._ended

    def stopped(self, number: int) -> bool:
        return number in self._stopped

    def pending(self, number: int) -> bool:
        """Whether trial ``number`` reported further than its last verdict."""
        reached = self._reached.get(number)
        return reached is not None and reached > self._decided.get(number, -math.inf)

    def is_live(self, number: int) -> bool:
        """Whether what trial ``number`` contributes may still change: it runs, or ended with reports
        that have no verdict yet; and it was not stopped."""
        if number in self._stopped:
            return False
        running = number in self._opened and number not in self._ended
        return running or (self.known(number) and self.pending(number))

    def active(self) -> list[int]:
        """The live trials, in number order."""
        return sorted(self._live)

    def live_before(self, number: int) -> Iterable[int]:
        """The live trials numbered below ``number`` (those an ordered decision on it waits for)."""
        return [m for m in self._live if m < number]


class Pruner(ABC):
    """Decides, report by report, whether a running trial stops early (pruning).

    Subclasses implement ``decide`` and ``config``; the study's ``PruningService`` calls ``decide`` once
    per report of each trial, in the order of the trial's resources, and again later when it answered
    None (waiting). A pruner may keep state (its rungs) and must then be fed each report once: a fresh
    pruner replaying the same reports in trial-number order makes the same decisions (resume).

    Attributes:
        metric: the reported value it ranks trials by ("val_acc").
        mode: "max" when larger values are better, "min" otherwise.
        max_resource: the resource of a fully trained trial (its epochs), None when unknown; a report at
            or past it gets no verdict (stopping a child that finished saves nothing).
    """

    name: ClassVar[str] = "pruner"
    waits_for_later: ClassVar[bool] = False
    """Whether a decision may wait for trials numbered above it (a synchronous bracket)."""
    revision: int = 0
    """Counts the changes that may release waiting trials without a verdict of their own (a synchronous
    bracket closing a rung): the service then tries the waiting trials again."""

    def __init__(self, metric: str = "val_acc", mode: str = "max", max_resource: float | None = None) -> None:
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"pruner {self.name}: metric must be a metric's name, got {metric!r}")
        if mode not in ("max", "min"):
            raise ConfigError(f'pruner {self.name}: mode must be "max" or "min", got {mode!r}')
        self.metric = metric
        self.mode = mode
        self.max_resource = (
            None if max_resource is None else check_positive(self.name, "max_resource", max_resource)
        )

    @abstractmethod
    def decide(self, number: int, resource: float, history: History, ordered: bool) -> Verdict | None:
        """The verdict on trial ``number``'s report at ``resource`` (its value is in ``history``), or
        None to wait for other trials (``ordered``: those numbered below it that are still live)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}``: what recreates this pruner (stored with the study)."""

    def reset(self) -> None:
        """Forget every report seen (the state a service starts from; it replays the stored reports)."""
        self.revision = 0

    def rungs(self, number: int) -> list[float] | None:
        """The resources at which trial ``number`` may be stopped, for display; None when not fixed."""
        return None

    def rung_stats(self) -> list[Rung]:
        """The rungs reached so far and how many trials stopped at each (the progress display)."""
        return []

    def check_concurrency(self, concurrency: int) -> None:
        """ConfigError when this pruner cannot work with at most ``concurrency`` trials running at once."""

    def final(self, resource: float) -> bool:
        """Whether a report at ``resource`` is a fully trained trial's (no verdict is needed)."""
        return self.max_resource is not None and at_least(resource, self.max_resource)

    def score(self, value: float) -> float:
        """``value`` oriented so that higher is better; a nan ranks below everything."""
        if math.isnan(value):
            return -math.inf
        return value if self.mode == "max" else -value

    def describe(self, value: float) -> str:
        """``metric value`` for a reason line."""
        return f"{self.metric} {value:.4g}"


def waiting_for_values(
    number: int, resource: float, history: History, peers: Iterable[int] | None = None
) -> bool:
    """Whether an ordered decision on trial ``number`` at ``resource`` must wait: a live trial below it
    (among ``peers`` when given) has not yet reported that far, and may still."""
    candidates = history.live_before(number) if peers is None else peers
    for m in candidates:
        if history.ended(m):
            continue
        reached = history.reached(m)
        if reached is None or not at_least(reached, resource):
            return True
    return False


def settled_at(m: int, resource: float, history: History) -> bool:
    """Whether trial ``m`` has said all it will ever say up to ``resource``: it was stopped, or it got
    its verdict at ``resource`` or beyond, or it ended before reaching it."""
    if history.stopped(m):
        return True
    decided = history.decided(m)
    if decided is not None and at_least(decided, resource):
        return True
    reached = history.reached(m)
    return history.ended(m) and (reached is None or not at_least(reached, resource))


# -- checks of options: one line naming the pruner, the option and what it must be --------------------
def check_number(pruner: str, option: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"pruner {pruner}: {option} must be a number, got {value!r}")
    return float(value)


def check_positive(pruner: str, option: str, value: Any) -> float:
    result = check_number(pruner, option, value)
    if result <= 0:
        raise ConfigError(f"pruner {pruner}: {option} must be > 0, got {value!r}")
    return result


def check_count(pruner: str, option: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"pruner {pruner}: {option} must be an integer >= {minimum}, got {value!r}")
    return value


def format_resource(resource: float) -> str:
    """3.0 -> "3", 0.5 -> "0.5" (resources are epochs by default)."""
    return f"{resource:g}"
