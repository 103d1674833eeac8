"""Random search, regularized evolution and REINFORCE on a user's model space, at equal budgets.

The space is the Fashion-MNIST example (``examples/spaces.py``: two layer choices, a hidden-width and a
dropout value choice; 36 children), the evaluator the examples' ``ClassificationEvaluator`` on the first
``--train-limit`` training images (the last fifth of them held out for validation; Adam, lr 1e-3, batch 64,
cosine schedule), the reward the validation accuracy (``metric`` reward, 0 for a failed trial). Every strategy gets the same number of trials, on the same data, from the same
study seeds; per strategy the script prints the best validation accuracy of each seed, their mean and spread
(sample standard deviation), the test accuracy of the best child and the trials it took to reach it. Uses
../shared/data/fashion-mnist when it is there, else the 400-image slice in tests/real_data (and says which).

    .venv/bin/python benchmarks/user_space_search.py                        # ~10-15 min on 2 cores
    .venv/bin/python benchmarks/user_space_search.py --seeds 3 --trials 16 --epochs 2 --train-limit 5000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the examples package lives beside src/

from examples.fashion_data import FULL_DATA, FashionMNISTEvaluator, default_directory  # noqa: E402
from examples.spaces import FashionCNN  # noqa: E402

import archsearch  # noqa: E402
from archsearch.core import Architecture  # noqa: E402

STRATEGIES: dict[str, dict[str, Any]] = {
    "random": {},
    "evolution": {"population_size": 8, "sample_size": 3},
    "reinforce": {"batch_size": 4, "lr": 0.005},
}


def one_search(
    strategy: str, seed: int, evaluator: Any, trials: int, workers: int, directory: Path
) -> dict[str, float]:
    started = time.perf_counter()
    study = archsearch.search(
        archsearch.ModelSpace(FashionCNN),
        evaluator,
        strategy=strategy,
        strategy_params=STRATEGIES[strategy],
        reward={"name": "metric", "params": {"metric": "val_acc", "mode": "max", "failed_reward": 0.0}},
        trials=trials,
        seed=seed,
        out=directory / f"{strategy}-{seed}",
        workers=workers,
        progress=False,
    )
    trials_done = [t for t in study.store.trials() if t.status == "ok"]
    best = max(trials_done, key=lambda t: t.metrics["val_acc"])
    first_best = min(t.number for t in trials_done if t.metrics["val_acc"] == best.metrics["val_acc"])
    return {
        "val_acc": best.metrics["val_acc"],
        "test_acc": best.metrics["test_acc"],
        "reached_at": first_best + 1,
        "distinct": len({t.arch_str for t in trials_done}),
        "failed": trials - len(trials_done),
        "wall_s": time.perf_counter() - started,
        "arch": best.arch_str,
    }


_WORKER_EVALUATOR: Any = None


def _set_evaluator(evaluator: Any) -> None:
    global _WORKER_EVALUATOR
    _WORKER_EVALUATOR = evaluator


def evaluate_one(values: tuple[Any, ...]) -> tuple[str, float, float]:
    """Train one child of the space (in a worker process): its text, validation and test accuracy."""
    space = archsearch.ModelSpace(FashionCNN)
    arch = Architecture(space.name, values)
    result = _WORKER_EVALUATOR.evaluate(space, arch, seed=0)
    if not result.ok:
        return space.encode(arch), float("nan"), float("nan")
    return space.encode(arch), result.metrics["val_acc"], result.metrics["test_acc"]


def every_child(evaluator: Any, workers: int) -> list[tuple[str, float, float]]:
    """Each of the 36 children trained once (seed 0): where the searches' best children stand."""
    space = archsearch.ModelSpace(FashionCNN)
    decisions = list(space.walk(space.sample(np.random.default_rng(0)).values))
    grid = list(itertools.product(*(d.choices for d in decisions)))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, context, _set_evaluator, (evaluator,)) as pool:
        return list(pool.map(evaluate_one, grid))


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} +- {deviation:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=None, help="Fashion-MNIST IDX directory (default: ../shared or the slice)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument(
        "--no-reference", action="store_true", help="skip training every child of the space once"
    )
    args = parser.parse_args()

    directory = Path(args.data) if args.data else default_directory(quick=False)
    where = "the full files" if directory.resolve() == FULL_DATA.resolve() else "the test slice (2 classes)"
    evaluator = FashionMNISTEvaluator(str(directory), args.train_limit, epochs=args.epochs, device="cpu")
    sizes = [len(x) for x, _ in (evaluator.train, evaluator.valid, evaluator.test)]
    print(
        f"data: {directory} ({where}): {sizes[0]} train, {sizes[1]} valid, {sizes[2]} test images; "
        f"{args.epochs} epochs per child, {args.trials} trials per search, seeds 0..{args.seeds - 1}, "
        f"{args.workers} workers"
    )
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in strategies}
    with tempfile.TemporaryDirectory(prefix="user-space-search-") as runs:
        for seed in range(args.seeds):
            for strategy in strategies:  # seed-major, so that load drifts hit every strategy alike
                run = one_search(strategy, seed, evaluator, args.trials, args.workers, Path(runs))
                results[strategy].append(run)
                print(
                    f"{strategy:10s} seed {seed}: best val_acc {run['val_acc']:.4f} (test {run['test_acc']:.4f}, "
                    f"trial {run['reached_at']}, {run['distinct']} distinct, {run['failed']} failed) "
                    f"{run['arch']}  [{run['wall_s']:.0f} s]"
                )
    if not args.no_reference:
        started = time.perf_counter()
        children = sorted(every_child(evaluator, args.workers), key=lambda c: -c[1])
        val = [c[1] for c in children]
        print(
            f"\nevery child once (seed 0, {time.perf_counter() - started:.0f} s): best val_acc {val[0]:.4f} "
            f"({children[0][0]}, test {children[0][2]:.4f}), median {statistics.median(val):.4f}, worst {val[-1]:.4f}"
        )
        for strategy, runs_of in results.items():
            ranks = [sum(v > r["val_acc"] for v in val) + 1 for r in runs_of]
            print(
                f"{strategy}: the best child found would rank {ranks} of {len(val)} among these single trainings"
            )
    print()
    print(
        "| strategy | best val acc (mean +- sd) | test acc of the best | trials to the best | distinct children | wall s / search |"
    )
    print("|---|---|---|---|---|---|")
    for strategy, runs_of in results.items():
        print(
            f"| {strategy} | {spread([r['val_acc'] for r in runs_of])} | {spread([r['test_acc'] for r in runs_of])} | "
            f"{statistics.mean(r['reached_at'] for r in runs_of):.1f} | "
            f"{statistics.mean(r['distinct'] for r in runs_of):.1f} | {statistics.mean(r['wall_s'] for r in runs_of):.0f} |"
        )


if __name__ == "__main__":
    main()
