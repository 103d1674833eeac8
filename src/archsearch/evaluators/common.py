"""Helpers shared by the evaluators that train child networks (images and language models)."""

from __future__ import annotations

import io
import logging
import math
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import torch

from archsearch import reporting
from archsearch.core import Architecture, Evaluator, Result, SearchSpace, Status
from archsearch.errors import (
    ArchsearchError,
    ChildReportError,
    ConfigError,
    ObjectiveError,
    TrialPruned,
    TrialTimeoutError,
)

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 300

# On CUDA, reading a loss back stalls the queue; check losses for NaN in groups of this many batches.
CUDA_LOSS_CHECK_EVERY = 32


class NonFiniteLossError(ArchsearchError):
    """A training loss became nan or inf; ``batch`` is the 1-based batch index within its epoch."""

    def __init__(self, batch: int, value: float) -> None:
        super().__init__(f"loss became {value} at batch {batch}")
        self.batch = batch
        self.value = value


def sum_finite(pending: list[torch.Tensor], first_batch: int) -> float:
    """Sum of the pending batch losses (one device sync); NonFiniteLossError at the first nan or inf."""
    values = [pending[0].item()] if len(pending) == 1 else torch.stack(pending).tolist()
    for offset, value in enumerate(values):
        if not math.isfinite(value):
            raise NonFiniteLossError(first_batch + offset + 1, value)
    pending.clear()
    return math.fsum(values)


class LossTally:
    """Mean training loss of an epoch, read back from the device once every ``check_every`` batches.

    ``add`` raises NonFiniteLossError naming the exact 1-based batch whose loss is nan or inf, and
    TrialTimeoutError once ``time.perf_counter()`` has passed ``deadline`` after a batch.
    """

    def __init__(self, check_every: int = 1, deadline: float | None = None) -> None:
        self.check_every = check_every
        self.deadline = deadline
        self.pending: list[torch.Tensor] = []
        self.total = 0.0
        self.batches = 0

    def add(self, loss: torch.Tensor) -> None:
        self.pending.append(loss.detach())
        self.batches += 1
        if len(self.pending) >= self.check_every:
            self._flush()
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self._flush()
            raise TrialTimeoutError(f"time limit reached after batch {self.batches}")

    def mean(self) -> float:
        self._flush()
        return self.total / max(self.batches, 1)

    def _flush(self) -> None:
        if self.pending:
            self.total += sum_finite(self.pending, self.batches - len(self.pending))


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 3] + "..."


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc)
    )


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device; use auto, cpu or cuda[:N]") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} asked for CUDA, which this machine lacks; use device='auto' or 'cpu'"
        )
    return resolved


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_int(value: Any) -> bool:
    return is_int(value) and value >= 1


def check_settings(
    checks: Iterable[tuple[bool, str]], *, timeout_s: Any, threads: Any, device: Any
) -> torch.device:
    """Validate a training evaluator's settings: ``checks`` (condition, message) in order, then the
    settings every such evaluator shares (``timeout_s``, ``threads``, ``device``); ConfigError with the
    first failing message. Returns the resolved device (ConfigError for CUDA on a machine without it)."""
    shared = [
        (
            timeout_s is None or (is_number(timeout_s) and timeout_s > 0),
            f"timeout_s must be a positive number of seconds or None, got {timeout_s!r}",
        ),
        (is_positive_int(threads), f"threads must be a positive integer, got {threads!r}"),
        (isinstance(device, str), f"device must be a string (auto, cpu, cuda[:N]), got {device!r}"),
    ]
    for ok, message in [*checks, *shared]:
        if not ok:
            raise ConfigError(message)
    return resolve_device(device)


def state_dict_bytes(model: torch.nn.Module) -> bytes:
    """``model``'s state_dict on the CPU as ``torch.save`` bytes: the trained weights a study keeps
    (``Result.weights``), loadable with ``torch.load(..., weights_only=True)``."""
    state = model.state_dict()
    on_cpu = OrderedDict((key, value.detach().cpu()) for key, value in state.items())
    on_cpu._metadata = getattr(state, "_metadata", None)  # type: ignore[attr-defined]  # module versions
    buffer = io.BytesIO()
    torch.save(on_cpu, buffer)
    return buffer.getvalue()


