"""Live progress of a study in the terminal (rich): trials done, best so far, elapsed time and ETA."""

from __future__ import annotations

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
    """A StudyListener that draws a progress bar and logs one line per finished trial."""

    def __init__(self, total: int, done: int = 0, best: float | None = None, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.best = best
        self.running = 0
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

    def _status(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        return f"best reward {best} | running {self.running}"

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def trial_started(self, record: TrialRecord) -> None:
        self.running += 1
        self._progress.update(self._task, status=self._status())

    def trial_finished(self, record: TrialRecord) -> None:
        self.running -= 1
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
