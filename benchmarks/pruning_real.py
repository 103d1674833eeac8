"""Pruning on real training: random search and regularized evolution with and without ASHA, and BOHB, on
Fashion-MNIST at equal compute.

Usage:
    .venv/bin/python benchmarks/pruning_real.py            # 3 seeds x 5 methods, 65 s each: ~20 min on 2 cores
    .venv/bin/python benchmarks/pruning_real.py --quick    # smoke: 1 seed, 20 s each: ~2 min

Every study is a real ``Study`` (inline executor, ``ordered``, one torch thread) over a small NAS-RL CNN space
(3 layers; filter heights and widths 1, 3, 5; 4, 8 or 16 filters; strides 1 or 2; skip connections) whose
children train on the first 1,500 Fashion-MNIST training images (300 of them held out for validation) for
9 epochs (SGD, Nesterov momentum, lr 0.05 cosine, batch 32) and report their validation accuracy after each
epoch; a child trained to the end is also scored on the 10,000 test images. Every study gets the same
compute: ``max_time_s`` on the ``cost`` clock, the summed seconds of its children (training, validation and,
for a finished child, the test pass; a pruned child pays only the epochs it ran). Methods, each over the same
study seeds (same seed: random search asks the same children in the same order with or without a pruner):

- random, random+asha: random search without a pruner and with ASHA (min_resource 1 epoch, reduction factor
  3: rungs at 1 and 3 epochs, a third goes on at each).
- evolution, evolution+asha: regularized evolution (population 5, sample 2: scaled down from REA's 10 / 3 so
  that the population fills within the budget; a pruned child does not join it).
- bohb: the BOHB strategy with its default pruner, Hyperband (min 1, max 9 epochs, eta 3: three brackets).

Printed per method, mean +- standard deviation over the seeds: the best validation accuracy of a child trained
to the end within the budget, the test accuracy of that child, children evaluated and pruned, epochs trained,
and the compute needed to reach the no-pruner run's final best validation accuracy, as a fraction of the
budget (random+asha and bohb against random, evolution+asha against evolution, on the same seed; "never" when
not reached within the budget), with in parentheses the epochs trained until then as a fraction of the
no-pruner run's epochs (a count that the load of a shared machine does not change; it weighs cheap and costly
children alike). A throwaway study first pays the process's torch start-up. Children that finished after the budget was spent (the last one in flight) are
left out, so every method is compared at exactly the same compute. The target of issue 17: ASHA reaches the
no-pruner best with at most a third of the compute, or finds a better child at equal compute.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archsearch.config import Component, StudyConfig
from archsearch.core import TrialRecord
from archsearch.study import Study

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "fashion-mnist"
EPOCHS = 9

SPACE = Component(
    name="nasrl_cnn",
    params={
        "num_layers": 3,
        "filter_heights": [1, 3, 5],
        "filter_widths": [1, 3, 5],
        "num_filters": [4, 8, 16],
        "strides": [1, 2],
        "predict_strides": True,
    },
)
REWARD = Component(name="metric", params={"metric": "val_acc", "mode": "max"})
ASHA = Component(name="asha", params={"min_resource": 1, "reduction_factor": 3})
EVOLUTION = {"population_size": 5, "sample_size": 2}

# name: (strategy, its params, pruner (None: none; bohb brings Hyperband), the no-pruner run it is held to)
METHODS: dict[str, tuple[str, dict[str, Any], Component | None, str | None]] = {
    "random": ("random", {}, None, None),
    "random+asha": ("random", {}, ASHA, "random"),
    "evolution": ("evolution", EVOLUTION, None, None),
    "evolution+asha": ("evolution", EVOLUTION, ASHA, "evolution"),
    "bohb": ("bohb", {}, None, "random"),
}


def evaluator(data_dir: Path) -> Component:
    return Component(
        name="training",
        params={
            "dataset": "fashion-mnist",
            "data_dir": str(data_dir),
            "train_limit": 1500,
            "val_size": 300,
            "epochs": EPOCHS,
            "batch_size": 32,
            "lr": 0.05,
            "threads": 1,
        },
    )


@dataclass
class Run:
    """One study, cut at the budget: its children in the order they finished, with the compute spent."""

    method: str
    seed: int
    budget: float
    trials: list[TrialRecord] = field(default_factory=list)
    spent: list[float] = field(default_factory=list)  # summed cost after each child
    wall_s: float = 0.0

    def finished(self) -> list[tuple[float, TrialRecord]]:
        return list(zip(self.spent, self.trials, strict=True))

    def best(self) -> TrialRecord | None:
        """The child trained to the end with the best validation accuracy (the first on ties)."""
        done = [t for t in self.trials if t.status == "ok"]
        return max(done, key=lambda t: t.metrics["val_acc"], default=None)

    def compute_to(self, target: float) -> float | None:
        """The compute spent when a child trained to the end first reached ``target``; None if never."""
        for spent, trial in self.finished():
            if trial.status == "ok" and trial.metrics["val_acc"] >= target:
                return spent
        return None

    def epochs_to(self, target: float) -> float | None:
        """The epochs trained when a child trained to the end first reached ``target``; None if never."""
        total = 0.0
        for trial in self.trials:
            total += epochs_of(trial)
            if trial.status == "ok" and trial.metrics["val_acc"] >= target:
                return total
        return None

    def epochs(self) -> float:
        return sum(epochs_of(t) for t in self.trials)


def epochs_of(trial: TrialRecord) -> float:
    """The epochs a child trained: where it was stopped, else all of them."""
    return float(trial.metrics.get("resource", trial.metrics.get("epochs", 0.0)))


def warm_up(data_dir: Path, out: Path) -> None:
    """One short throwaway study: the process's first child pays torch's start-up, which must not count
    against the first method measured."""
    run_study("random", 10_000, 1.0, data_dir, out / "warm-up")


def run_study(method: str, seed: int, budget: float, data_dir: Path, out: Path) -> Run:
    strategy, params, pruner, _ = METHODS[method]
    config = StudyConfig(
        seed=seed,
        n_trials=100_000,
        max_time_s=budget,
        clock="cost",
        executor="inline",
        keep_weights=0,
        space=SPACE,
        strategy=Component(name=strategy, params=params),
        evaluator=evaluator(data_dir),
        reward=REWARD,
        pruner=pruner,
    )
    started = time.perf_counter()
    study = Study.create(config, out / f"{method}-{seed}", overwrite=True)
    try:
        study.run()
        trials = sorted((t for t in study.store.trials() if t.finished), key=lambda t: t.number)
    finally:
        study.close()
    run = Run(method, seed, budget, wall_s=time.perf_counter() - started)
    total = 0.0
    for trial in trials:  # inline and ordered: they finished in number order
        total += trial.cost_s or 0.0
        if total > budget:
            break
        run.trials.append(trial)
        run.spent.append(total)
    return run


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {spread:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=65.0, help="child seconds per study (cost clock)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_pruning"))
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 s per study: a 2-minute smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget = 1, 20.0
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if not args.data_dir.is_dir():
        parser.error(f"no Fashion-MNIST in {args.data_dir} (the four IDX files); give --data-dir")

    started = time.perf_counter()
    warm_up(args.data_dir, args.out)
    runs: dict[tuple[str, int], Run] = {}
    for seed in range(args.seeds):  # seeds outside, methods inside: a change of load hits every method
        for method in methods:
            run = runs[method, seed] = run_study(method, seed, args.budget, args.data_dir, args.out)
            best = run.best()
            pruned = sum(t.status == "pruned" for t in run.trials)
            print(
                f"{method:>15} seed {seed}: {len(run.trials)} children ({pruned} pruned), "
                f"{run.epochs():.0f} epochs, best val "
                f"{best.metrics['val_acc'] if best else float('nan'):.4f}, test of best "
                f"{best.metrics['test_acc'] if best else float('nan'):.4f} ({run.wall_s:.0f} s wall)",
                flush=True,
            )

    seeds = range(args.seeds)
    print(
        f"\nFashion-MNIST (1,500 training images), NAS-RL CNN space (3 layers), {EPOCHS} epochs per child; "
        f"{args.seeds} seed(s), {args.budget:g} child seconds per study; "
        f"{time.perf_counter() - started:.0f} s wall in all"
    )
    print(
        "| method | best val acc | test acc of best | children | pruned | epochs | "
        "compute to the no-pruner best, per seed: fraction of the budget (of its epochs) |"
    )
    print("|---|---|---|---|---|---|---|")
    for method in methods:
        own = [runs[method, s] for s in seeds]
        bests = [r.best() for r in own]
        vals = [b.metrics["val_acc"] for b in bests if b is not None]
        tests = [b.metrics["test_acc"] for b in bests if b is not None]
        reference = METHODS[method][3]
        ratios = "-"
        if reference is not None and reference in methods:
            parts = []
            for s in seeds:
                target_trial = runs[reference, s].best()
                if target_trial is None:
                    parts.append("n/a")
                    continue
                target = target_trial.metrics["val_acc"]
                reached = runs[method, s].compute_to(target)
                epochs = runs[method, s].epochs_to(target)
                parts.append(
                    "never"
                    if reached is None or epochs is None
                    else f"{reached / args.budget:.2f} (epochs {epochs / runs[reference, s].epochs():.2f})"
                )
            ratios = f"{', '.join(parts)} (vs {reference})"
        else:  # the no-pruner run: when it reached its own best
            parts = []
            for run in own:
                best = run.best()
                reached = None if best is None else run.compute_to(best.metrics["val_acc"])
                parts.append("n/a" if reached is None else f"{reached / args.budget:.2f}")
            ratios = f"its own best at {', '.join(parts)}"
        print(
            f"| {method} | {mean_std(vals)} | {mean_std(tests)} | "
            f"{statistics.mean(len(r.trials) for r in own):.1f} | "
            f"{statistics.mean(sum(t.status == 'pruned' for t in r.trials) for r in own):.1f} | "
            f"{statistics.mean(r.epochs() for r in own):.0f} | {ratios} |"
        )
    full = [
        (t.cost_s, t.metrics["train_time_s"]) for r in runs.values() for t in r.trials if t.status == "ok"
    ]
    costs = [(cost, train) for cost, train in full if cost]
    if costs:
        outside = statistics.mean(1 - train / cost for cost, train in costs)
        print(
            f"a child trained to the end costs {statistics.mean(c for c, _ in costs):.1f} s on average "
            f"({outside:.0%} of it outside the training steps: validation, the test pass, building)"
        )
    for method in methods:
        reference = METHODS[method][3]
        if reference is None or reference not in methods:
            continue
        better = 0
        reached_third = 0
        for s in seeds:
            mine, theirs = runs[method, s].best(), runs[reference, s].best()
            if mine is None or theirs is None:
                continue
            better += mine.metrics["val_acc"] > theirs.metrics["val_acc"]
            at = runs[method, s].compute_to(theirs.metrics["val_acc"])
            reached_third += at is not None and at <= args.budget / 3 + 1e-9
        print(
            f"{method} vs {reference}: reached its best within a third of the compute on {reached_third} of "
            f"{args.seeds} seeds; a better child at equal compute on {better} of {args.seeds}"
        )


if __name__ == "__main__":
    main()
