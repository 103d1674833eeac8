"""Live progress of a study in the terminal (rich): trials done (ok, pruned, failed), best so far, in
flight, throughput, ETA, and the pruner's rungs when the study has one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from archsearch.core import TrialRecord
from archsearch.executors.base import Activity
from archsearch.frames import reached, resource_text
from archsearch.report.columns import format_metric, metric_columns

log = logging.getLogger(__name__)

MAX_WORKER_LINES = 8  # a cluster's hundreds of workers are summed up beyond this
TRIAL_METRICS = 3
"""Metrics on each finished trial's line (the study's own: ``first`` ones first)."""
MAX_RUNGS = 8
"""The most rungs the rungs line shows (Hyperband's brackets have several each)."""
FAILED = ("failed", "timeout")


def _trials(numbers: list[int]) -> str:
    shown = " ".join(f"#{n}" for n in numbers[:6])
    return shown + (f" +{len(numbers) - 6}" if len(numbers) > 6 else "")


def activity_lines(activity: Activity, limit: int = MAX_WORKER_LINES) -> list[str]:
    """One line per worker (busy first, then idle ones), saying which trials it runs; then the queue."""
    busy = [(name, trials) for name, trials in activity.workers.items() if trials]
    idle = [name for name, trials in activity.workers.items() if not trials]
    lines = [f"{name}: busy {_trials(trials)}" for name, trials in busy[:limit]]
    if len(busy) > limit:
        lines.append(f"... {len(busy) - limit} more busy workers")
    room = max(0, limit - len(lines))
    lines += [f"{name}: idle" for name in idle[:room]]
    if len(idle) > room:
        lines.append(f"... {len(idle) - room} more idle workers")
    if activity.unplaced:
        lines.append(f"in flight, worker not known: {_trials(activity.unplaced)}")
    return lines


def _count(value: Any) -> int:
    """A rung's count, given as a number or as the trials themselves."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        return len(value)
    except TypeError:
        return 0


def rung_text(rung: Any) -> str:
    """One rung of a pruner (``PruningService.rungs``: its ``resource``, the trials that ``reached`` it and
    those ``stopped`` there, numbers or collections; a ``bracket`` when there are several) as
    "3: 6 reached, 4 stopped"."""
    if isinstance(rung, Mapping):
        get = rung.get
    elif isinstance(rung, tuple) and not hasattr(rung, "_fields"):
        fields = dict(zip(("resource", "reached", "stopped"), rung, strict=False))
        get = fields.get
    else:

        def get(name: str, default: Any = None) -> Any:
            return getattr(rung, name, default)

    text = f"{resource_text(get('resource'))}: {_count(get('reached', 0))} reached"
    stopped = _count(get("stopped", 0))
    return text + (f", {stopped} stopped" if stopped else "")


def rungs_line(rungs: Sequence[Any], limit: int = MAX_RUNGS) -> str:
    """The rungs as one line, "rungs (resource: trials that reached it, stopped there): 1: 9 reached, 6
    stopped | 3: 3 reached"; brackets (Hyperband) each prefixed "bracket 1"."""
    brackets = {getattr(r, "bracket", None) for r in rungs}
    parts = []
    for rung in rungs[:limit]:
        bracket = getattr(rung, "bracket", None)
        prefix = f"bracket {bracket} " if len(brackets) > 1 and bracket is not None else ""
        parts.append(prefix + rung_text(rung))
    more = f" | ... {len(rungs) - limit} more" if len(rungs) > limit else ""
    return "rungs (resource: trials that reached it, stopped there): " + " | ".join(parts) + more


class _ProgressWithWorkers(Progress):
    """A rich Progress that draws, under its bar, what each worker is doing (refreshed live)."""

    def __init__(self, *columns: object, lines: Callable[[], list[str]], **kwargs: object) -> None:
        self._lines = lines  # before Progress.__init__, which renders once
        super().__init__(*columns, **kwargs)  # type: ignore[arg-type]

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        for line in self._lines():
            yield f"  [dim]{escape(line)}[/dim]"


class RichProgress:
    """A StudyListener that draws a progress bar and logs one line per finished trial.

    The status line shows the trials running on workers, those queued in the executor (submitted
    beyond the worker count), and throughput: children finished per hour of wall-clock in this run. Once
    the study hands it its ``activity`` (``watch``), lines under the bar show each worker (process, Ray
    actor) as busy with its trials or idle, and the queue depth comes from the executor.

    The status line counts the finished trials by outcome: ok (trained to the end), pruned (stopped early
    by the study's pruner) and failed (failed or timed out); a pruned trial's line says where it stopped
    and what it reached. When the study has a pruner it hands this display its rungs (``rungs``): a line
    under the bar then shows, per rung, the trials that reached it and those stopped there.

    ``total`` is the study's trial budget, ``done`` the trials it finished before, ``best`` its best reward
    so far (of a trial trained to the end), ``console`` where to draw (stderr by default), ``metrics`` the
    metrics each trial's line shows first (``report.columns.leading_metrics`` of the study: its reward's
    and objectives' metrics) and ``counts`` the finished trials by status before this run.
    """

    def __init__(
        self,
        total: int,
        done: int = 0,
        best: float | None = None,
        console: Console | None = None,
        metrics: Sequence[str] = (),
        counts: Mapping[str, int] | None = None,
    ):
        self.console = console or Console(stderr=True)
        self.metrics = tuple(metrics)
        self.best = best
        self.counts: dict[str, int] = {s: n for s, n in (counts or {}).items() if s != "running"}
        self._rungs: Callable[[], Sequence[Any]] | None = None
        self.in_flight = 0
        self.workers: int | None = None
        self.finished_here = 0
        self._clock = time.monotonic
        self._started = self._clock()
        self._activity: Callable[[], Activity] | None = None
        self._progress = _ProgressWithWorkers(
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            lines=self.lines,
        )
        self._task = self._progress.add_task("search", total=total, completed=done, status=self._status())

    def watch(self, activity: Callable[[], Activity]) -> None:
        """Called by the study with a function that says which worker runs which trial."""
        self._activity = activity

    def rungs(self, get: Callable[[], Sequence[Any]]) -> None:
        """Called by a study with a pruner with a function returning its rungs (``PruningService.rungs``)."""
        self._rungs = get

    def worker_lines(self) -> list[str]:
        return [] if self._activity is None else activity_lines(self._activity())

    def rung_lines(self) -> list[str]:
        """The rungs line (none before the first trial reached a rung, or without a pruner)."""
        if self._rungs is None:
            return []
        try:
            rungs = list(self._rungs())
        except Exception as exc:  # the display draws on; the study itself reports the pruner's problems
            log.debug("the pruner's rungs could not be read: %s", exc)
            return []
        return [rungs_line(rungs)] if rungs else []

    def lines(self) -> list[str]:
        """What is drawn under the bar: the rungs, then each worker."""
        return self.rung_lines() + self.worker_lines()

    def counts_text(self) -> str:
        """The finished trials by outcome: "5 ok, 3 pruned, 1 failed" (outcomes with none left out, but
        ok)."""
        ok = self.counts.get("ok", 0)
        pruned = self.counts.get("pruned", 0)
        failed = sum(self.counts.get(s, 0) for s in FAILED)
        return ", ".join(
            [f"{ok} ok", *([f"{pruned} pruned"] if pruned else []), *([f"{failed} failed"] if failed else [])]
        )

    @property
    def running(self) -> int:
        """Trials executing on a worker now."""
        return self.in_flight - self.queued

    @property
    def queued(self) -> int:
        """Trials submitted but waiting for a free worker (the executor's count once it is watched)."""
        if self._activity is not None:
            return min(self.in_flight, self._activity().queued)
        return 0 if self.workers is None else max(0, self.in_flight - self.workers)

    def children_per_hour(self) -> float | None:
        """Trials finished in this run per hour of its wall-clock time (None before the first)."""
        elapsed = self._clock() - self._started
        if not self.finished_here or elapsed <= 0:
            return None
        return 3600.0 * self.finished_here / elapsed

    def _status(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        running = f"{self.running}" if self.workers is None else f"{self.running}/{self.workers}"
        rate = self.children_per_hour()
        throughput = "-" if rate is None else f"{rate:,.0f}"
        return (
            f"{self.counts_text()} | best reward {best} | running {running} | queued {self.queued} | "
            f"{throughput} children/h"
        )

    def executor_ready(self, workers: int, max_concurrent: int) -> None:
        self.workers = workers
        self._progress.update(self._task, status=self._status())

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def trial_started(self, record: TrialRecord) -> None:
        self.in_flight += 1
        self._progress.update(self._task, status=self._status())

    def trial_finished(self, record: TrialRecord) -> None:
        self.in_flight -= 1
        self.finished_here += 1
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if (
            record.status == "ok"
            and record.reward is not None
            and (self.best is None or record.reward > self.best)
        ):
            self.best = record.reward
        metrics = record.metrics
        # a Text, not markup: architectures, metric names and errors are printed as written ("archsearch[ray]")
        line = Text(f"trial {record.number:>4}  {record.arch_str}  ")
        if record.status == "ok":
            names = metric_columns([metrics], self.metrics, limit=TRIAL_METRICS)
            shown = [(k, metrics[k]) for k in names if k != "reward"] + [("reward", record.reward)]
            line.append(" ".join(f"{k} {format_metric(k, v)}" for k, v in shown))
        elif record.status == "pruned":
            names = metric_columns([metrics], self.metrics, limit=TRIAL_METRICS)
            shown = [(k, metrics[k]) for k in names if k not in ("reward", "resource")]
            shown.append(("reward", record.reward))
            reached_text = " ".join(f"{k} {format_metric(k, v)}" for k, v in shown)
            line.append(f"pruned at {resource_text(reached(record))}: ", style="yellow")
            line.append(reached_text + (f" ({record.error})" if record.error else ""), style="yellow")
        else:
            line.append(f"{record.status}: {record.error or ''}", style="red")
        line.append(f"  ({record.cost_s or 0.0:.1f}s)")
        console = self._progress.console
        # a log or a pipe keeps each trial on one line
        console.print(line, highlight=False, soft_wrap=not console.is_terminal)
        self._progress.update(self._task, advance=1, status=self._status())
