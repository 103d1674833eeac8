"""NAS-RL's parameter server on Ray actors: the driver's cost per child, and staleness, on a local Ray.

Usage: python benchmarks/ps_ray.py [--trials 64] [--m 8] [--setups 1x1 4x4] [--dataset cifar10]

The children are NAS-Bench-201 table lookups (milliseconds of wall time), so what is timed is the
machinery around them: for each K x S setup (K replica actors, S shard actors) the study runs once on Ray
and once in-process (``nasrl_ps`` on the inline executor, the same strategy code without actors). Printed
per setup: actor start-up, the rest of the run (children/hour of wall clock), the driver's mean time per
sample (the replica's pull and sampling, the checkpoint, writing the m rows and launching the children),
per gathering of all shard and replica state for a checkpoint, per push (the replica's gradient and the
shards' Adam steps), per finished trial (its store write, including the batch's push and checkpoint on
the last one), and the staleness of the pushes. One local Ray
with 2 CPUs serves all setups; study directories live in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.config import Component, StudyConfig
from archsearch.executors.ray import RayExecutor
from archsearch.parameter_server.ray_driver import RayParameterServerRun
from archsearch.study import Study

TIMED = ("_start_actors", "_sample", "_state", "_finish", "_complete")


def make_config(args: argparse.Namespace, executor: str, replicas: int, shards: int) -> StudyConfig:
    return StudyConfig(
        seed=0,
        n_trials=args.trials,
        executor=executor,
        space=Component(name="nb201"),
        strategy=Component(
            name="nasrl_ps",
            params={"num_replicas": replicas, "num_shards": shards, "children_per_replica": args.m},
        ),
        evaluator=Component(name="tabular", params={"dataset": args.dataset}),
        reward=Component(name="acc_cubed", params={"power": 1}),
    )


def timed_methods(spent: dict[str, float], calls: dict[str, int]) -> Callable[[], None]:
    """Wrap the driver's methods to add up their wall time in ``spent`` and count ``calls``; returns undo."""
    originals = {name: getattr(RayParameterServerRun, name) for name in TIMED}

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
                calls[name] += 1

        return timed

    for name, method in originals.items():
        setattr(RayParameterServerRun, name, wrap(name, method))

    def undo() -> None:
        for name, method in originals.items():
            setattr(RayParameterServerRun, name, method)

    return undo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--m", type=int, default=8)
    parser.add_argument("--setups", nargs="+", default=["1x1", "4x4"], help="KxS: replicas x shards")
    parser.add_argument("--dataset", default="cifar10")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    start = time.perf_counter()
    executor = RayExecutor(num_cpus=2)
    print(f"ray.init: {time.perf_counter() - start:.1f} s")
    header = "| K x S | actors start s | run s | children/h | sample ms | state gather ms | push ms |"
    header += " finish ms/child | in-process run s | staleness mean / max |"
    rows = [header, "|" + "---|" * 10]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for setup in args.setups:
                replicas, shards = (int(x) for x in setup.split("x"))
                spent: dict[str, float] = defaultdict(float)
                calls: dict[str, int] = defaultdict(int)
                undo = timed_methods(spent, calls)
                study = Study.create(make_config(args, "ray", replicas, shards), Path(tmp) / f"ray{setup}")
                begin = time.perf_counter()
                try:
                    study.run(executor=executor)
                finally:
                    undo()
                total = time.perf_counter() - begin
                trials = study.store.trials()
                study.close()
                staleness = [t.info["staleness"] for t in trials if "staleness" in t.info]
                run_s = total - spent["_start_actors"]
                local = Study.create(make_config(args, "inline", replicas, shards), Path(tmp) / f"in{setup}")
                begin = time.perf_counter()
                local.run()
                local_s = time.perf_counter() - begin
                local.close()
                rows.append(
                    f"| {replicas} x {shards} | {spent['_start_actors']:.1f} | {run_s:.1f} |"
                    f" {3600 * len(trials) / run_s:,.0f} |"
                    f" {1000 * spent['_sample'] / calls['_sample']:.0f} |"
                    f" {1000 * spent['_state'] / calls['_state']:.0f} |"
                    f" {1000 * spent['_complete'] / calls['_complete']:.0f} |"
                    f" {1000 * spent['_finish'] / len(trials):.0f} | {local_s:.1f} |"
                    f" {np.mean(staleness):.2f} / {max(staleness):.0f} |"
                )
                print(rows[-1], flush=True)
    finally:
        executor.shutdown()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
