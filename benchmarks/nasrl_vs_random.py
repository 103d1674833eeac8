"""REINFORCE (NAS-RL) against random search on digits at equal trial counts.

Usage: python benchmarks/nasrl_vs_random.py [--seeds 3] [--trials 24] [--out runs/bench_nasrl]

Runs the built-in default study (NAS-RL space on digits, the demo's child training) once per seed and
strategy, then prints the best validation accuracy (and the test accuracy of that trial) per strategy as
mean and spread, and the mean best-so-far reward at a few trial counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from archsearch.config import Component, StudyConfig
from archsearch.study import Study, best_trial


def run(strategy: Component, seed: int, trials: int, directory: Path, reuse: bool) -> list:
    if reuse and (directory / "study.db").exists():
        study = Study.load(directory)
        if (
            study.config.strategy == strategy
            and study.config.seed == seed
            and study.config.n_trials == trials
        ):
            try:
                study.run()  # finishes an interrupted run, does nothing for a complete one
                return study.store.trials()
            finally:
                study.close()
        study.close()
    config = StudyConfig(seed=seed, n_trials=trials, strategy=strategy)
    study = Study.create(config, directory, overwrite=True)
    try:
        study.run()
        return study.store.trials()
    finally:
        study.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=StudyConfig().n_trials)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_nasrl"))
    parser.add_argument(
        "--reuse", action="store_true", help="reuse finished studies of the same setting in --out"
    )
    args = parser.parse_args()
    strategies = {"reinforce": StudyConfig().strategy, "random": Component(name="random")}
    summary: dict[str, dict[str, list[float]]] = {}
    for name, strategy in strategies.items():
        rows = summary.setdefault(name, {"best_val": [], "test_of_best": [], "curve": [], "late_reward": []})
        for seed in range(args.seeds):
            trials = run(strategy, seed, args.trials, args.out / f"{name}-{seed}", args.reuse)
            best = best_trial(trials)
            assert best is not None, f"{name} seed {seed}: no successful trial"
            rows["best_val"].append(
                max(max(t.curve.get("val_acc", [0.0])[-5:]) for t in trials if t.status == "ok")
            )
            rows["test_of_best"].append(best.metrics["test_acc"])
            rewards = [t.reward if t.status == "ok" and t.reward is not None else 0.0 for t in trials]
            rows["curve"].append(np.maximum.accumulate(rewards).tolist())
            rows["late_reward"].append(float(np.mean(rewards[len(rewards) // 2 :])))
            print(
                f"{name:>9} seed {seed}: best val acc {rows['best_val'][-1]:.4f}, "
                f"test acc of best {rows['test_of_best'][-1]:.4f}, failed {sum(t.status != 'ok' for t in trials)}"
            )
    print(f"\n{args.seeds} seeds x {args.trials} trials, digits, default child training")
    print(f"{'strategy':>9} | best val acc   | test acc of best | mean reward of the 2nd half  (mean +- std)")
    for name, rows in summary.items():
        val, test, late = (np.array(rows[k]) for k in ("best_val", "test_of_best", "late_reward"))
        print(
            f"{name:>9} | {val.mean():.4f} +- {val.std():.4f} | {test.mean():.4f} +- {test.std():.4f} "
            f"| {late.mean():.4f} +- {late.std():.4f}"
        )
    checkpoints = sorted({max(1, args.trials // 4), args.trials // 2, args.trials})
    print("mean best-so-far reward at trial " + ", ".join(str(c) for c in checkpoints))
    for name, rows in summary.items():
        curve = np.array(rows["curve"]).mean(axis=0)
        print(f"{name:>9}: " + ", ".join(f"{curve[c - 1]:.4f}" for c in checkpoints))


if __name__ == "__main__":
    main()
