"""Seeded searches spread over worker processes: the pool both NAS-Bench-201 benchmarks use."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from archsearch.config import MAX_SEED, MAX_WORKERS
from archsearch.errors import ConfigError
from archsearch.executors.base import become_worker, interrupts_held

Job = TypeVar("Job")
Trace = TypeVar("Trace")


def init_worker(driver_pid: int | None = None) -> None:
    """Workers die with the driver, leave Ctrl-C to it, and keep to one torch thread each."""
    become_worker(driver_pid)  # before the slow torch import
    import torch

    torch.set_num_threads(1)


MAX_BUDGET_S = 10_000_000.0
"""The largest simulated budget per search: 80 times NATS-Bench's longest (120,000 s); more never ends."""


def check_runs(runs: int, seed: int, workers: int | None, budget: float | None) -> None:
    """Refuse benchmark options that cannot work, before any search starts: runs r use seeds seed + r."""
    if runs < 1:
        raise ConfigError(f"--runs must be at least 1, got {runs}")
    if seed < 0:
        raise ConfigError(f"--seed must not be negative, got {seed}")
    if seed + runs - 1 > MAX_SEED:
        raise ConfigError(f"--seed {seed} with --runs {runs} reaches seeds above the largest, {MAX_SEED:,}")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(
            f"--workers must be in 1..{MAX_WORKERS} (leave it out for all cores), got {workers}"
        )
    if budget is not None and not 0 < budget <= MAX_BUDGET_S:  # NaN fails too
        raise ConfigError(f"--budget must be in (0, {MAX_BUDGET_S:,.0f}] simulated seconds, got {budget}")


def map_searches(
    run: Callable[[Job], Trace],
    jobs: Sequence[Job],
    workers: int | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> list[Trace]:
    """``run`` (a module-level function) on every job, in order, over ``workers`` spawned processes
    (default: all cores; 1 runs them here); ``progress(done, total)`` after each."""
    workers = workers or os.cpu_count() or 1
    results: list[Trace] = []
    if workers == 1:
        for job in jobs:
            results.append(run(job))
            if progress:
                progress(len(results), len(jobs))
        return results
    with interrupts_held():  # workers start with SIGINT held back: Ctrl-C stops them through the driver
        pool = multiprocessing.get_context("spawn").Pool(workers, init_worker, (os.getpid(),))
    with pool:
        for result in pool.imap(run, jobs, chunksize=max(1, len(jobs) // (workers * 8))):
            results.append(result)
            if progress:
                progress(len(results), len(jobs))
    return results
