"""Multi-objective NAS on NAS-Bench-201: accuracy against real device latency, strategy against strategy.

Usage: python benchmarks/mo_nb201.py [--devices pixel3,eyeriss,raspi4] [--seeds 30] [--budget 30000]
       [--strategies nsga2,lemonade,optuna_nsga2,evolution,random] [--workers N] [--out runs/mo_nb201]

Each search runs on the simulated clock of the NB201 protocol (one noisy 12-epoch CIFAR-10 validation
accuracy per query, costing the simulated 12-epoch training time) until ``--budget`` simulated seconds,
seeing each cell's latency on one HELP device. Reported per device and strategy, over ``--seeds`` seeds:
the hypervolume of the found front (its cells' noise-free values) over the hypervolume of the table's true
Pareto front (``archsearch.bench.nb201_mo``), mean and standard deviation, and the remaining gap
1 - ratio relative to random search's. The last lines check the issue's claim: NSGA-II beats random search
by more than the spread (the larger of the two standard deviations) on every device.
Single-objective strategies (evolution, reinforce, ppo) maximise the soft MnasNet reward with T = the
device's median latency.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from archsearch.bench.nb201_mo import plot_curves, run_benchmark, summarize, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="pixel3,eyeriss,raspi4")
    parser.add_argument("--strategies", default="nsga2,lemonade,optuna_nsga2,evolution,random")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=float, default=30_000.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/mo_nb201"))
    args = parser.parse_args()
    devices = args.devices.split(",")
    strategies = args.strategies.split(",")

    started = time.perf_counter()
    traces = run_benchmark(strategies, devices, args.seeds, args.budget, workers=args.workers)
    rows = summarize(traces)
    print(
        f"NB201 CIFAR-10, val_acc:max vs latency_ms:min, {args.seeds} seeds, {args.budget:,.0f} simulated s "
        f"per search ({time.perf_counter() - started:.0f} s wall)"
    )
    print("| device | strategy | HV / true HV | gap vs random | queries | front size |")
    print("|---|---|---|---|---|---|")
    verdicts = []
    for device in devices:
        group = {r.strategy: r for r in rows if r.device == device}
        random_gap = 1 - group["random"].hv_ratio_mean if "random" in group else float("nan")
        for name in strategies:
            row = group[name]
            gap = (1 - row.hv_ratio_mean) / random_gap
            print(
                f"| {device} | {name} | {row.hv_ratio_mean:.4f} ± {row.hv_ratio_std:.4f} | {gap:.2f} "
                f"| {row.queries_mean:.0f} | {row.front_size_mean:.1f} |"
            )
        if "nsga2" in group and "random" in group:
            nsga2, rand = group["nsga2"], group["random"]
            margin = nsga2.hv_ratio_mean - rand.hv_ratio_mean
            spread = max(nsga2.hv_ratio_std, rand.hv_ratio_std)
            verdicts.append((device, margin, spread))
    for device, margin, spread in verdicts:
        verdict = "yes" if margin > spread else "NO"
        print(
            f"{device}: NSGA-II - random = {margin:.4f}, spread {spread:.4f}: beats random by more: {verdict}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_results(traces, rows, args.out)
    plot_curves(traces, devices, args.out / "hypervolume.png")
    print(f"wrote {args.out}/summary.csv, traces.json, hypervolume.png ({len(traces)} searches)")


if __name__ == "__main__":
    main()
