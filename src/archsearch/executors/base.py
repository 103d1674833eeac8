"""The Executor interface and the function every executor runs for one trial."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ArchsearchError, ChildReportError, ObjectiveError, TrialPruned
from archsearch.reporting import Answer, Channel, ReportSink, reporting_to

log = logging.getLogger(__name__)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this worker process die when its parent does (Linux prctl PR_SET_PDEATHSIG).

    A search driver killed with kill -9 would otherwise leave idle pool workers behind for ever.
    ``parent_pid`` is the driver's pid: a worker whose parent is already another process (the driver
    died before prctl took effect, and the worker was adopted by init or a subreaper) exits at once.
    Elsewhere this is a no-op: the workers then exit when they next find their queue closed.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        log.debug("prctl unavailable; workers may outlive a killed driver", exc_info=True)
        return
    if os.getppid() == 1 or (parent_pid is not None and os.getppid() != parent_pid):
        os._exit(1)


def become_worker(parent_pid: int | None = None) -> None:
    """The first thing a worker process does, before any slow import: die with its driver, and leave
    Ctrl-C to the driver.

    A terminal sends SIGINT to the whole foreground process group, workers included. The driver stops
    its workers itself; a worker's own KeyboardInterrupt would only print a traceback and break the
    pool. Workers start with SIGINT held back (see ``interrupts_held``); ignoring it here also drops one
    that arrived while the worker was starting, and only then is it let through again.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent(parent_pid)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while this thread starts worker processes; deliver them after.

    Two things are held. The signal mask, which started workers inherit: a worker then cannot be
    interrupted while Python imports its modules, before ``become_worker`` runs. And, in the main thread,
    the Python handlers: a stop signal (which the kernel may hand to any other thread) would otherwise
    raise in the middle of a worker's start, after it was spawned but before it was sent what it needs,
    and that worker would print an ``EOFError`` traceback. A signal that arrives meanwhile is raised again
    when the block ends, so the stop happens then.
    """
    pending: list[int] = []
    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            if callable(signal.getsignal(signum)):
                handlers[signum] = signal.signal(signum, lambda received, _frame: pending.append(received))
    mask = (
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        if hasattr(signal, "pthread_sigmask")
        else None
    )
    try:
        yield
    finally:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for held, handler in handlers.items():
            signal.signal(held, handler)
        for received in dict.fromkeys(pending):
            signal.raise_signal(received)  # now handled by the handler that was in place before the block


def run_trial(
    evaluator: Evaluator,
    space: SearchSpace,
    arch: Architecture,
    seed: int,
    channel: Channel | None = None,
) -> Result:
    """Evaluate one architecture, its intermediate reports going to ``channel`` (None: nowhere).

    An exception escaping the evaluator becomes a failed trial, except an ObjectiveError (the user's
    objective is wrong: every trial would fail), which stops the study, and a ``TrialPruned`` (the pruner
    stopped the child and the evaluator let the exception through), which becomes a pruned Result with
    what the exception says. A malformed report (``ChildReportError``) fails the trial with its line.
    """
    start = time.perf_counter()
    try:
        with reporting_to(channel):
            return evaluator.evaluate(space, arch, seed)
    except ObjectiveError:
        raise
    except TrialPruned as exc:
        message = one_line(str(exc)) or "pruned"
        return Result(status="pruned", error=message, cost_s=time.perf_counter() - start)
    except ChildReportError as exc:
        return Result.failure(one_line(str(exc)), cost_s=time.perf_counter() - start)
    except Exception as exc:  # a failing child must never stop the search
        log.debug("evaluation raised", exc_info=True)
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return Result.failure(message, cost_s=time.perf_counter() - start)


def one_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, at most ``limit`` characters."""
    lines = text.splitlines()
    return lines[0][:limit] if lines else ""


