"""NAS-RL's asynchronous parameter-server training, simulated on the NAS-Bench-201 table.

Usage: python benchmarks/ps_simulation.py [--replicas 1,10,100] [--seeds 3] [--max-children 3200]
       [--target 94.0] [--out runs/ps_sim]

A discrete-event simulation (a heap of events on a simulated clock; nothing sleeps, nothing trains) of
Zoph & Le's distributed setup (SPEC.md 1.7): S = 20 parameter-server shards, K controller replicas, m = 8
children per replica. Each replica pulls the parameters, samples m cells, "trains" them in parallel (each
child costs the table's simulated 12-epoch time and returns the 12-epoch validation accuracy of one random
training seed, the NB201 search signal), waits for the slowest of its m, computes the REINFORCE gradient
and pushes it; the servers apply Adam at once (no barrier), so a gradient computed on version v and applied
at version v' has staleness v' - v. Controller compute and communication take no simulated time.

Reported per K: the simulated wall clock until the incumbent (the cell with the best search signal so far,
known when its child finishes) has a 200-epoch CIFAR-10 test accuracy >= ``--target``, the children used
by then, and the staleness distribution. Writes time_to_target.png and staleness.png under ``--out``.
"""

from __future__ import annotations

import argparse
import heapq
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from archsearch.evaluators.tabular import load_table
from archsearch.parameter_server.replicas import ControllerReplica
from archsearch.parameter_server.servers import ParameterServer
from archsearch.spaces.nb201 import NB201Space
from archsearch.study import trial_seed

BATCH_SIZE = 8  # m, children per replica (paper, CIFAR-10)
NUM_SHARDS = 20  # S (paper)


@dataclass
class Run:
    replicas: int
    seed: int
    finish_times: list[float] = field(default_factory=list)  # one per child, in completion order
    incumbent_test: list[float] = field(default_factory=list)  # test acc of the incumbent after each child
    staleness: list[int] = field(default_factory=list)
    time_to_target: float | None = None
    children_to_target: int | None = None
    real_s: float = 0.0


def simulate(replicas: int, seed: int, max_children: int, target: float) -> Run:
    """One simulated search with ``replicas`` controller replicas until ``max_children`` have trained."""
    started = time.perf_counter()
    space, table = NB201Space(), load_table("cifar10")
    rng = np.random.default_rng([seed, replicas])
    workers = [
        ControllerReplica(space, seed=trial_seed(seed, k), batch_size=BATCH_SIZE) for k in range(replicas)
    ]
    server = ParameterServer(workers[0].initial_state(), num_shards=NUM_SHARDS)
    events: list[tuple[float, int, int]] = []  # (time the slowest child finishes, tie-break, replica)
    in_flight: dict[int, tuple] = {}
    children: list[tuple[float, float, int]] = []  # (finish time, search signal, cell index)
    launched = 0

    def launch(k: int, now: float) -> None:
        nonlocal launched
        if launched + BATCH_SIZE > max_children:
            return
        launched += BATCH_SIZE
        params, version = server.pull()
        archs = workers[k].sample(params)
        indices = np.array([space.index(a) for a in archs])
        signals = table.search_signal(indices, 12, rng)
        finish = now + table.cost_s(indices)
        children.extend(zip(finish.tolist(), signals.tolist(), indices.tolist(), strict=True))
        in_flight[k] = (archs, (signals / 100.0).tolist(), version)
        heapq.heappush(events, (float(finish.max()), launched, k))

    for k in range(replicas):
        launch(k, 0.0)
    while events:
        now, _, k = heapq.heappop(events)
        archs, rewards, version = in_flight.pop(k)
        server.push(workers[k].gradient(archs, rewards), version)
        launch(k, now)

    run = Run(replicas, seed, staleness=list(server.staleness_log))
    best_signal, best_test = -np.inf, 0.0
    for number, (finish, signal, index) in enumerate(sorted(children), start=1):
        if signal > best_signal:
            best_signal, best_test = signal, float(table.test_acc_200ep[index])
        run.finish_times.append(finish)
        run.incumbent_test.append(best_test)
        if run.time_to_target is None and best_test >= target:
            run.time_to_target, run.children_to_target = finish, number
    run.real_s = time.perf_counter() - started
    return run


def plot(runs: list[Run], target: float, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ks = sorted({r.replicas for r in runs})
    colors = {k: f"C{i}" for i, k in enumerate(ks)}
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for run in runs:
        hours = np.array(run.finish_times) / 3600
        label = f"K = {run.replicas}" if run.seed == min(r.seed for r in runs) else None
        ax.step(hours, run.incumbent_test, where="post", color=colors[run.replicas], alpha=0.7, label=label)
    ax.axhline(target, color="k", linestyle="--", linewidth=1, label=f"target {target}%")
    ax.set_xscale("log")
    ax.set_xlabel("simulated wall clock (hours)")
    ax.set_ylabel("incumbent's CIFAR-10 test accuracy, 200 epochs (%)")
    ax.set_ylim(88, 94.5)
    ax.set_title(f"NAS-RL on NB201, S = {NUM_SHARDS} shards, m = {BATCH_SIZE} children per replica")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "time_to_target.png", dpi=120)

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    data = [np.concatenate([r.staleness for r in runs if r.replicas == k]) for k in ks]
    ax.boxplot(data, tick_labels=[f"K = {k}" for k in ks], whis=(5, 95), showfliers=False)
    ax.set_ylabel("gradient staleness (server versions)")
    ax.set_title("Staleness of each pushed gradient (whiskers: 5th-95th percentile)")
    fig.tight_layout()
    fig.savefig(out / "staleness.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="1,10,100", help="comma-separated K values")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-children", type=int, default=3200)
    parser.add_argument("--target", type=float, default=94.0, help="test accuracy (%%) to reach")
    parser.add_argument("--out", type=Path, default=Path("runs/ps_sim"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [
        simulate(int(k), seed, args.max_children, args.target)
        for k in args.replicas.split(",")
        for seed in range(args.seeds)
    ]
    plot(runs, args.target, args.out)
    print(
        f"target: incumbent test accuracy >= {args.target}%; {args.max_children} children at most; "
        f"{args.seeds} seeds; m = {BATCH_SIZE}, S = {NUM_SHARDS}"
    )
    header = "K     reached  median time (h)  speedup  median children  final test %  staleness mean/p50/p95/max  real s"
    print(header)
    base = None
    for k in sorted({r.replicas for r in runs}):
        group = [r for r in runs if r.replicas == k]
        reached = [r for r in group if r.time_to_target is not None]
        # runs that never reach the target count as infinitely slow in the median
        times = [r.time_to_target if r.time_to_target is not None else np.inf for r in group]
        median_time = float(np.median(times))
        counts = [r.children_to_target if r.children_to_target is not None else np.inf for r in group]
        base = median_time if base is None else base
        staleness = np.concatenate([r.staleness for r in group])
        final = np.mean([r.incumbent_test[-1] for r in group])
        speedup = base / median_time if np.isfinite(median_time) else 0.0
        print(
            f"{k:<5} {len(reached)}/{len(group):<6} {median_time / 3600:>15.2f}  {speedup:>7.1f}  "
            f"{float(np.median(counts)):>15.0f}  {final:>11.2f}  "
            f"{staleness.mean():>7.1f}/{np.median(staleness):.0f}/{np.percentile(staleness, 95):.0f}/"
            f"{staleness.max()}  {np.mean([r.real_s for r in group]):>10.1f}"
        )
    print(f"plots: {args.out}/time_to_target.png, {args.out}/staleness.png")


if __name__ == "__main__":
    main()
