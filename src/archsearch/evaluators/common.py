"""Helpers shared by the evaluators that train child networks (images and language models)."""

from __future__ import annotations

import math
from typing import Any

import torch

from archsearch.errors import ArchsearchError, ConfigError

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
