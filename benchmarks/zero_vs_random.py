"""Evolution vs random search on AutoML-Zero's linear and affine regression, many seeds, equal budgets.

Usage: python benchmarks/zero_vs_random.py [--seeds 10] [--budget 5000] [--tasks linear,affine]

Each seed is one whole experiment per strategy (``archsearch.zero.run.make_config`` defaults of the task:
the released demo's space, P = 1000, T = 10, U = 0.9, FEC on, 10 search tasks of 100 + 100 examples) with
``--budget`` individuals; random search evaluates as many random programs of the same space. Printed per
task and strategy: mean best search fitness, the fraction of seeds that learn at all (best fitness above
that of predicting zero by 0.05) and the fraction that solve the tasks (search RMSE < 1e-3; a run stops
at the released demo's sufficient fitness 0.9999); then the
ratio of evolution's to random search's learning rate (Real et al. 2020, figure 5 compares the same way).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from archsearch.zero.evolution import ProgramFitness
from archsearch.zero.program import Program
from archsearch.zero.run import build_searcher, fitness_from_rmse, make_config, search_fitness

LEARNS_MARGIN = 0.05


def best_fitness(task: str, strategy: str, seed: int, budget: int) -> float:
    config = make_config(task, strategy=strategy, seed=seed, budget=budget)
    searcher = build_searcher(config.model_dump(mode="json"), 0)
    stop = config.stop_fitness()
    done = 0
    while done < budget:
        step = min(1000, budget - done)
        searcher.run(step)
        done += step
        if stop is not None and searcher.best is not None and searcher.best.fitness >= stop:
            break
    assert searcher.best is not None
    return searcher.best.fitness


def zero_predictor_fitness(task: str, seed: int) -> float:
    fitness: ProgramFitness = search_fitness(make_config(task, seed=seed, fec=False))
    return fitness(Program())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=5000, help="individuals per experiment")
    parser.add_argument("--tasks", default="linear,affine")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"load average before: {os.getloadavg()[0]:.1f} (machine shared; 1 process)")
    solved_at = fitness_from_rmse(1e-3)
    for task in args.tasks.split(","):
        rates = {}
        for strategy in ("evolution", "random"):
            start = time.perf_counter()
            bests, learns, solves = [], 0, 0
            for seed in range(args.seeds):
                best = best_fitness(task, strategy, seed, args.budget)
                bests.append(best)
                learns += best > zero_predictor_fitness(task, seed) + LEARNS_MARGIN
                solves += best >= solved_at
            rates[strategy] = learns / args.seeds
            print(
                f"{task:<7} {strategy:<10} mean best fitness {np.mean(bests):.4f} (min {min(bests):.4f}, max"
                f" {max(bests):.4f}) | learns {learns}/{args.seeds} | solves {solves}/{args.seeds}"
                f" | {time.perf_counter() - start:.0f} s"
            )
        ratio = "inf" if rates["random"] == 0 and rates["evolution"] > 0 else None
        if ratio is None:
            ratio = f"{rates['evolution'] / rates['random']:.1f}" if rates["random"] else "n/a (both 0)"
        print(f"{task:<7} evolution / random, fraction of seeds that learn: {ratio}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
