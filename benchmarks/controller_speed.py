"""Controller cost per architecture (sample + REINFORCE update) and its share of a demo trial.

Usage: python benchmarks/controller_speed.py [--samples 200] [--trial-seconds S]

The share compares the controller's milliseconds per architecture with the mean wall time of a child
trained by the default demo's evaluator (measured here on a few random architectures unless
--trial-seconds is given). Target: < 1%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from archsearch.config import StudyConfig
from archsearch.core import Result
from archsearch.registry import construct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--children", type=int, default=3, help="demo children to time for the share")
    parser.add_argument("--trial-seconds", type=float, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = StudyConfig()
    space = construct("space", config.space.name, config.space.params)
    strategy = construct("strategy", config.strategy.name, config.strategy.params, space=space, seed=0)
    rng = np.random.default_rng(0)
    ask_s = tell_s = 0.0
    for _ in range(args.samples):
        t0 = time.perf_counter()
        arch = strategy.ask()
        t1 = time.perf_counter()
        strategy.tell(arch, Result(), float(rng.random()))
        t2 = time.perf_counter()
        ask_s += t1 - t0
        tell_s += t2 - t1
    per_arch_ms = 1000 * (ask_s + tell_s) / args.samples
    print(
        f"space {config.space.name} {config.space.params}, strategy {config.strategy.name} {config.strategy.params}"
    )
    print(
        f"sample: {1000 * ask_s / args.samples:.2f} ms/arch   update: {1000 * tell_s / args.samples:.2f} ms/arch"
    )
    print(f"controller total: {per_arch_ms:.2f} ms per architecture")
    trial_s = args.trial_seconds
    if trial_s is None:
        evaluator = construct("evaluator", config.evaluator.name, config.evaluator.params)
        random_space_rng = np.random.default_rng(1)
        costs = [
            evaluator.evaluate(space, space.sample(random_space_rng), seed=i).cost_s
            for i in range(args.children)
        ]
        trial_s = float(np.mean(costs))
        print(f"demo child training: {trial_s:.2f} s mean over {args.children} random architectures")
    share = per_arch_ms / 1000 / trial_s
    print(
        f"controller share of a trial: {100 * share:.3f}% (target < 1%): {'PASS' if share < 0.01 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
