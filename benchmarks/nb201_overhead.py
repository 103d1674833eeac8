"""Real time of a simulated NAS-Bench-201 search, per strategy, against a bare numpy loop.

Usage: python benchmarks/nb201_overhead.py [--runs 20] [--strategies random,evolution,...]

Each strategy runs ``--runs`` whole 12,000 s searches on CIFAR-10 through archsearch's ask/tell loop
(`bench.nb201.run_search`, the path `archsearch bench nb201` takes); the bare loop is random search written
directly on the table's numpy arrays. Prints the mean real time per search, the per-query (ask + evaluate +
tell) overhead in microseconds and the ratio to the bare loop. Targets: < 0.05 s per search for random and
evolution, < 1 s for the LSTM strategies.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from archsearch.bench.nb201 import run_search
from archsearch.evaluators.tabular import load_table

STRATEGIES = "random,evolution,local_search,asng,categorical_reinforce,reinforce,ppo"


def bare_random_search(seed: int, budget_s: float = 12_000.0) -> int:
    """Random search on the arrays: what a search costs without any framework."""
    table = load_table("cifar10")
    rng = np.random.default_rng(seed)
    clock, best_signal, best = 0.0, -1.0, -1
    while True:
        index = int(rng.integers(15_625))
        signal = table.search_signal(index, 12, rng)
        cost = table.cost_s(index)
        if clock + cost > budget_s:
            return best
        clock += cost
        if signal > best_signal:
            best_signal, best = signal, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--strategies", default=STRATEGIES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.strategies.split(","):  # warm up: imports, table load, first optimizer step
        run_search(name, "cifar10", 12_000, seed=10_000)
    bare_random_search(0)
    start = time.perf_counter()
    for seed in range(args.runs):
        bare_random_search(seed)
    bare_s = (time.perf_counter() - start) / args.runs
    print(f"bare numpy random search: {1000 * bare_s:.2f} ms per 12,000 s search")
    print(f"{'strategy':>22} | ms / search | queries | us / query | x bare loop")
    for name in args.strategies.split(","):
        start = time.perf_counter()
        queries = sum(run_search(name, "cifar10", 12_000, seed).queries for seed in range(args.runs))
        per_search = (time.perf_counter() - start) / args.runs
        per_query_us = 1e6 * per_search * args.runs / queries
        print(
            f"{name:>22} | {1000 * per_search:11.1f} | {queries / args.runs:7.0f} | {per_query_us:10.0f} "
            f"| {per_search / bare_s:9.1f}"
        )


if __name__ == "__main__":
    main()
