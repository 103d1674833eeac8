"""Local scaling: the same search with 1 and 2 workers, for the process pool and for Ray.

Usage: python benchmarks/scaling_local.py [--trials 16] [--workers 1 2] [--executors pool ray]
                                          [--epochs 4] [--train-limit 1200] [--num-layers 3]

Random search on the NAS-RL CNN space (so every run samples the same architectures, whatever the worker
count) with the digits training evaluator at a small fixed cost per child (one torch thread each),
``ordered=False`` and ``max_concurrent = workers``. Each executor is built and warmed up before the clock
starts: one evaluation per worker, all at once, so the worker processes exist and have imported torch
(for Ray: ``ray.init`` plus its worker processes). That start-up is printed separately; the timed part
is ``Study.run()`` alone, given the warmed executor. The span from the first trial's ``started_at`` to the
last trial's ``finished_at`` in the store is printed too, as a check. Study directories live in a
temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path

from archsearch.config import Component, StudyConfig
from archsearch.executors.base import Executor
from archsearch.registry import construct
from archsearch.study import Study


def make_config(args: argparse.Namespace, executor: str, workers: int) -> StudyConfig:
    return StudyConfig(
        seed=args.seed,
        n_trials=args.trials,
        executor=executor,
        workers=workers,
        max_concurrent=workers,
        ordered=False,
        space=Component(name="nasrl_cnn", params={"num_layers": args.num_layers}),
        strategy=Component(name="random"),
        evaluator=Component(
            name="training",
            params={
                "dataset": "digits",
                "epochs": args.epochs,
                "train_limit": args.train_limit,
                "batch_size": 64,
                "threads": 1,
                "device": "cpu",
            },
        ),
    )


def build_executor(config: StudyConfig) -> Executor:
    if config.executor == "ray":
        from archsearch.executors.ray import RayExecutor

        return RayExecutor(num_cpus=config.workers)
    from archsearch.executors.pool import PoolExecutor

    return PoolExecutor(config.workers)


def warm_up(executor: Executor, config: StudyConfig) -> None:
    """One evaluation per worker at once (architectures from another seed; results are discarded)."""
    space = construct("space", config.space.name, config.space.params)
    evaluator = construct("evaluator", config.evaluator.name, config.evaluator.params)
    sampler = construct("strategy", "random", {}, space=space, seed=config.seed + 1000)
    futures = [executor.submit(evaluator, space, sampler.ask(), i) for i in range(executor.workers)]
    wait(futures)
    for future in futures:
        future.result()


def run_one(args: argparse.Namespace, executor_name: str, workers: int, root: Path) -> dict:
    config = make_config(args, executor_name, workers)
    study = Study.create(config, root / f"{executor_name}-{workers}")
    start = time.perf_counter()
    executor = build_executor(config)
    built = time.perf_counter()
    try:
        assert executor.workers == workers, f"{executor_name}: {executor.workers} workers, wanted {workers}"
        warm_up(executor, config)
        warmed = time.perf_counter()
        study.run(executor=executor)
        wall = time.perf_counter() - warmed
        trials = study.store.trials()
    finally:
        executor.shutdown()
        study.close()
    assert len(trials) == args.trials and all(t.finished for t in trials)
    span = max(t.finished_at or 0.0 for t in trials) - min(t.started_at for t in trials)
    return {
        "executor": executor_name,
        "workers": workers,
        "build_s": built - start,
        "warm_s": warmed - built,
        "wall_s": wall,
        "span_s": span,
        "cost_s": sum(t.cost_s or 0.0 for t in trials),
        "failed": sum(t.status != "ok" for t in trials),
        "archs": [t.arch_str for t in sorted(trials, key=lambda t: t.number)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--executors", nargs="+", choices=["pool", "ray"], default=["pool", "ray"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-limit", type=int, default=1200)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{args.trials} trials per run, random search, nasrl_cnn {args.num_layers} layers, digits "
        f"train_limit {args.train_limit}, {args.epochs} epochs, 1 torch thread per child; "
        f"{os.cpu_count()} CPUs visible"
    )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        if "ray" in args.executors and not (
            os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
        ):
            # Ray keeps the first auth token it read for the life of the process, so the second local
            # Ray started here must get the same token: one token file for all the runs
            token = Path(tmp) / "auth_token"
            token.write_text(secrets.token_hex(32))
            token.chmod(0o600)
            os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)
        for executor_name in args.executors:
            for workers in args.workers:
                row = run_one(args, executor_name, workers, Path(tmp))
                rows.append(row)
                print(
                    f"{executor_name:>4} x{workers}: start-up {row['build_s']:.1f} s + warm-up "
                    f"{row['warm_s']:.1f} s (not timed), Study.run {row['wall_s']:.1f} s, "
                    f"first start to last finish {row['span_s']:.1f} s, summed child cost "
                    f"{row['cost_s']:.1f} s, failed {row['failed']}",
                    flush=True,
                )
    same = all(r["archs"] == rows[0]["archs"] for r in rows)
    print(f"\nsame architectures in every run: {same}")
    print(
        f"{'executor':>8} | {'workers':>7} | {'start-up s':>10} | {'Study.run s':>11} | "
        f"{'children/hour':>13} | speedup vs {min(args.workers)} worker"
    )
    for row in rows:
        base = next(r for r in rows if r["executor"] == row["executor"] and r["workers"] == min(args.workers))
        print(
            f"{row['executor']:>8} | {row['workers']:>7} | {row['build_s'] + row['warm_s']:>10.1f} | "
            f"{row['wall_s']:>11.1f} | {3600 * args.trials / row['wall_s']:>13.0f} | "
            f"{base['wall_s'] / row['wall_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
