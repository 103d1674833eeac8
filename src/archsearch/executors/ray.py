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
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ConfigError, ObjectiveError
from archsearch.executors.base import Activity, Executor, WorkerDiedError, run_trial

log = logging.getLogger(__name__)

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


def trial_task(
    evaluator: Evaluator,
    space: SearchSpace,
    arch: Architecture,
    seed: int,
    threads: int,
    board: Any = None,
    token: int | None = None,
) -> Result:
    """One trial as a Ray task: ``run_trial`` on ``threads`` torch threads (also the parameter server's
    children); ``board`` and ``token``, when given, tell the activity board where it started."""
    import torch

    if board is not None:  # say where this trial runs (fire and forget)
        board.started.remote(token, _worker_label())
    torch.set_num_threads(threads)
    return run_trial(evaluator, space, arch, seed)


class _Board:
    """A tiny actor that trial tasks tell where they started; the driver collects it for the progress."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def started(self, token: int, worker: str) -> None:
        self.events.append((token, worker))

    def take(self) -> list[tuple[int, str]]:
        events, self.events = self.events, []
        return events


class RayExecutor(Executor):
    """Runs each trial as a Ray task with ``num_cpus_per_trial`` CPUs and ``num_gpus_per_trial`` GPUs.

    Without ``address`` a local Ray is started, bound to 127.0.0.1 only, with its state under a short
    directory in the system temp dir (``temp_dir`` overrides it), which also holds its auth token;
    ``address="auto"`` or ``"host:port"``
    joins a running cluster. An already initialised Ray session is reused and left running.
    Ray's own task retries are off (``max_retries=0``): the study retries trials whose worker died.
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

    def submit(
        self, evaluator: Evaluator, space: SearchSpace, arch: Architecture, seed: int
    ) -> Future[Result]:
        outer: Future[Result] = Future()
        token = next(self._tokens)
        inner = self._task.remote(evaluator, space, arch, seed, self._threads, self._board, token).future()
        with self._lock:
            self._futures[token] = outer

        def relay(done: Future[Result]) -> None:
            with self._lock:
                self._futures.pop(token, None)
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
        if self._board is not None and not self._owns_session:
            try:
                self._ray.kill(self._board)
            except Exception:  # the cluster is gone already: nothing left to release
                log.debug("could not kill the activity board", exc_info=True)
        self._board = None
        if self._owns_session:
            self._ray.shutdown()
        if self._set_token_path:
            os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        if self._own_temp_dir is not None:
            shutil.rmtree(self._own_temp_dir, ignore_errors=True)
