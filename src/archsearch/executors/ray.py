"""Ray executor: trials as Ray tasks on a local Ray or on a cluster (``--ray-address auto|host:port``)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ConfigError, ObjectiveError
from archsearch.executors.base import Activity, Executor, WorkerDiedError, deliver, run_trial
from archsearch.reporting import ReportSink

log = logging.getLogger(__name__)

POLL_S = 0.1
"""How often the driver collects reports from the mailbox actor, and a waiting task looks for its answer."""

# Ray's failures of the machinery rather than of the child network: the study retries these
_INFRASTRUCTURE_ERRORS = (
    "WorkerCrashedError",
    "RayActorError",
    "ActorDiedError",
    "NodeDiedError",
    "LocalRayletDiedError",
    "ObjectLostError",
    "OwnerDiedError",
    "TaskUnschedulableError",
)


def failure_of(exc: BaseException) -> WorkerDiedError | Result:
    """What a Ray error means for a trial: its worker died (retry it) or the child failed (a failed Result)."""
    message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if any(cls.__name__ in _INFRASTRUCTURE_ERRORS for cls in type(exc).__mro__):
        return WorkerDiedError(message)
    return Result.failure(message)


def _import_ray(loopback_only: bool) -> Any:
    # Ray resolves 127.0.0.1 to the machine's reachable address, and its servers then listen on every
    # interface, unless it is told this is no cluster; the flag is read when ray is first imported.
    if loopback_only:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        from ray._private import ray_constants
    except ImportError:
        raise ConfigError(
            "the ray executor needs Ray: pip install archsearch[ray] (or choose --executor pool)"
        ) from None
    if loopback_only:
        ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before we set the flag
    return ray


# Ray keeps the first auth token it reads for the life of the process, so every local Ray this process
# starts gets the same token (written into each session's own temp dir); otherwise a second session fails.
_PROCESS_TOKEN = secrets.token_hex(32)


def _token_in(directory: str) -> bool:
    """Give a new local Ray its auth token in ``directory`` rather than in ~/.ray/auth_token.

    Returns whether it set RAY_AUTH_TOKEN_PATH (False when the user already chose a token).
    """
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return False
    path = os.path.join(directory, "auth_token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(_PROCESS_TOKEN)
    os.environ["RAY_AUTH_TOKEN_PATH"] = path  # Ray reads it here and its processes inherit it
    return True


def _restore_handlers(handlers: Mapping[signal.Signals, Any]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread handles signals (and Ray then installs none either)
    for signum, handler in handlers.items():
        if handler is not None:  # None: a handler not set from Python, nothing to put back
            signal.signal(signum, handler)


def _worker_label() -> str:
    import ray

    ip = ray.util.get_node_ip_address()
    return f"pid {os.getpid()}" if ip in ("127.0.0.1", "localhost") else f"{ip} pid {os.getpid()}"


class _MailboxChannel:
    """A Ray task's channel: reports are posted to the executor's mailbox actor; when the trial's sink
    decides, the task polls the mailbox for each answer (every ``POLL_S`` seconds)."""

    def __init__(self, mailbox: Any, token: int, decides: bool) -> None:
        self.mailbox = mailbox
        self.token = token
        self.decides = decides
        self.sent = 0

    def report(self, step: int, resource: float, values: dict[str, float]) -> bool:
        self.sent += 1
        self.mailbox.post.remote(self.token, self.sent, step, resource, values, self.decides)
        return self._answer(self.sent) if self.decides else False

    def flush(self) -> None:
        """Wait until the driver has handed every report of this trial to its sink."""
        if self.sent:
            self.sent += 1
            self.mailbox.post.remote(self.token, self.sent, None, 0.0, {}, True)
            self._answer(self.sent)

    def _answer(self, sequence: int) -> bool:
        import ray

        while True:
            stop = ray.get(self.mailbox.poll.remote(self.token, sequence))
            if stop is not None:
                return bool(stop)
            time.sleep(POLL_S)


def trial_task(
    evaluator: Evaluator,
    space: SearchSpace,
    arch: Architecture,
    seed: int,
    threads: int,
    board: Any = None,
    token: int | None = None,
    mailbox: Any = None,
    decides: bool = False,
) -> Result:
    """One trial as a Ray task: ``run_trial`` on ``threads`` torch threads (also the parameter server's
    children); ``board`` and ``token``, when given, tell the activity board where it started;
    ``mailbox`` (with ``token``), when given, carries its reports, which wait for answers if ``decides``."""
    import torch

    if board is not None:  # say where this trial runs (fire and forget)
        board.started.remote(token, _worker_label())
    torch.set_num_threads(threads)
    channel = None if mailbox is None or token is None else _MailboxChannel(mailbox, token, decides)
    try:
        return run_trial(evaluator, space, arch, seed, channel)
    finally:
        if channel is not None:
            channel.flush()


class _Board:
    """A tiny actor that trial tasks tell where they started; the driver collects it for the progress."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def started(self, token: int, worker: str) -> None:
        self.events.append((token, worker))

    def take(self) -> list[tuple[int, str]]:
        events, self.events = self.events, []
        return events


