"""`archsearch bench nb201`: independent searches per strategy and dataset on the NAS-Bench-201 table.

The protocol of the NAS-Bench-201 and NATS-Bench papers (../shared/benchmarks/README.md): each query
returns the 12-epoch validation accuracy of one random training seed as the search signal and costs the
simulated 12-epoch training time; a search stops when the next query would exceed the time budget; the
reported number is the 200-epoch test accuracy (seed mean) of the architecture with the best search signal.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.evaluators.tabular import DATASETS, TabularEvaluator, load_table, optimum
from archsearch.registry import construct
from archsearch.spaces.nb201 import NB201Space
from archsearch.study import trial_seed

# Simulated time budgets in seconds: the NB201 paper's scripts use 12,000 s on every data set; NATS-Bench's
# topology-space runs use 20,000 / 40,000 / 120,000 s (AutoDL-Projects exps/NATS-algos/run-all.sh).
BUDGETS = {
    "nb201": {"cifar10": 12_000.0, "cifar100": 12_000.0, "imagenet16": 12_000.0},
    "nats": {"cifar10": 20_000.0, "cifar100": 40_000.0, "imagenet16": 120_000.0},
}


@dataclass
class SearchTrace:
    """One search: the incumbent after every query, on the simulated clock."""

    strategy: str
    dataset: str
    seed: int
    budget_s: float
    times: list[float] = field(default_factory=list)
    incumbent_test: list[float] = field(default_factory=list)
    final_index: int = -1
    final_val: float = float("nan")  # 200-epoch validation accuracy (seed mean) of the final architecture, %
    final_test: float = float("nan")  # 200-epoch test accuracy (seed mean), %: the reported number
    queries: int = 0
    wall_s: float = 0.0


def budget_for(budget: str | float, dataset: str) -> float:
    """A number of seconds, or the name of a published protocol ("nb201", "nats")."""
    if isinstance(budget, str) and budget in BUDGETS:
        return BUDGETS[budget][dataset]
    try:
        value = float(budget)
    except ValueError:
        raise ConfigError(f"budget must be seconds or one of {', '.join(BUDGETS)}, got {budget!r}") from None
    if value <= 0:
        raise ConfigError(f"budget must be positive, got {budget!r}")
    return value


def run_search(
    strategy: str, dataset: str, budget_s: float, seed: int, params: dict[str, Any] | None = None
) -> SearchTrace:
    """One seeded search with ``strategy`` until the simulated budget is spent."""
    started = time.perf_counter()
    space = NB201Space()
    evaluator = TabularEvaluator(dataset=dataset)
    search = construct("strategy", strategy, params or {}, space=space, seed=seed)
    trace = SearchTrace(strategy, dataset, seed, budget_s)
    clock, best_signal, best_index = 0.0, -np.inf, -1
    table = load_table(dataset)
    while True:
        arch = search.ask()
        result = evaluator.evaluate(space, arch, trial_seed(seed, trace.queries))
        if clock + result.cost_s > budget_s:
            break
        clock += result.cost_s
        trace.queries += 1
        signal = result.metrics["val_acc"]
        search.tell(arch, result, signal)
        if signal > best_signal:
            best_signal, best_index = signal, space.index(arch)
        trace.times.append(clock)
        trace.incumbent_test.append(float(table.test_acc_200ep[best_index]))
    trace.final_index = best_index
    if best_index >= 0:
        trace.final_val = float(table.val_acc_200ep[best_index])
        trace.final_test = float(table.test_acc_200ep[best_index])
    trace.wall_s = time.perf_counter() - started
    return trace


def _run_job(job: tuple[str, str, float, int]) -> SearchTrace:
    return run_search(*job)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_benchmark(
    strategies: Sequence[str],
    datasets: Sequence[str],
    runs: int,
    budget: str | float = "nb201",
    seed: int = 0,
    workers: int | None = None,
    progress: Any = None,
) -> list[SearchTrace]:
    """``runs`` independent searches per strategy and dataset, spread over ``workers`` processes."""
    for dataset in datasets:
        if dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    for name in strategies:
        construct("strategy", name, {}, space=NB201Space(), seed=0)  # unknown names fail before any work
    if runs < 1:
        raise ConfigError(f"runs must be at least 1, got {runs}")
    jobs = [
        (name, dataset, budget_for(budget, dataset), seed + run)
        for dataset in datasets
        for name in strategies
        for run in range(runs)
    ]
    workers = workers or os.cpu_count() or 1
    traces: list[SearchTrace] = []
    if workers == 1:
        for job in jobs:
            traces.append(_run_job(job))
            if progress:
                progress(len(traces), len(jobs))
        return traces
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        for trace in pool.imap(_run_job, jobs, chunksize=max(1, len(jobs) // (workers * 8))):
            traces.append(trace)
            if progress:
                progress(len(traces), len(jobs))
    return traces


@dataclass
class SummaryRow:
    dataset: str
    strategy: str
    runs: int
    test_mean: float
    test_std: float
    val_mean: float
    val_std: float
    queries_mean: float
    wall_ms_mean: float


def summarize(traces: Sequence[SearchTrace]) -> list[SummaryRow]:
    """Mean and standard deviation of the reported accuracies per dataset and strategy, in input order."""
    groups: dict[tuple[str, str], list[SearchTrace]] = {}
    for t in traces:
        groups.setdefault((t.dataset, t.strategy), []).append(t)
    rows = []
    for (dataset, strategy), group in groups.items():
        test = np.array([t.final_test for t in group])
        val = np.array([t.final_val for t in group])
        rows.append(
            SummaryRow(
                dataset,
                strategy,
                len(group),
                float(np.mean(test)),
                float(np.std(test)),
                float(np.mean(val)),
                float(np.std(val)),
                float(np.mean([t.queries for t in group])),
                float(np.mean([1000 * t.wall_s for t in group])),
            )
        )
    return rows


def optimum_row(dataset: str) -> dict[str, float]:
    """The best cell of the table (the "optimal" row of NB201's Table 5)."""
    return {
        "val": optimum(dataset, "val_acc_200ep").value,
        "test": optimum(dataset, "test_acc_200ep").value,
    }


def regret_curves(
    traces: Sequence[SearchTrace], grid: np.ndarray
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Mean and std over runs of the test regret (optimum - incumbent test accuracy) on a time grid."""
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    for t in traces:
        best = optimum(t.dataset, "test_acc_200ep").value
        times = np.asarray(t.times)
        values = np.asarray(t.incumbent_test)
        position = np.searchsorted(times, grid, side="right") - 1
        regret = np.where(position >= 0, best - values[np.maximum(position, 0)], np.nan)
        curves.setdefault((t.dataset, t.strategy), []).append(regret)
    return {k: (np.nanmean(v, axis=0), np.nanstd(v, axis=0)) for k, v in curves.items()}


def write_results(traces: Sequence[SearchTrace], rows: Sequence[SummaryRow], directory: Path) -> None:
    """``summary.csv`` (one row per dataset and strategy) and ``traces.json`` (every search)."""
    with open(directory / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])) if rows else ["dataset"])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
        for dataset in dict.fromkeys(r.dataset for r in rows):
            best = optimum_row(dataset)
            writer.writerow(
                {
                    "dataset": dataset,
                    "strategy": "optimal",
                    "test_mean": best["test"],
                    "val_mean": best["val"],
                }
            )
    (directory / "traces.json").write_text(json.dumps([asdict(t) for t in traces]))


def plot_regret(traces: Sequence[SearchTrace], path: Any, points: int = 200) -> None:
    """Anytime curves: mean test regret against simulated seconds (log scale), one line per strategy,
    shaded +- one standard deviation, one panel per dataset."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(t.dataset for t in traces))
    fig = Figure(figsize=(5.2 * len(datasets), 4.2), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets, strict=True):
        group = [t for t in traces if t.dataset == dataset and t.times]
        if not group:
            continue
        start = min(t.times[0] for t in group)
        grid = np.geomspace(start, max(t.budget_s for t in group), points)
        for (_, strategy), (mean, std) in regret_curves(group, grid).items():
            line = ax.plot(grid, mean, label=strategy)[0]
            ax.fill_between(
                grid, np.maximum(mean - std, 1e-3), mean + std, color=line.get_color(), alpha=0.15
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulated training time (s)")
        ax.set_ylabel("test regret (%)")
        ax.set_title(
            f"NAS-Bench-201 {dataset}, {len(group) // max(1, len({t.strategy for t in group}))} runs each"
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
