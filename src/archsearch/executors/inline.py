"""Inline executor: evaluates in the calling process, one trial at a time (debugging, tests)."""

from __future__ import annotations

from concurrent.futures import Future

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.executors.base import DirectChannel, Executor, run_trial
from archsearch.reporting import ReportSink


class InlineExecutor(Executor):
    """Runs each trial to completion inside ``submit``; its reports go to ``reports`` in this thread,
    which waits for each answer when the sink decides (a pruner must then decide on what it knows: no
    other trial runs meanwhile)."""

    workers = 1

    def submit(
        self,
        evaluator: Evaluator,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        reports: ReportSink | None = None,
    ) -> Future[Result]:
        future: Future[Result] = Future()
        channel = None if reports is None else DirectChannel(reports)
        future.set_result(run_trial(evaluator, space, arch, seed, channel))
        return future

    def shutdown(self) -> None:
        """Nothing runs in the background."""