class _Mailbox:
    """A tiny actor between trial tasks and the driver: tasks post reports and poll for answers, the
    driver takes the reports and posts the answers (a report of step None asks only for an answer once
    the driver has handed every earlier report of its trial to the sink)."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int, int | None, float, dict[str, float], bool]] = []
        self.answers: dict[tuple[int, int], bool] = {}

    def post(
        self,
        token: int,
        sequence: int,
        step: int | None,
        resource: float,
        values: dict[str, float],
        wait: bool,
    ) -> None:
        self.reports.append((token, sequence, step, resource, values, wait))

    def take(self) -> list[tuple[int, int, int | None, float, dict[str, float], bool]]:
        reports, self.reports = self.reports, []
        return reports

    def answer(self, token: int, sequence: int, stop: bool) -> None:
        self.answers[(token, sequence)] = stop

    def poll(self, token: int, sequence: int) -> bool | None:
        return self.answers.pop((token, sequence), None)


class RayExecutor(Executor):
    """Runs each trial as a Ray task with ``num_cpus_per_trial`` CPUs and ``num_gpus_per_trial`` GPUs.

    Without ``address`` a local Ray is started, bound to 127.0.0.1 only, with its state under a short
    directory in the system temp dir (``temp_dir`` overrides it), which also holds its auth token;
    ``address="auto"`` or ``"host:port"``
    joins a running cluster. An already initialised Ray session is reused and left running.
    Ray's own task retries are off (``max_retries=0``): the study retries trials whose worker died.
    Trials submitted with a report sink post their reports to a small actor (no CPU, started with the
    first such trial); a driver thread collects them every ``POLL_S`` seconds, hands them to the sinks
    and posts the answers, for which a trial whose sink decides waits.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus_per_trial: float = 1,
        num_gpus_per_trial: float = 0,
        temp_dir: str | None = None,
        num_cpus: int | None = None,
    ) -> None:
        ray = _import_ray(loopback_only=address is None)
        self._ray = ray
        self.ray = ray  # the module, for code that starts its own actors on this session
        self.num_cpus_per_trial = num_cpus_per_trial
        self.num_gpus_per_trial = num_gpus_per_trial
        self._owns_session = not ray.is_initialized()
        self._own_temp_dir: str | None = None
        self._set_token_path = False
        # ray.init installs a C-level SIGTERM handler that aborts the driver with a stack dump; the
        # driver's own handlers are put back, so SIGTERM stops the search as Ctrl-C does
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        if self._owns_session:
            try:
                if address is None:
                    # short: Ray's unix socket paths must fit in 107 bytes
                    if temp_dir is None:
                        temp_dir = self._own_temp_dir = tempfile.mkdtemp(prefix="ar-")
                    self._set_token_path = _token_in(temp_dir)
                    ray.init(
                        num_cpus=num_cpus or os.cpu_count() or 1,
                        include_dashboard=False,
                        _node_ip_address="127.0.0.1",
                        _temp_dir=temp_dir,
                        log_to_driver=False,
                        configure_logging=False,
                        # a stopped driver would wait 5 s (Ray's default) to send task events to a GCS that
                        # SIGTERM to the process group has already ended
                        _system_config={"task_events_shutdown_flush_timeout_ms": 500},
                    )
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            finally:  # also when ray.init fails or is interrupted
                _restore_handlers(handlers)
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, int(cpus // max(num_cpus_per_trial, 1e-9)))
        threads = max(1, int(num_cpus_per_trial))
        self._threads = threads
        self._task = ray.remote(trial_task).options(
            num_cpus=num_cpus_per_trial, num_gpus=num_gpus_per_trial, max_retries=0
        )
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._futures: dict[int, Future[Result]] = {}  # token -> future of a trial in flight
        self._board: Any = None  # started on the first call of ``activity`` (when progress is shown)
        self._known: set[str] = set()
        self._sinks: dict[int, ReportSink] = {}  # token -> where the reports of a trial in flight go
        self._mailbox: Any = None  # started with the first trial that has a sink
        self._mail_thread: threading.Thread | None = None
        self._closing = threading.Event()

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
        mailbox = None
        decides = False
        with self._lock:
            self._futures[token] = outer
            if reports is not None:
                mailbox = self._open_mailbox()
                decides = bool(reports.decides)
                self._sinks[token] = reports
        inner = self._task.remote(
            evaluator, space, arch, seed, self._threads, self._board, token, mailbox, decides
        ).future()

        def relay(done: Future[Result]) -> None:
            with self._lock:
                self._futures.pop(token, None)
                self._sinks.pop(token, None)
            try:
                outer.set_result(done.result())
            except Exception as exc:
                cause = getattr(exc, "cause", exc)  # Ray wraps what the task raised
                if isinstance(cause, ObjectiveError):  # the user's objective is wrong: stop the study
                    outer.set_exception(ObjectiveError(str(cause)))
                    return
                failure = failure_of(exc)
                if isinstance(failure, WorkerDiedError):
                    outer.set_exception(failure)
                else:
                    outer.set_result(failure)

        inner.add_done_callback(relay)
        return outer

    def _open_mailbox(self) -> Any:
        """The mailbox actor and the driver thread that serves it, started with the first trial that
        has a sink (a study without reports starts neither). Called with ``_lock`` held."""
        if self._mailbox is None:
            self._mailbox = self._ray.remote(num_cpus=0)(_Mailbox).remote()
            self._closing.clear()
            self._mail_thread = threading.Thread(
                target=self._serve_mailbox, args=(self._mailbox,), name="ray-reports", daemon=True
            )
            self._mail_thread.start()
        return self._mailbox

    def _serve_mailbox(self, mailbox: Any) -> None:
        """Every ``POLL_S`` seconds: take the posted reports, hand each to its trial's sink in order, post
        the answers (a report of a trial no longer in flight is answered "go on")."""
        while not self._closing.wait(POLL_S):
            try:
                posted = self._ray.get(mailbox.take.remote(), timeout=30)
            except Exception:  # the actor or the cluster is gone; the trials' futures say so
                log.debug("report mailbox did not answer", exc_info=True)
                continue
            for token, sequence, step, resource, values, wait in posted:

                def answer(
                    stop: bool, token: int = token, sequence: int = sequence, wait: bool = wait
                ) -> None:
                    if wait:
                        try:
                            mailbox.answer.remote(token, sequence, stop)
                        except Exception:  # shut down meanwhile
                            log.debug("could not post an answer", exc_info=True)

                with self._lock:
                    sink = self._sinks.get(token)
                    future = self._futures.get(token)
                if step is None or sink is None or future is None or future.done():
                    answer(False)  # a flush, or nobody listens any more
                else:
                    deliver(sink, step, resource, values, answer)

    def activity(self, inflight: Mapping[int, Future[Result]]) -> Activity:
        """Which Ray worker process runs each trial, from what the trial tasks told a small actor.

        The actor (no CPU) starts on the first call, so a study without a progress display has none;
        trials submitted before it existed show as unplaced until they finish.
        """
        if self._board is None:
            self._board = self._ray.remote(num_cpus=0)(_Board).remote()
        else:
            try:
                events = self._ray.get(self._board.take.remote(), timeout=2.0)
            except Exception:  # a slow or dead board only makes the display less precise
                log.debug("activity board did not answer", exc_info=True)
                events = []
            with self._lock:
                for token, worker in events:
                    self._known.add(worker)
                    future = self._futures.get(token)
                    if future is not None:
                        future.worker = worker  # type: ignore[attr-defined]
        found = super().activity(inflight)
        workers = {name: found.workers.get(name, []) for name in sorted(self._known)}
        workers.update(found.workers)
        return Activity(workers, found.unplaced, max(0, len(inflight) - self.workers))

    def shutdown(self) -> None:
        self._closing.set()
        if self._mail_thread is not None:
            self._mail_thread.join(timeout=5)
            self._mail_thread = None
        for actor in (self._board, self._mailbox):
            if actor is not None and not self._owns_session:
                try:
                    self._ray.kill(actor)
                except Exception:  # the cluster is gone already: nothing left to release
                    log.debug("could not kill an actor", exc_info=True)
        self._board = None
        self._mailbox = None
        if self._owns_session:
            self._ray.shutdown()
        if self._set_token_path:
            os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        if self._own_temp_dir is not None:
            shutil.rmtree(self._own_temp_dir, ignore_errors=True)
