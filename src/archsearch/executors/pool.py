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
    deliver,
    interrupts_held,
    run_trial,
)
from archsearch.reporting import ReportSink

_events: Any = None  # in a worker: the queue on which it says that it is up, which trial it starts, reports
_slot: int | None = None  # in a worker: its slot, whose pipe brings the answers to its reports
_replies: Any = None  # in a worker: that slot's pipe (the reading end)


def _init_worker(threads: int, events: Any, driver_pid: int, slots: Any = None, replies: Any = None) -> None:
    become_worker(driver_pid)  # before importing torch, which takes seconds (tens on a loaded machine)
    import torch

    global _events, _slot, _replies
    torch.set_num_threads(threads)
    _events = events
    if slots is not None and replies is not None:
        # as many slots as workers, and a pool never starts more workers than it was made with
        _slot = slots.get()
        _replies = replies[_slot]
    events.put(("up", os.getpid(), None))


class _PoolChannel:
    """A worker's channel: reports go to the driver on the events queue; when the trial's sink decides,
    the worker waits for each answer on its slot's reply pipe (answers carry the trial's token and the
    report's sequence number, so nothing stale is ever taken for an answer)."""

    def __init__(self, token: int, decides: bool) -> None:
        self.token = token
        self.decides = decides and _slot is not None
        self.sent = 0

    def report(self, step: int, resource: float, values: dict[str, float]) -> bool:
        self.sent += 1
        slot = _slot if self.decides else None
        _events.put(("report", os.getpid(), self.token, self.sent, step, resource, values, slot))
        return self._answer(self.sent) if self.decides else False

    def flush(self) -> None:
        """Wait until the driver has handed every report of this trial to its sink (the result, on the
        pool's own queue, could otherwise overtake the last reports)."""
        if self.sent and _slot is not None:
            self.sent += 1
            _events.put(("flush", os.getpid(), self.token, self.sent, _slot))
            self._answer(self.sent)

    def _answer(self, sequence: int) -> bool:
        while True:
            token, number, stop = _replies.recv()
            if token == self.token and number == sequence:
                return bool(stop)


def _pool_trial(
    token: int,
    evaluator: Evaluator,
    space: SearchSpace,
    arch: Architecture,
    seed: int,
    decides: bool | None = None,
) -> Result:
    """One trial in a worker; ``decides`` None: no reports wanted, else whether they wait for answers."""
    if _events is not None:
        _events.put(("start", os.getpid(), token))
    channel = None if decides is None or _events is None else _PoolChannel(token, decides)
    try:
        return run_trial(evaluator, space, arch, seed, channel)
    finally:
        if channel is not None:
            channel.flush()


class _Workers:
    """The driver's view of one pool's workers, fed by their messages on a queue (read by a thread).

    It also carries the trials' reports: a report goes to the sink its trial was submitted with, and the
    answer back on the pipe of the worker's slot (each worker takes one slot number when it starts).
    """

    def __init__(self, context: Any, workers: int) -> None:
        self.events = context.Queue()
        # the slots and the answers use no semaphores beyond the slots' two locks: every named semaphore
        # is one more that an interrupted driver could leave behind (the resource tracker's warning)
        self.slots = context.SimpleQueue()
        for slot in range(workers):
            self.slots.put(slot)
        pipes = [context.Pipe(duplex=False) for _ in range(workers)]
        self.replies = [reader for reader, _ in pipes]  # sent to the workers: slot k reads the k-th
        self._writers = [writer for _, writer in pipes]
        self._write_locks = [threading.Lock() for _ in range(workers)]  # answers come from any thread
        self.pids: set[int] = set()
        self.futures: dict[int, Future[Result]] = {}  # token -> future of a submitted trial
        self.sinks: dict[int, ReportSink] = {}  # token -> where its reports go
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._listen, name="pool-activity", daemon=True).start()

    def _listen(self) -> None:
        while not self.closed.is_set():
            try:
                message = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            except (OSError, ValueError, EOFError):  # the queue was closed
                return
            kind, pid, token = message[:3]
            if kind == "report":
                self._report(token, *message[3:])
                continue
            if kind == "flush":
                sequence, slot = message[3:]
                self._reply(slot, token, sequence, False)
                continue
            with self.lock:
                self.pids.add(pid)
                future = self.futures.get(token) if kind == "start" else None
                if future is not None and not future.done():
                    future.worker = f"pid {pid}"  # type: ignore[attr-defined]

    def _report(
        self,
        token: int,
        sequence: int,
        step: int,
        resource: float,
        values: dict[str, float],
        slot: int | None,
    ) -> None:
        with self.lock:
            sink = self.sinks.get(token)
            future = self.futures.get(token)

        def answer(stop: bool) -> None:
            if slot is not None:
                self._reply(slot, token, sequence, stop)

        if sink is None or future is None or future.done():  # nobody listens any more: go on
            answer(False)
            return
        deliver(sink, step, resource, values, answer)

    def _reply(self, slot: int, token: int, sequence: int, stop: bool) -> None:
        with self._write_locks[slot], contextlib.suppress(OSError, ValueError, AssertionError):
            self._writers[slot].send((token, sequence, stop))  # fails only when this pool is gone

    def close(self) -> None:
        self.closed.set()


class PoolExecutor(Executor):
    """A ``ProcessPoolExecutor`` of spawned workers (fork is unsafe once torch has started threads).

    A worker that dies (killed, segfault) breaks the whole pool: every trial then in the pool gets
    ``WorkerDiedError`` (the pool cannot tell which trial killed its worker, so the study's retry count
    is charged to each of them), the pool is rebuilt at the next submit and the search goes on.
    Each worker reports on a queue when it starts a trial, so ``activity`` says which process runs what.
    A trial's intermediate reports travel on the same queue to a driver thread, which hands them to the
    trial's sink; the answers come back on a pipe per worker.
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.threads_per_worker = threads_per_worker
        self._tokens = itertools.count()
        self._context = multiprocessing.get_context("spawn")
        self._pool, self._watch = self._new_pool()

    def _new_pool(self) -> tuple[ProcessPoolExecutor, _Workers]:
        # a fresh queue per pool: a worker killed while writing may leave the old one's lock held
        watch = _Workers(self._context, self.workers)
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.threads_per_worker, watch.events, os.getpid(), watch.slots, watch.replies),
        )
        return pool, watch

    def submit(
        self,
        evaluator: Evaluator,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        reports: ReportSink | None = None,
    ) -> Future[Result]:
        outer: Future[Result] = Future()
        token = next(self._tokens)
        decides = None if reports is None else bool(reports.decides)

        def start() -> tuple[Future[Result], _Workers]:
            watch = self._watch
            with watch.lock:  # before the worker can report
                watch.futures[token] = outer
                if reports is not None:
                    watch.sinks[token] = reports
            with interrupts_held():  # submit starts the workers
                return self._pool.submit(_pool_trial, token, evaluator, space, arch, seed, decides), watch

        try:
            inner, watch = start()
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._watch.close()
            self._pool, self._watch = self._new_pool()
            inner, watch = start()

        def relay(done: Future[Result]) -> None:
            with watch.lock:
                watch.futures.pop(token, None)
                watch.sinks.pop(token, None)
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