def deliver(sink: ReportSink, step: int, resource: float, values: dict[str, float], answer: Answer) -> None:
    """Hand one report to ``sink`` (in the driver); a sink that raises is logged and answered "go on",
    so that a mistake in the driver's bookkeeping neither kills a listener thread nor leaves a worker
    waiting for ever. ``answer`` is called at most once whatever the sink does."""
    once = _Once(answer)
    try:
        sink.report(step, resource, values, once)
    except Exception:
        log.exception("the report sink raised on a report at step %s; the trial goes on", step)
        once(False)


class _Once:
    """An ``Answer`` that passes on only its first call (a sink must answer once; this makes sure)."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._lock = threading.Lock()
        self._given = False

    def __call__(self, stop: bool) -> None:
        with self._lock:
            if self._given:
                return
            self._given = True
        self._answer(bool(stop))


class DirectChannel:
    """A channel into a sink of this process: each report is handed to ``sink`` in the reporting thread,
    which then waits for the answer when ``sink.decides`` (the inline executor; threads).

    ``decides`` tells the evaluator whether its reports may stop it (the tabular evaluator only queries
    its second fidelity for a study with a pruner).
    """

    def __init__(self, sink: ReportSink) -> None:
        self.sink = sink
        self.decides = bool(sink.decides)

    def report(self, step: int, resource: float, values: dict[str, float]) -> bool:
        if not self.decides:
            deliver(self.sink, step, resource, values, lambda _stop: None)
            return False
        answered = threading.Event()
        box: list[bool] = []

        def answer(stop: bool) -> None:
            box.append(stop)
            answered.set()

        deliver(self.sink, step, resource, values, answer)
        answered.wait()
        return box[0]


class WorkerDiedError(ArchsearchError):
    """The process (or Ray worker, actor or node) running a trial died: an infrastructure failure.

    Executors set it as the exception of a trial's future; the study then resubmits the trial with the
    same seed, up to ``max_retries`` times. A child network's own failure (NaN loss, an exception in the
    evaluator) is a normal failed Result instead, and is never retried.
    """


@dataclass
class Activity:
    """Who runs what now, for the progress display.

    ``workers`` maps each worker (process, Ray actor) the executor knows to the trials it runs now, an
    empty list when it is idle; ``unplaced`` lists trials in flight whose worker is not known (queued, or
    running where the engine does not say where); ``queued`` is how many of all in-flight trials wait
    for a free worker (an estimate from the worker count where the engine hides its queue).
    """

    workers: dict[str, list[int]] = field(default_factory=dict)
    unplaced: list[int] = field(default_factory=list)
    queued: int = 0

    @property
    def busy(self) -> int:
        return sum(1 for trials in self.workers.values() if trials)


class Executor(ABC):
    """Runs trials somewhere and hands back futures of their Results."""

    workers: int = 1

    def activity(self, inflight: Mapping[int, Future[Result]]) -> Activity:
        """Which worker runs each in-flight trial (``inflight``: trial number -> the future ``submit`` gave).

        A future whose trial has started on a known worker carries its name in a ``worker`` attribute;
        this default knows no workers and counts the trials beyond ``workers`` as queued.
        """
        placed: dict[str, list[int]] = {}
        unplaced: list[int] = []
        for number in sorted(inflight):
            worker = getattr(inflight[number], "worker", None)
            if worker is None:
                unplaced.append(number)
            else:
                placed.setdefault(worker, []).append(number)
        return Activity(placed, unplaced, max(0, len(inflight) - self.workers))

    @abstractmethod
    def submit(
        self,
        evaluator: Evaluator,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        reports: ReportSink | None = None,
    ) -> Future[Result]:
        """Start evaluating ``arch``.

        The future never raises for a failing child (that is a failed Result); it raises
        ``WorkerDiedError`` only when the worker running the trial died.

        ``reports``: where the trial's intermediate reports go (``archsearch.reporting``), called in some
        thread of this process, in the order the trial made them; when ``reports.decides`` the trial waits
        for each answer and stops (status "pruned") when told to. Every report a trial made has reached
        ``reports`` before its future resolves. None: its reports go nowhere.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Release workers; unfinished trials are abandoned (the store keeps them as running)."""
