"""Local process pool: the default executor, one single-threaded child network per core."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from archsearch.evaluators.base import Evaluator, Result
from archsearch.executors.base import Executor, WorkerDiedError, die_with_parent, run_trial
from archsearch.spaces.base import Architecture, SearchSpace


def _init_worker(threads: int) -> None:
    import torch

    die_with_parent()
    torch.set_num_threads(threads)


class PoolExecutor(Executor):
    """A ``ProcessPoolExecutor`` of spawned workers (fork is unsafe once torch has started threads).

    A worker that dies (killed, segfault) breaks the whole pool: every trial then in the pool gets
    ``WorkerDiedError`` (the pool cannot tell which trial killed its worker, so the study's retry count
    is charged to each of them), the pool is rebuilt at the next submit and the search goes on.
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.threads_per_worker = threads_per_worker
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.threads_per_worker,),
        )

    def submit(
        self, evaluator: Evaluator, space: SearchSpace, arch: Architecture, seed: int
    ) -> Future[Result]:
        outer: Future[Result] = Future()
        try:
            inner = self._pool.submit(run_trial, evaluator, space, arch, seed)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            inner = self._pool.submit(run_trial, evaluator, space, arch, seed)

        def relay(done: Future[Result]) -> None:
            try:
                outer.set_result(done.result())
            except BrokenProcessPool as exc:
                outer.set_exception(WorkerDiedError(f"worker process died: {exc}"))
            except Exception as exc:  # e.g. an unpicklable result
                outer.set_result(Result.failure(f"{type(exc).__name__}: {exc}"))

        inner.add_done_callback(relay)
        return outer

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
