"""`archsearch bench nb201-mo`: multi-objective searches on NAS-Bench-201 with real device latencies.

Each search queries the table on the simulated clock of ``bench nb201`` (one noisy 12-epoch validation
accuracy per query, costing the simulated 12-epoch training time) and also sees the cell's latency on one
HELP device (``latency_ms``). After every query the found front is the set of queried cells that no other
queried cell dominates in what the search observed; its quality is the hypervolume of those cells'
noise-free values (12-epoch seed-mean validation accuracy, latency) divided by the hypervolume of the true
Pareto front of all 15,625 cells. The reference point is the true front's nadir pushed out by a tenth of
its range in each objective, so a ratio of 1 means the found front covers the true one.

Multi-objective strategies (those taking ``objectives``: nsga2, lemonade, optuna) get the objectives;
single-objective ones (random, evolution, reinforce, ppo, ...) maximise the soft MnasNet reward with
T = the device's median latency over the table.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from archsearch import front
from archsearch.bench.parallel import check_runs, map_searches
from archsearch.errors import ConfigError
from archsearch.evaluators.nb201_table import load_table
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.objectives import Objective, loss_vector, parse_objectives
from archsearch.pareto import hypervolume, pareto_mask
from archsearch.registry import accepts, construct, resolve
from archsearch.rewards import MnasNetReward
from archsearch.spaces.nb201 import NB201Space
from archsearch.study import trial_seed

DEFAULT_OBJECTIVES = ("val_acc:max", "latency_ms:min")
DEFAULT_BUDGET_S = 30_000.0  # about 270 queries of 12-epoch CIFAR-10 training (110 s each on average)
REFERENCE_MARGIN = 0.1
GRID_POINTS = 40
# Bench names that are a registered strategy with options. A search here makes about 270 queries, so
# NSGA-II runs with population 20 (about 13 generations) rather than NSGA-Net's 40 (about 6), and Optuna's
# NSGA-II (default 50) alike.
BENCH_POPULATION = 20
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "nsga2": ("nsga2", {"population_size": BENCH_POPULATION}),
    "optuna_nsga2": ("optuna", {"sampler": "nsgaii", "population_size": BENCH_POPULATION}),
    "optuna_tpe": ("optuna", {"sampler": "tpe"}),
}


def strategy_spec(name: str) -> tuple[str, dict[str, Any]]:
    """The registered strategy and options a bench name stands for (unknown names: ConfigError)."""
    registered, params = ALIASES.get(name, (name, {}))
    resolve("strategy", registered)
    return registered, dict(params)


@dataclass(frozen=True)
class TrueFront:
    """The Pareto front of all cells for some objectives, its reference point and hypervolume."""

    losses: np.ndarray  # (K, M) losses of the front's cells
    indices: np.ndarray  # their cell indices
    reference: np.ndarray
    hypervolume: float


def table_losses(evaluator: TabularEvaluator, objectives: Sequence[Objective]) -> np.ndarray:
    """The noise-free losses of every cell, shape (15625, M)."""
    losses = front.table_losses(evaluator, objectives)
    if losses is None:
        raise ConfigError(
            f"the NB201 table has no column for one of {', '.join(map(str, objectives))}; use val_acc, "
            "test_acc, latency_ms, params_mb, flops_m or latency_s"
        )
    return losses


@lru_cache(maxsize=32)
def true_front(
    device: str, objectives: tuple[str, ...] = DEFAULT_OBJECTIVES, dataset: str = "cifar10"
) -> TrueFront:
    """The true Pareto front of the table for ``objectives`` with latency on ``device``."""
    evaluator = TabularEvaluator(dataset=dataset, device=device)
    losses = table_losses(evaluator, parse_objectives(objectives))
    mask = pareto_mask(losses)
    front = losses[mask]
    ideal, nadir = front.min(axis=0), front.max(axis=0)
    reference = nadir + REFERENCE_MARGIN * np.maximum(nadir - ideal, 1e-12)
    return TrueFront(front, np.flatnonzero(mask), reference, hypervolume(front, reference))


@dataclass
class MOTrace:
    """One search: the hypervolume ratio of its found front after each query, on the simulated clock."""

    strategy: str
    device: str
    seed: int
    budget_s: float
    times: list[float] = field(default_factory=list)
    hv_ratio: list[float] = field(default_factory=list)
    front: list[int] = field(default_factory=list)  # cell indices of the final found front
    queries: int = 0
    wall_s: float = 0.0

    @property
    def final_ratio(self) -> float:
        return self.hv_ratio[-1] if self.hv_ratio else 0.0


def run_search(
    strategy: str,
    device: str,
    budget_s: float,
    seed: int,
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES,
    dataset: str = "cifar10",
) -> MOTrace:
    """One seeded search until the next query would exceed ``budget_s`` simulated seconds."""
    started = time.perf_counter()
    parsed = parse_objectives(objectives)
    space = NB201Space()
    evaluator = TabularEvaluator(dataset=dataset, device=device)
    registered, params = strategy_spec(strategy)
    reward: Callable[[Any], float] | None = None
    if accepts("strategy", registered, "objectives"):
        params["objectives"] = list(objectives)
    else:
        target = float(np.median(load_table(dataset).latency_ms(device)))
        reward = MnasNetReward(target=target)
    search = construct("strategy", registered, params, space=space, seed=seed)
    truth = true_front(device, objectives, dataset)
    exact = table_losses(evaluator, parsed)
    trace = MOTrace(strategy, device, seed, budget_s)
    clock = 0.0
    observed: list[np.ndarray] = []
    queried: list[int] = []
    while True:
        arch = search.ask()
        result = evaluator.evaluate(space, arch, trial_seed(seed, trace.queries))
        if clock + result.cost_s > budget_s:
            break
        clock += result.cost_s
        trace.queries += 1
        search.tell(arch, result, reward(result) if reward else 0.0)
        observed.append(loss_vector(parsed, result.metrics))
        queried.append(space.index(arch))
        found = np.asarray(queried)[pareto_mask(np.array(observed))]
        trace.times.append(clock)
        trace.hv_ratio.append(hypervolume(exact[found], truth.reference) / truth.hypervolume)
        trace.front = sorted(int(i) for i in set(found.tolist()))
    trace.wall_s = time.perf_counter() - started
    return trace


def _run_job(job: tuple[str, str, float, int, tuple[str, ...]]) -> MOTrace:
    return run_search(*job)


def check_names(strategies: Sequence[str], devices: Sequence[str], objectives: Sequence[str]) -> None:
    """Fail with one line before any work for an unknown strategy, device or objective."""
    for name in strategies:
        strategy_spec(name)
    known = load_table("cifar10").help_devices
    for device in devices:
        if device not in known:
            raise ConfigError(f"unknown latency device {device!r}; devices: {', '.join(known)}")
    parsed = parse_objectives(objectives)
    if len({goal.metric for goal in parsed}) < 2:
        raise ConfigError("a multi-objective benchmark needs at least two objectives on different metrics")
    table_losses(TabularEvaluator(device=devices[0]), parsed)


def run_benchmark(
    strategies: Sequence[str],
    devices: Sequence[str],
    runs: int,
    budget_s: float = DEFAULT_BUDGET_S,
    seed: int = 0,
    workers: int | None = None,
    objectives: Sequence[str] = DEFAULT_OBJECTIVES,
    progress: Callable[[int, int], None] | None = None,
) -> list[MOTrace]:
    """``runs`` seeded searches per strategy and device, spread over ``workers`` processes."""
    check_runs(runs, seed, workers, budget_s)
    check_names(strategies, devices, objectives)
    jobs = [
        (name, device, budget_s, seed + run, tuple(objectives))
        for device in devices
        for name in strategies
        for run in range(runs)
    ]
    return map_searches(_run_job, jobs, workers, progress)


@dataclass
class MOSummary:
    device: str
    strategy: str
    runs: int
    hv_ratio_mean: float
    hv_ratio_std: float
    queries_mean: float
    front_size_mean: float
    wall_ms_mean: float


def summarize(traces: Sequence[MOTrace]) -> list[MOSummary]:
    """Mean and standard deviation over runs of the final hypervolume ratio, per device and strategy."""
    groups: dict[tuple[str, str], list[MOTrace]] = {}
    for t in traces:
        groups.setdefault((t.device, t.strategy), []).append(t)
    rows = []
    for (device, strategy), group in groups.items():
        ratios = np.array([t.final_ratio for t in group])
        rows.append(
            MOSummary(
                device,
                strategy,
                len(group),
                float(ratios.mean()),
                float(ratios.std()),
                float(np.mean([t.queries for t in group])),
                float(np.mean([len(t.front) for t in group])),
                float(np.mean([1000 * t.wall_s for t in group])),
            )
        )
    return rows


def ratio_curves(traces: Sequence[MOTrace], grid: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
    """Per strategy: mean, 25th and 75th percentile over runs of the hypervolume ratio at times ``grid``."""
    curves: dict[str, list[np.ndarray]] = {}
    for t in traces:
        position = np.searchsorted(np.asarray(t.times), grid, side="right") - 1
        ratio = np.where(position >= 0, np.asarray(t.hv_ratio)[np.maximum(position, 0)], 0.0)
        curves.setdefault(t.strategy, []).append(ratio)
    return {
        name: (np.mean(runs, axis=0), *np.percentile(np.array(runs), [25, 75], axis=0))
        for name, runs in curves.items()
    }


def write_results(traces: Sequence[MOTrace], rows: Sequence[MOSummary], directory: Path) -> None:
    """``summary.csv`` (one row per device and strategy) and ``traces.json`` (every search)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])) if rows else ["device"])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    (directory / "traces.json").write_text(json.dumps([asdict(t) for t in traces]))


def plot_curves(
    traces: Sequence[MOTrace], devices: Sequence[str], path: Path, points: int = GRID_POINTS
) -> None:
    """The hypervolume gap to the true front (1 - ratio, log scale: the ratios crowd near 1) against
    simulated time, one panel per device, mean over runs with the interquartile range shaded."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * len(devices), 4.0), layout="constrained")
    axes = fig.subplots(1, len(devices), squeeze=False)[0]
    for ax, device in zip(axes, devices, strict=True):
        group = [t for t in traces if t.device == device and t.times]
        if not group:
            continue
        start = max(t.times[0] for t in group)  # from the time every run has a front
        grid = np.geomspace(start, max(t.budget_s for t in group), points)
        for strategy, (mean, low, high) in ratio_curves(group, grid).items():
            line = ax.plot(grid, 1 - mean, label=strategy)[0]
            ax.fill_between(grid, 1 - high, 1 - low, color=line.get_color(), alpha=0.15)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulated training time (s)")
        ax.set_ylabel("1 - hypervolume / true front's")
        runs = len(group) // max(1, len({t.strategy for t in group}))
        ax.set_title(f"NB201 CIFAR-10, accuracy vs latency on {device}, {runs} runs", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
