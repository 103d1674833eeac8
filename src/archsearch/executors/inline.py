"""Inline executor: evaluates in the calling process, one trial at a time (debugging, tests)."""

from __future__ import annotations

from concurrent.futures import Future

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.executors.base import Executor, run_trial


class InlineExecutor(Executor):
    """Runs each trial to completion inside ``submit``."""

    workers = 1

    def submit(
        self, evaluator: Evaluator, space: SearchSpace, arch: Architecture, seed: int
    ) -> Future[Result]:
        future: Future[Result] = Future()
        future.set_result(run_trial(evaluator, space, arch, seed))
        return future

    def shutdown(self) -> None:
        """Nothing runs in the background."""