def cuda_settings(device: torch.device, amp: bool = False) -> tuple[torch.amp.GradScaler | None, int]:
    """The gradient scaler of float16 autocast (on CUDA with ``amp`` only, else None) and after how many
    batches losses are read back and checked (``CUDA_LOSS_CHECK_EVERY`` on CUDA, every batch elsewhere)."""
    cuda = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if amp and cuda else None
    return scaler, CUDA_LOSS_CHECK_EVERY if cuda else 1


class ChildFailedError(ArchsearchError):
    """A child network failed in a way its evaluator detected (e.g. exploding perplexity); the message
    becomes the failed trial's reason."""


@dataclass
class TrialProgress:
    """What a trial reached so far, kept for the partial result of a failed, timed-out or pruned trial."""

    metric: str  # the per-epoch validation series whose length counts the completed epochs
    epoch: int = 0
    params: int | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)
    weights: bytes | None = None  # the trained state_dict (``state_dict_bytes``), kept by a successful trial
    reports_per_epoch: int = 1  # points of ``metric``'s series per epoch
    resource: float | None = None  # the resource of the last report (``report``); None: none made
    waited_s: float = 0.0  # seconds spent in reports, waiting for the pruner: not the child's cost

    def __post_init__(self) -> None:
        self.curve.setdefault(self.metric, [])
        self.curve.setdefault("train_loss", [])

    @property
    def epochs_done(self) -> float:
        """The epochs completed, from the points of ``metric`` (fractional with several per epoch)."""
        return len(self.curve[self.metric]) / self.reports_per_epoch

    def report(self, step: int, values: dict[str, float], resource: float, epochs: int) -> float:
        """Report what the child reached (``archsearch.reporting.report``) and raise TrialPruned when the
        study's pruner stops it there (``resource`` epochs of ``epochs``). Returns the seconds the report
        took (waiting for the pruner, which may wait for other trials): a time limit is extended by them
        and ``waited_s`` counts them, which the trial's cost leaves out."""
        self.resource = resource
        started = time.perf_counter()
        stop = reporting.report(step, values, resource)
        waited = time.perf_counter() - started
        self.waited_s += waited
        if stop:
            raise TrialPruned(f"pruned after {resource:g} of {epochs} epochs")
        return waited

    def partial(self, message: str, status: Status, started: float) -> Result:
        """The Result of a trial that ended early: ``epochs`` completed and ``params``; a pruned trial
        also gets the last value of each series of its curve (what the pruner saw: rewards score it on
        them) and ``resource``, the resource of its last report."""
        metrics: dict[str, float] = {"epochs": float(self.epochs_done)}
        if self.params is not None:
            metrics["params"] = float(self.params)
        if status == "pruned":
            for name, value in reporting.last_values(self.curve).items():
                metrics.setdefault(name, value)
            metrics["resource"] = float(self.epochs_done if self.resource is None else self.resource)
        return Result(
            metrics=metrics,
            cost_s=self.cost_since(started),
            status=status,
            error=message,
            curve=self.curve,
        )

    def cost_since(self, started: float) -> float:
        """Seconds since ``started`` (``time.perf_counter()``) less those spent waiting for the pruner."""
        return max(0.0, time.perf_counter() - started - self.waited_s)


