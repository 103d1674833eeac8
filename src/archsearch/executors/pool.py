"""Local process pool: the default executor, one single-threaded child network per core."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ObjectiveError
from archsearch.executors.base import (
    Activity,
    Executor,
    WorkerDiedError,
    become_worker,
    interrupts_held,
    run_trial,
)

_events: Any = None  # in a worker: the queue on which it says that it is up and which trial it starts


def _init_worker(threads: int, events: Any, driver_pid: int) -> None:
    become_worker(driver_pid)  # before importing torch, which takes seconds (tens on a loaded machine)
    import torch

    global _events
    torch.set_num_threads(threads)
    _events = events
    events.put(("up", os.getpid(), None))


def _pool_trial(
    token: int, evaluator: Evaluator, space: SearchSpace, arch: Architecture, seed: int
) -> Result:
    if _events is not None:
        _events.put(("start", os.getpid(), token))
    return run_trial(evaluator, space, arch, seed)


class _Workers:
    """The driver's view of one pool's workers, fed by their messages on a queue (read by a thread)."""

    def __init__(self, context: Any) -> None:
        self.events = context.Queue()
        self.pids: set[int] = set()
        self.futures: dict[int, Future[Result]] = {}  # token -> future of a submitted trial
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._listen, name="pool-activity", daemon=True).start()

    def _listen(self) -> None:
        while not self.closed.is_set():
            try:
                kind, pid, token = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            except (OSError, ValueError, EOFError):  # the queue was closed
                return
            with self.lock:
                self.pids.add(pid)
                future = self.futures.get(token) if kind == "start" else None
                if future is not None and not future.done():
                    future.worker = f"pid {pid}"  # type: ignore[attr-defined]

    def close(self) -> None:
        self.closed.set()


class PoolExecutor(Executor):
    """A ``ProcessPoolExecutor`` of spawned workers (fork is unsafe once torch has started threads).

    A worker that dies (killed, segfault) breaks the whole pool: every trial then in the pool gets
    ``WorkerDiedError`` (the pool cannot tell which trial killed its worker, so the study's retry count
    is charged to each of them), the pool is rebuilt at the next submit and the search goes on.
    Each worker reports on a queue when it starts a trial, so ``activity`` says which process runs what.
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.threads_per_worker = threads_per_worker
        self._tokens = itertools.count()
        self._context = multiprocessing.get_context("spawn")
        self._pool, self._watch = self._new_pool()

    def _new_pool(self) -> tuple[ProcessPoolExecutor, _Workers]:
        # a fresh queue per pool: a worker killed while writing may leave the old one's lock held
        watch = _Workers(self._context)
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.threads_per_worker, watch.events, os.getpid()),
        )
        return pool, watch

    def submit(
        self, evaluator: Evaluator, space: SearchSpace, arch: Architecture, seed: int
    ) -> Future[Result]:
        outer: Future[Result] = Future()
        token = next(self._tokens)
        try:
            with interrupts_held():  # submit starts the workers
                inner = self._pool.submit(_pool_trial, token, evaluator, space, arch, seed)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._watch.close()
            self._pool, self._watch = self._new_pool()
            with interrupts_held():
                inner = self._pool.submit(_pool_trial, token, evaluator, space, arch, seed)
        watch = self._watch
        with watch.lock:
            watch.futures[token] = outer

        def relay(done: Future[Result]) -> None:
            with watch.lock:
                watch.futures.pop(token, None)
            try:
                outer.set_result(done.result())
            except BrokenProcessPool as exc:
                outer.set_exception(WorkerDiedError(f"worker process died: {exc}"))
            except ObjectiveError as exc:  # the user's objective is wrong: the study stops with it
                outer.set_exception(exc)
            except Exception as exc:  # e.g. an unpicklable result
                outer.set_result(Result.failure(f"{type(exc).__name__}: {exc}"))

        inner.add_done_callback(relay)
        return outer

    def activity(self, inflight: Mapping[int, Future[Result]]) -> Activity:
        found = super().activity(inflight)
        with self._watch.lock:
            pids = sorted(self._watch.pids)
        workers = {f"pid {pid}": found.workers.get(f"pid {pid}", []) for pid in pids}
        workers.update(found.workers)  # a worker of the previous (broken) pool still finishing
        return Activity(workers, found.unplaced, len(found.unplaced))

    def shutdown(self) -> None:
        """Cancel the queued trials and kill the workers now.

        The trials they run are abandoned: the store keeps them as running, and a resume runs them again
        with the same seeds. Waiting for them instead kept an interrupted search (and the interpreter's
        exit, which joins the pool) alive for as long as its slowest child trained.
        """
        self._watch.close()
        _kill_pool(self._pool)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor names its worker processes only in a private attribute (Python 3.14 adds
    # kill_workers); they are taken before shutdown, which forgets them
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):  # already gone
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.join(timeout=5)
    pool.shutdown(wait=True)  # the pool's manager thread ends once it has seen its workers die
