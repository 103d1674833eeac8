"""The live progress display: per-worker activity, queue depth and children per hour."""

from __future__ import annotations

from rich.console import Console

from archsearch.core import TrialRecord
from archsearch.executors.base import Activity
from archsearch.report.progress import RichProgress, activity_lines


def _record(number: int) -> TrialRecord:
    return TrialRecord(number, None, str(number), number, "running", ask_event=number, started_at=0.0)


def test_activity_lines_show_busy_workers_with_their_trials_then_idle_ones_then_unplaced_trials():
    activity = Activity({"pid 11": [3], "pid 12": [], "replica 0": [4, 5]}, unplaced=[6], queued=1)
    assert activity.busy == 2
    assert activity_lines(activity) == [
        "pid 11: busy #3",
        "replica 0: busy #4 #5",
        "pid 12: idle",
        "in flight, worker not known: #6",
    ]


def test_activity_lines_sum_up_a_large_cluster():
    workers = {f"replica {r}": ([r] if r % 2 else []) for r in range(100)}
    lines = activity_lines(Activity(workers), limit=4)
    assert lines == [
        "replica 1: busy #1",
        "replica 3: busy #3",
        "replica 5: busy #5",
        "replica 7: busy #7",
        "... 46 more busy workers",
        "... 50 more idle workers",
    ]
    long = activity_lines(Activity({"replica 0": list(range(10))}))
    assert long == ["replica 0: busy #0 #1 #2 #3 #4 #5 +4"]


def test_a_watched_progress_takes_the_queue_from_the_executor_and_draws_a_line_per_worker():
    console = Console(record=True, width=120, force_terminal=False)
    progress = RichProgress(10, console=console)
    progress.executor_ready(workers=2, max_concurrent=4)
    for number in range(4):
        progress.trial_started(_record(number))
    assert (progress.running, progress.queued) == (2, 2)  # estimated from the worker count
    activity = Activity({"pid 7": [0], "pid 8": [1, 2]}, unplaced=[3], queued=1)
    progress.watch(lambda: activity)
    assert (progress.running, progress.queued) == (3, 1)
    assert "running 3/2 | queued 1" in progress._status()
    console.print(*progress._progress.get_renderables())
    text = console.export_text()
    assert "pid 7: busy #0" in text and "pid 8: busy #1 #2" in text
    assert "worker not known: #3" in text
