"""Stopping a run on Ctrl-C or SIGTERM: both become an exception in the driver's main thread.

The exception unwinds through every ``finally`` (executors kill their workers, Ray shuts down, the store
closes), so the process ends as a normal exit: no orphan worker, no leaked semaphore, the database
resumable. The command line then prints one line and exits with 128 + the signal's number.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived: SIGINT (Ctrl-C) or SIGTERM (kill, a batch scheduler); ``signum`` says which.

    A subclass of KeyboardInterrupt, so that code which already stops on Ctrl-C stops on SIGTERM too.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process a signal ended: 130 SIGINT, 143 SIGTERM."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def resume_hint(exc: BaseException, command: str) -> str:
    """The one line printed when a run stops on a signal: which signal, and the command to continue."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    return f"interrupted by {signal.Signals(signum).name}; continue with: {command}"


@dataclass
class StopRequest:
    """What ``stop_on_signals`` received: the number of the first stop signal, None while none came."""

    signum: int | None = None
    reported: bool = False  # the stop was told to the user (the resume line)


@contextmanager
def stop_on_signals(grace_s: float = 30.0) -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM raise ``Interrupted`` in the main thread.

    Only the first signal raises. Those that follow while the run winds down (a second Ctrl-C, the
    SIGTERM of a scheduler that also sends SIGINT) are ignored for ``grace_s`` seconds, so that they
    cannot break the cleanup with a traceback; one after that ends the process at once. A SIGTERM among
    them still becomes the ``StopRequest``'s signal (SIGINT and SIGTERM that arrive together are handled
    in signal-number order, SIGINT first, however they came). A signal that
    this process was started ignoring (``nohup``, a background job) stays ignored. Outside the main
    thread, where Python cannot handle signals, it runs unchanged; inside another such block it shares
    that block's handlers and its ``StopRequest``.
    """
    for signum in STOP_SIGNALS:
        outer = getattr(signal.getsignal(signum), "stop_request", None)
        if outer is not None:
            yield outer
            return
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    first: list[float] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if not first:
            first.append(time.monotonic())
            request.signum = signum
            raise Interrupted(signum)
        if signum == signal.SIGTERM:  # Python runs a pending SIGINT's handler first: SIGTERM is the request
            request.signum = signum
        if time.monotonic() - first[0] > grace_s:
            os._exit(128 + signum)

    handle.stop_request = request  # type: ignore[attr-defined]
    previous = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handle)
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def resumable_run(console: Console, resume_command: str) -> Iterator[None]:
    """Run a resumable command's run: a stop signal ends it with one line on ``console`` naming the signal
    and ``resume_command``, and exit code 128 + the signal (``typer.Exit``), never a traceback."""
    import typer

    with stop_on_signals() as request:
        try:
            yield
        except KeyboardInterrupt as exc:
            stop = exc if request.signum is None else Interrupted(request.signum)
            console.print(resume_hint(stop, resume_command), style="yellow", markup=False, highlight=False)
            request.reported = True
            raise typer.Exit(exit_code(stop)) from None
