"""Evolution vs random search on AutoML-Zero's linear and affine regression, many seeds, equal budgets.

Usage: python benchmarks/zero_vs_random.py [--seeds 10] [--budget 1000000] [--tasks linear,affine]
                                           [--jobs 2] [--engine compiled]

Each seed is one experiment per strategy with ``--budget`` individuals (default: the released demo's
1,000,000 individuals per experiment), no restarts: regularized evolution with the task's defaults
(``archsearch.zero.run.TASK_DEFAULTS``: the demo's space, P = 1000, T = 10, U = 0.9, FEC, 10 search tasks
of 100 + 100 examples) and random search over the same space evaluating as many programs. A run stops
early, as the demo, once its best program's select fitness (100 tasks of 1,000 training examples)
exceeds 0.9999.

Per task and strategy: how many seeds **solve** (the best program's mean RMSE on the 100 held-out final
tasks below 1e-3, the acceptance criterion) with the individuals each needed, the mean best search
fitness, and on how many seeds evolution's best program is fitter than random search's (paired by seed:
same tasks). For scale, the search fitness of the hand-written SGD program (``sgd_linear_regression`` /
``sgd_affine_regression``) with its learning rate tuned on the same search tasks. Then evolution's best
program for the task (pretty-printed, dead code removed).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from archsearch.zero.evolution import Individual
from archsearch.zero.interpreter import evaluate, evaluate_each
from archsearch.zero.program import MemoryConfig, Program, sgd_affine_regression, sgd_linear_regression
from archsearch.zero.run import build_searcher, make_config, rmse_from_fitness, sufficient, task_split

REFERENCES = {"linear": sgd_linear_regression, "affine": sgd_affine_regression}
LEARNING_RATES = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7)
CHUNK = 5_000


@dataclass(frozen=True)
class Outcome:
    task: str
    strategy: str
    seed: int
    best: Individual
    reference: float
    final_rmse: float
    individuals: int
    seconds: float


def reference_fitness(task: str, seed: int, engine: str) -> float:
    """The hand-written SGD program's search fitness at its best learning rate on the seed's search tasks."""
    config = make_config(task, seed=seed, engine=engine)
    memory = MemoryConfig(**config.memory.model_dump())
    tasks = task_split(config).search
    return max(
        evaluate(REFERENCES[task](rate), tasks, memory, rng_seed=seed, combine=config.combine)
        for rate in LEARNING_RATES
    )


def run_one(task: str, strategy: str, seed: int, budget: int, engine: str) -> Outcome:
    config = make_config(
        task, strategy=strategy, seed=seed, budget=budget, engine=engine, experiment_individuals=None
    )
    started = time.perf_counter()
    searcher = build_searcher(config.model_dump(mode="json"), 0)
    split = task_split(config)
    done, best_seen = 0, -1.0
    while done < budget:
        step = min(CHUNK, budget - done)
        searcher.run(step)
        done += step
        best = searcher.best
        if best is not None and best.fitness > best_seen:
            best_seen = best.fitness
            if sufficient(config, best.program, best.fitness, split.select):
                break
    best = searcher.best
    assert best is not None
    memory = MemoryConfig(**config.memory.model_dump())
    final = evaluate_each(best.program, split.final, memory, rng_seed=seed)
    return Outcome(
        task,
        strategy,
        seed,
        best,
        reference_fitness(task, seed, engine),
        float(np.mean(rmse_from_fitness(final))),
        done,
        time.perf_counter() - started,
    )


def _ratio(a: int, b: int) -> str:
    if b == 0:
        return "inf (random 0)" if a else "n/a (both 0)"
    return f"{a / b:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=1_000_000, help="individuals per experiment")
    parser.add_argument("--tasks", default="linear,affine")
    parser.add_argument("--jobs", type=int, default=2, help="experiments run in parallel (processes)")
    parser.add_argument("--engine", choices=("compiled", "python"), default="compiled")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}; {args.jobs} processes; engine {args.engine}")
    jobs = [
        (task, strategy, seed, args.budget, args.engine)
        for task in args.tasks.split(",")
        for seed in range(args.seeds)
        for strategy in ("evolution", "random")
    ]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(run_one, *zip(*jobs, strict=True)))
    for task in args.tasks.split(","):
        mine = [o for o in outcomes if o.task == task]
        references = [o.reference for o in mine if o.strategy == "evolution"]
        print(
            f"\n{task}: {args.seeds} seeds, {args.budget:,} individuals per experiment; tuned SGD reference"
            f" search fitness {np.mean(references):.5f} (mean over seeds)"
        )
        solved: dict[str, int] = {}
        for strategy in ("evolution", "random"):
            runs = [o for o in mine if o.strategy == strategy]
            solves = sorted(o.individuals for o in runs if o.final_rmse < 1e-3)
            solved[strategy] = len(solves)
            fitness = [o.best.fitness for o in runs]
            print(
                f"  {strategy:<10} solves {len(solves)}/{len(runs)} (individuals: {solves}) | best search fitness"
                f" mean {np.mean(fitness):.4f}, median {np.median(fitness):.4f} | {sum(o.seconds for o in runs):.0f} s"
            )
        paired = {(o.seed): o.best.fitness for o in mine if o.strategy == "random"}
        wins = sum(o.best.fitness > paired[o.seed] for o in mine if o.strategy == "evolution")
        print(
            f"  evolution / random: solves {_ratio(solved['evolution'], solved['random'])}; evolution's best is"
            f" fitter on {wins}/{args.seeds} seeds"
        )
        winner = max(
            (o for o in mine if o.strategy == "evolution"),
            key=lambda o: (o.final_rmse < 1e-3, o.best.fitness),
        )
        print(
            f"  evolution's best program (seed {winner.seed}, search fitness {winner.best.fitness:.6f}, held-out"
            f" RMSE {winner.final_rmse:.2e}), dead code removed:"
        )
        pruned: Program = winner.best.program.pruned()
        print("    " + pruned.pretty().replace("\n", "\n    "))
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
