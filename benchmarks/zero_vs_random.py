"""Evolution vs random search on AutoML-Zero's linear and affine regression, many seeds, equal budgets.

Usage: python benchmarks/zero_vs_random.py [--seeds 10] [--budget 5000] [--tasks linear,affine]
                                           [--setting demo|small]

Each seed is one whole experiment per strategy with ``--budget`` individuals; random search evaluates as
many random programs of the same space. ``--setting demo``: ``archsearch.zero.run.make_config`` defaults
of the task (the released demo's space, P = 1000, T = 10, U = 0.9, FEC on, 10 search tasks of 100 + 100
examples). ``--setting small``: the reduced demo of tests/zero/test_solve.py (per-component op lists,
sizes 1 / 1 / 4, 3 scalars / 3 vectors, P = 100, 3 search tasks). A run stops early, as the released
demo, once its best program's select fitness (tasks with 1,000 training examples) exceeds 0.9999.
Printed per task and strategy: mean best search fitness, the fraction of seeds that learn at all (best
fitness above that of predicting zero by 0.05) and the fraction that solve linear regression (mean RMSE
< 1e-3 on the held-out final tasks); then the ratio of evolution's to random search's learning rate
(Real et al. 2020, figure 5 compares the same way).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from archsearch.zero.evolution import ProgramFitness
from archsearch.zero.interpreter import evaluate_each
from archsearch.zero.program import MemoryConfig, Program
from archsearch.zero.run import (
    build_searcher,
    make_config,
    rmse_from_fitness,
    search_fitness,
    sufficient,
    task_split,
)

LEARNS_MARGIN = 0.05
_SMALL_SIZES = {"setup": 1, "predict": 1, "learn": 4}
SETTINGS: dict[str, dict[str, object]] = {
    "demo": {},
    "small": {  # tests/zero/test_solve.py's reduced demo
        "memory": {"scalars": 3, "vectors": 3, "matrices": 1, "dim": 4},
        "ops": {"setup": [56], "predict": [27], "learn": [2, 3, 18, 23]},
        "min_sizes": _SMALL_SIZES,
        "max_sizes": _SMALL_SIZES,
        "init_sizes": _SMALL_SIZES,
        "population_size": 100,
        "search_tasks": 3,
        "select_tasks": 10,
        "final_tasks": 10,
    },
}


def run_one(task: str, strategy: str, seed: int, budget: int, setting: str) -> tuple[float, float, int]:
    """(best search fitness, held-out mean RMSE of the best program, individuals evaluated)."""
    overrides = dict(SETTINGS[setting])
    if task != "linear":  # the small setting's memory and ops are linear regression's
        overrides = {}
    config = make_config(task, strategy=strategy, seed=seed, budget=budget, **overrides)  # type: ignore[arg-type]
    searcher = build_searcher(config.model_dump(mode="json"), 0)
    split = task_split(config)
    done, best_seen = 0, None
    while done < budget:
        step = min(1000, budget - done)
        searcher.run(step)
        done += step
        best = searcher.best
        if best is not None and (best_seen is None or best.fitness > best_seen):
            best_seen = best.fitness
            if sufficient(config, best.program, best.fitness, split.select):
                break
    assert searcher.best is not None
    memory = MemoryConfig(**config.memory.model_dump())
    final = evaluate_each(searcher.best.program, split.final, memory, rng_seed=seed)
    return searcher.best.fitness, float(np.mean(rmse_from_fitness(final))), done


def zero_predictor_fitness(task: str, seed: int, setting: str) -> float:
    overrides = dict(SETTINGS[setting]) if task == "linear" else {}
    fitness: ProgramFitness = search_fitness(make_config(task, seed=seed, fec=False, **overrides))  # type: ignore[arg-type]
    return fitness(Program())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=5000, help="individuals per experiment")
    parser.add_argument("--tasks", default="linear,affine")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="demo")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} (machine shared; 1 process)")
    for task in args.tasks.split(","):
        rates = {}
        for strategy in ("evolution", "random"):
            start = time.perf_counter()
            bests, learns, solves, spent = [], 0, 0, []
            for seed in range(args.seeds):
                best, rmse, done = run_one(task, strategy, seed, args.budget, args.setting)
                bests.append(best)
                learns += best > zero_predictor_fitness(task, seed, args.setting) + LEARNS_MARGIN
                solves += rmse < 1e-3
                if rmse < 1e-3:
                    spent.append(done)
            rates[strategy] = learns / args.seeds
            print(
                f"{task:<7} {strategy:<10} mean best fitness {np.mean(bests):.4f} (min {min(bests):.4f}, max"
                f" {max(bests):.4f}) | learns {learns}/{args.seeds} | solves {solves}/{args.seeds}"
                f" (individuals to solve: {sorted(spent)}) | {time.perf_counter() - start:.0f} s"
            )
        ratio = "inf" if rates["random"] == 0 and rates["evolution"] > 0 else None
        if ratio is None:
            ratio = f"{rates['evolution'] / rates['random']:.1f}" if rates["random"] else "n/a (both 0)"
        print(f"{task:<7} evolution / random, fraction of seeds that learn: {ratio}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
