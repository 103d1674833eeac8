"""Live progress of a study in the terminal (rich): trials done, best so far, in flight, throughput, ETA."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

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
from archsearch.report.columns import format_metric, metric_columns

MAX_WORKER_LINES = 8  # a cluster's hundreds of workers are summed up beyond this
TRIAL_METRICS = 3
"""Metrics on each finished trial's line (the study's own: ``first`` ones first)."""


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

    ``total`` is the study's trial budget, ``done`` the trials it finished before, ``best`` its best reward
    so far, ``console`` where to draw (stderr by default) and ``metrics`` the metrics each trial's line
    shows first (``report.columns.leading_metrics`` of the study: its reward's and objectives' metrics).
    """

    def __init__(
        self,
        total: int,
        done: int = 0,
        best: float | None = None,
        console: Console | None = None,
        metrics: Sequence[str] = (),
    ):
        self.console = console or Console(stderr=True)
        self.metrics = tuple(metrics)
        self.best = best
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
            lines=self.worker_lines,
        )
        self._task = self._progress.add_task("search", total=total, completed=done, status=self._status())

    def watch(self, activity: Callable[[], Activity]) -> None:
        """Called by the study with a function that says which worker runs which trial."""
        self._activity = activity

    def worker_lines(self) -> list[str]:
        return [] if self._activity is None else activity_lines(self._activity())

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
        return f"best reward {best} | running {running} | queued {self.queued} | {throughput} children/h"

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
        else:
            line.append(f"{record.status}: {record.error or ''}", style="red")
        line.append(f"  ({record.cost_s or 0.0:.1f}s)")
        console = self._progress.console
        # a log or a pipe keeps each trial on one line
        console.print(line, highlight=False, soft_wrap=not console.is_terminal)
        self._progress.update(self._task, advance=1, status=self._status())
