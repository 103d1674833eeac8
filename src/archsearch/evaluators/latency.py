"""Measured CPU inference latency of a child network, beside its trained accuracy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from archsearch.core import Architecture, Result, SearchSpace
from archsearch.errors import ConfigError
from archsearch.evaluators.common import is_int
from archsearch.evaluators.training import TrainingEvaluator

# MnasNet measures single-image latency (batch 1) on a phone's CPU; warm-up runs let allocators and
# caches settle before timing; the median of the repeats resists a busy machine's outliers.
DEFAULT_BATCH_SIZE = 1
DEFAULT_WARMUP = 3
DEFAULT_REPEATS = 15


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of one input through the convolutions and linear layers
    of ``model`` (what NAS papers call FLOPs), counted with forward hooks on a zero input."""
    total = 0

    def count(module: nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * module.in_channels * kernel // module.groups
        elif isinstance(module, nn.Linear):
            total += output[0].numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def measure_latency_ms(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = DEFAULT_BATCH_SIZE,
    warmup: int = DEFAULT_WARMUP,
    repeats: int = DEFAULT_REPEATS,
    threads: int = 1,
) -> float:
    """Median wall time (ms) of one forward pass of a fixed all-zero batch of ``batch_size`` inputs of
    ``input_shape`` through ``model`` in eval mode on the CPU with ``threads`` threads, after ``warmup``
    untimed passes."""
    model = model.to("cpu").eval()
    batch = torch.zeros(batch_size, *input_shape)
    times = []
    with _torch_threads(threads), torch.inference_mode():
        for _ in range(warmup):
            model(batch)
        for _ in range(repeats):
            start = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


class LatencyEvaluator(TrainingEvaluator):
    """``TrainingEvaluator`` plus the child's measured CPU inference latency as ``latency_ms`` and its
    multiply-accumulates per image as ``flops_m`` (millions, ``count_macs``).

    After training (every option of ``TrainingEvaluator`` applies), the child is built again from the
    trial seed and timed by ``measure_latency_ms``: batch ``latency_batch_size`` (1, as MnasNet), after
    ``latency_warmup`` untimed passes, the median of ``latency_repeats`` timed ones, on ``threads`` CPU
    threads. Latency does not depend on the weights, so the fresh copy times the same network; a child
    that failed to train gets no latency (a pruned one does). The measurement's wall time is added to ``cost_s``.
    Measured latency carries the noise of the machine it runs on: run latency searches on an idle one.
    """

    def __init__(
        self,
        latency_batch_size: int = DEFAULT_BATCH_SIZE,
        latency_warmup: int = DEFAULT_WARMUP,
        latency_repeats: int = DEFAULT_REPEATS,
        **training: Any,
    ) -> None:
        for name, value, least in (
            ("latency_batch_size", latency_batch_size, 1),
            ("latency_warmup", latency_warmup, 0),
            ("latency_repeats", latency_repeats, 1),
        ):
            if not (is_int(value) and value >= least):
                raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
        super().__init__(**training)
        self.latency_batch_size = latency_batch_size
        self.latency_warmup = latency_warmup
        self.latency_repeats = latency_repeats

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        result = super().evaluate(space, arch, seed)
        if result.failed:  # a pruned child is timed too: the MnasNet rewards score what it reached
            return result
        started = time.perf_counter()
        input_shape, num_classes = self.data_shape()
        torch.manual_seed(seed)
        model = space.build(arch, input_shape, num_classes)
        result.metrics["flops_m"] = count_macs(model, input_shape) / 1e6
        result.metrics["latency_ms"] = measure_latency_ms(
            model,
            input_shape,
            self.latency_batch_size,
            self.latency_warmup,
            self.latency_repeats,
            self.threads,
        )
        result.cost_s += time.perf_counter() - started
        return result
