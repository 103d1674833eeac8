"""`archsearch bench nb201`: independent searches per strategy and dataset on the NAS-Bench-201 table.

The protocol of the NAS-Bench-201 and NATS-Bench papers (../shared/benchmarks/README.md): each query
returns the 12-epoch validation accuracy of one random training seed as the search signal and costs the
simulated 12-epoch training time; a search stops when the next query would exceed the time budget; the
reported number is the 200-epoch test accuracy (seed mean) of the architecture with the best search signal.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.bench.parallel import check_runs, map_searches
from archsearch.errors import ConfigError
from archsearch.evaluators.nb201_table import DATASETS, load_table, optimum
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.registry import construct
from archsearch.spaces.nb201 import NB201Space
from archsearch.study import trial_seed

# Protocols of the published results (../shared/benchmarks/README.md). NB201 (Dong & Yang 2020, Table 5):
# search on CIFAR-10 (the cifar10-valid run) for 12,000 simulated seconds, then report the found cell on
# every data set. NATS-Bench (Dong et al. 2021): search on each data set with 20,000 / 40,000 / 120,000 s
# (AutoDL-Projects exps/NATS-algos/run-all.sh).
PROTOCOLS = ("nb201", "nats")
NATS_BUDGETS = {"cifar10": 20_000.0, "cifar100": 40_000.0, "imagenet16": 120_000.0}
NB201_BUDGET = 12_000.0


@dataclass
class SearchTrace:
    """One search: the incumbent (best search signal so far) after every query, on the simulated clock."""

    strategy: str
    dataset: str  # the data set searched on
    seed: int
    budget_s: float
    times: list[float] = field(default_factory=list)
    incumbents: list[int] = field(default_factory=list)
    final_index: int = -1
    queries: int = 0
    wall_s: float = 0.0


def plan(protocol: str, datasets: Sequence[str], budget: float | None) -> list[tuple[str, float]]:
    """The (search data set, budget) pairs a protocol runs."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    for dataset in datasets:
        if dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if protocol == "nb201":
        return [("cifar10", budget or NB201_BUDGET)]
    return [(d, budget or NATS_BUDGETS[d]) for d in datasets]


def run_search(
    strategy: str, dataset: str, budget_s: float, seed: int, params: dict[str, Any] | None = None
) -> SearchTrace:
    """One seeded search with ``strategy`` until the next query would exceed the simulated budget."""
    started = time.perf_counter()
    space = NB201Space()
    evaluator = TabularEvaluator(dataset=dataset)
    search = construct("strategy", strategy, params or {}, space=space, seed=seed)
    trace = SearchTrace(strategy, dataset, seed, budget_s)
    clock, best_signal, best_index = 0.0, -np.inf, -1
    while True:
        arch = search.ask()
        result = evaluator.evaluate(space, arch, trial_seed(seed, trace.queries))
        if clock + result.cost_s > budget_s:
            break
        clock += result.cost_s
        trace.queries += 1
        signal = result.metrics["val_acc"]
        search.tell(arch, result, signal)  # reward = the search signal, as in the papers
        if signal > best_signal:
            best_signal, best_index = signal, space.index(arch)
        trace.times.append(clock)
        trace.incumbents.append(best_index)
    trace.final_index = best_index
    trace.wall_s = time.perf_counter() - started
    return trace


def _run_job(job: tuple[str, str, float, int]) -> SearchTrace:
    return run_search(*job)


def run_benchmark(
    strategies: Sequence[str],
    datasets: Sequence[str],
    runs: int,
    protocol: str = "nb201",
    budget: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: Any = None,
) -> list[SearchTrace]:
    """``runs`` independent searches per strategy (and search data set), spread over ``workers`` processes."""
    check_runs(runs, seed, workers, budget)
    searches = plan(protocol, datasets, budget)
    for name in strategies:
        construct("strategy", name, {}, space=NB201Space(), seed=0)  # unknown names fail before any work
    jobs = [
        (name, dataset, budget_s, seed + run)
        for dataset, budget_s in searches
        for name in strategies
        for run in range(runs)
    ]
    return map_searches(_run_job, jobs, workers, progress)


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


def traces_for(traces: Sequence[SearchTrace], dataset: str) -> list[SearchTrace]:
    """The searches reported on ``dataset``: those run on it, else (NB201 protocol) those run on CIFAR-10."""
    own = [t for t in traces if t.dataset == dataset]
    return own or [t for t in traces if t.dataset == "cifar10"]


def summarize(traces: Sequence[SearchTrace], datasets: Sequence[str]) -> list[SummaryRow]:
    """Mean and standard deviation of the found cells' 200-epoch accuracies (seed means, %) on each report
    data set; a search on CIFAR-10 is reported on every data set (NB201), one on data set d on d (NATS)."""
    rows = []
    for dataset in datasets:
        table = load_table(dataset)
        groups: dict[str, list[SearchTrace]] = {}
        for t in traces_for(traces, dataset):
            groups.setdefault(t.strategy, []).append(t)
        for strategy, group in groups.items():
            found = np.array([t.final_index for t in group])
            test, val = table.test_acc_200ep[found], table.val_acc_200ep[found]
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
    traces: Sequence[SearchTrace], dataset: str, grid: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per strategy: mean, 25th and 75th percentile over runs of the test regret on ``dataset``
    (optimum minus the incumbent's 200-epoch test accuracy, %) at the simulated times ``grid``."""
    table = load_table(dataset)
    best = optimum(dataset, "test_acc_200ep").value
    curves: dict[str, list[np.ndarray]] = {}
    for t in traces:
        position = np.searchsorted(np.asarray(t.times), grid, side="right") - 1
        incumbents = np.asarray(t.incumbents)[np.maximum(position, 0)]
        regret = np.where(position >= 0, best - table.test_acc_200ep[incumbents], np.nan)
        curves.setdefault(t.strategy, []).append(regret)
    out = {}
    for strategy, runs in curves.items():
        stacked = np.array(runs)
        out[strategy] = (stacked.mean(axis=0), *np.percentile(stacked, [25, 75], axis=0))
    return out


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


def plot_regret(traces: Sequence[SearchTrace], datasets: Sequence[str], path: Any, points: int = 200) -> None:
    """Anytime curves: mean test regret against simulated seconds (log-log), one line per strategy with
    the interquartile range shaded, one panel per report data set."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * len(datasets), 4.2), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets, strict=True):
        group = [t for t in traces_for(traces, dataset) if t.times]
        if not group:
            continue
        start = max(t.times[0] for t in group)  # from the time every run has an incumbent
        grid = np.geomspace(start, max(t.budget_s for t in group), points)
        for strategy, (mean, low, high) in regret_curves(group, dataset, grid).items():
            line = ax.plot(grid, np.maximum(mean, 1e-3), label=strategy)[0]
            ax.fill_between(
                grid, np.maximum(low, 1e-3), np.maximum(high, 1e-3), color=line.get_color(), alpha=0.15
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"simulated training time on {group[0].dataset} (s)")
        ax.set_ylabel("test regret (%)")
        runs = len(group) // max(1, len({t.strategy for t in group}))
        ax.set_title(f"NB201 {dataset}, {runs} runs per strategy", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