def guarded_trial(
    train: Callable[[TrialProgress], dict[str, float]],
    progress: TrialProgress,
    *,
    epochs: int,
    timeout_s: float | None,
    threads: int,
    device: torch.device,
    describe: str,
) -> Result:
    """Run ``train`` with ``threads`` torch threads and turn every way a child can fail into a Result.

    A timeout becomes status "timeout", a NaN loss, a ``ChildFailedError``, a malformed report, out of
    memory or any other exception a failed Result with a one-line reason; ``TrialPruned`` (the study's
    pruner stopped the child) status "pruned"; the partial curve is kept. Never raises (but for an
    ObjectiveError: the user's code is wrong). ``cost_s`` leaves out the time spent waiting for the
    pruner's answers (``TrialProgress.waited_s``).
    """
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        metrics = train(progress)
        return Result(
            metrics=metrics,
            cost_s=progress.cost_since(started),
            curve=progress.curve,
            weights=progress.weights,
        )
    except TrialTimeoutError:
        message = (
            f"exceeded the time limit of {timeout_s:g} s in epoch {progress.epoch} of {epochs} "
            f"({progress.epochs_done:g} epochs completed)"
        )
        return progress.partial(message, "timeout", started)
    except NonFiniteLossError as exc:
        message = f"loss became {exc.value} at epoch {progress.epoch}, batch {exc.batch}"
        return progress.partial(message, "failed", started)
    except TrialPruned as exc:
        return progress.partial(one_line(str(exc)) or "pruned", "pruned", started)
    except (ChildFailedError, ChildReportError) as exc:
        return progress.partial(one_line(str(exc)), "failed", started)
    except ObjectiveError:  # the user's code is wrong, not this child: stop the study
        raise
    except Exception as exc:
        log.debug("trial of %s failed", describe, exc_info=True)
        if is_out_of_memory(exc):
            message = one_line(f"out of memory: {exc}")
        else:
            message = one_line(f"{type(exc).__name__}: {exc}")
        return progress.partial(message, "failed", started)
    finally:
        torch.set_num_threads(previous_threads)
        if device.type == "cuda":
            torch.cuda.empty_cache()


SplitT = TypeVar("SplitT")


class ChildTrainingEvaluator(Evaluator, Generic[SplitT]):
    """What the evaluators that train a child per trial share: data split once per instance and device
    (``split``; dropped when pickled to a worker, which loads its own), and ``evaluate`` running
    ``_train`` under ``guarded_trial`` with the per-epoch validation series ``metric``.

    Subclasses set ``metric``, ``epochs``, ``timeout_s``, ``threads``, ``device`` and ``_splits = {}``
    in ``__init__`` and define ``split`` and ``_train``; ``check_space`` may reject a space up front.

    Their training reports after each epoch's validation (``TrialProgress.report``: step = the 1-based
    epoch, resource = the epochs trained, values = the validation series and ``train_loss``); a study's
    pruner may stop it there: the trial ends "pruned" with its curve so far, the last value of each series
    (plus ``reached_metrics``) and ``resource`` in its metrics. ``max_resource`` is ``epochs``.
    """

    metric: ClassVar[str]
    epochs: int
    timeout_s: float | None
    threads: int
    device: str
    _splits: dict[str, SplitT]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_splits"] = {}  # tensors stay in the process that loaded them
        return state

    @abstractmethod
    def split(self, device: torch.device | str = "cpu") -> SplitT:
        """The data of a trial on ``device``, made once per instance and device."""

    @abstractmethod
    def _train(
        self,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        device: torch.device,
        data: SplitT,
        progress: TrialProgress,
    ) -> dict[str, float]:
        """Train ``arch`` from ``seed``, recording the curve in ``progress``; returns the metrics."""

    @property
    def max_resource(self) -> float:
        """The resource of a fully trained child, in the unit of its reports: ``epochs``."""
        return float(self.epochs)

    def reached_metrics(self, curve: dict[str, list[float]]) -> dict[str, float]:
        """Metrics a pruned trial gets from its ``curve`` beyond the last value of each series (the
        summaries a full trial reports, e.g. ``best_val_acc``); none by default."""
        return {}

    def prepare(self) -> None:
        self.split()

    def trial_deadline(self) -> float | None:
        """When a trial that starts now must end (``time.perf_counter()`` seconds; None without
        ``timeout_s``): the limit covers building and training the child, not the data loading shared by
        all trials."""
        return None if self.timeout_s is None else time.perf_counter() + self.timeout_s

    def check_space(self, space: SearchSpace) -> None:
        """Raise ConfigError if no trial in ``space`` can work (every trial would fail)."""

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        self.check_space(space)
        device = resolve_device(self.device)
        data = self.split(device)
        result = guarded_trial(
            lambda progress: self._train(space, arch, seed, device, data, progress),
            TrialProgress(self.metric, reports_per_epoch=getattr(self, "reports_per_epoch", 1)),
            epochs=self.epochs,
            timeout_s=self.timeout_s,
            threads=self.threads,
            device=device,
            describe=f"{arch.to_json()} (seed {seed})",
        )
        if result.status == "pruned":
            result.metrics.update(self.reached_metrics(result.curve))
        return result
