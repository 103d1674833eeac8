"""Live progress of a study in the terminal (rich): trials done, best so far, in flight, throughput, ETA."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from archsearch.store.sqlite import TrialRecord


class RichProgress:
    """A StudyListener that draws a progress bar and logs one line per finished trial.

    The status line shows the trials running on workers, those queued in the executor (submitted
    beyond the worker count), and throughput: children finished per hour of wall-clock in this run.
    """

    def __init__(self, total: int, done: int = 0, best: float | None = None, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.best = best
        self.in_flight = 0
        self.workers: int | None = None
        self.finished_here = 0
        self._clock = time.monotonic
        self._started = self._clock()
        self._progress = Progress(
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task("search", total=total, completed=done, status=self._status())

    @property
    def running(self) -> int:
        """Trials executing on a worker now."""
        return self.in_flight if self.workers is None else min(self.in_flight, self.workers)

    @property
    def queued(self) -> int:
        """Trials submitted but waiting for a free worker."""
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
        if record.status == "ok":
            detail = " ".join(
                f"{k} {metrics[k]:.4f}"
                for k in ("val_acc", "test_acc", "val_ppl", "test_ppl")
                if isinstance(metrics.get(k), float)
            )
            detail += f" reward {record.reward:.4f}"
        else:
            detail = f"[red]{record.status}: {escape(record.error or '')}[/red]"
        self._progress.console.print(
            f"trial {record.number:>4}  {escape(record.arch_str)}  {detail}  ({record.cost_s or 0.0:.1f}s)",
            markup=True,
            highlight=False,
        )
        self._progress.update(self._task, advance=1, status=self._status())
