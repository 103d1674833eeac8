"""Cost per search epoch and quality of the found NB201 cell: ENAS, DARTS (1st, 2nd order), ASNG-NAS.

Usage: python benchmarks/oneshot_cost.py [--seeds 3] [--epochs 3] [--dataset digits] [--data-dir DIR]
       [--train-limit N] [--channels 8] [--cells-per-stage 1] [--batch-size 64] [--device cpu]

Every method searches the same NB201 supernet (same sizes, same initial weights per seed) on the same
train/validation split through ``OneShotRun``, the path ``archsearch oneshot`` takes; the seeds of the
methods are interleaved so that a change in machine load touches them all alike. Wall time per epoch is
the time of the epoch's ``step`` calls (``EpochRecord.wall_s``: no derivation, logging or storage). The
found cell is scored by its true 200-epoch CIFAR-10 test accuracy in the NAS-Bench-201 table. Prints the
mean epoch time of each method and its ratio to ASNG-NAS; the claim (Akimoto et al. 2019, section 5) is
that ASNG-NAS is the cheapest, and at least 3x cheaper than second-order DARTS.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch.oneshot.run import OneShotRun, parse_oneshot_config

# ENAS trains its controller for 2,000 steps after each pass over the training data (Pham et al. 2018,
# section 2.2): archsearch's default spreads them over the epoch's minibatches, which on a small data set
# is many per minibatch (about 182 for digits' 11). Over CIFAR-10's 45,000 training images in batches of 160
# (the code's micro search) the same count is 2,000 / 281 = 7 per minibatch: the second ENAS row.
ENAS_CIFAR_CONTROLLER_STEPS = 7
METHODS: dict[str, dict[str, Any]] = {
    "ENAS (default)": {"method": "enas"},
    "ENAS (7 per batch)": {"method": "enas", "hyper": {"controller_steps": ENAS_CIFAR_CONTROLLER_STEPS}},
    "DARTS 1st order": {"method": "darts", "order": 1},
    "DARTS 2nd order": {"method": "darts", "order": 2},
    "ASNG-NAS": {"method": "asng"},
}
CLAIM_RATIO = 3.0


def search(
    settings: dict[str, Any], method: dict[str, Any], seed: int, epochs: int, root: Path
) -> dict[str, Any]:
    config = parse_oneshot_config({**settings, **method, "seed": seed, "epochs": epochs})
    run = OneShotRun.create(config, root / f"{len(list(root.iterdir()))}")
    try:
        summary = run.run()
        epoch_s = [record.wall_s for record in run.store.epochs()]
    finally:
        run.close()
    return {
        "epoch_s": float(np.mean(epoch_s)),
        "test_acc": summary["nb201"]["cifar10"]["test_acc_200ep"],
        "collapsed": summary["collapse"]["collapsed"],
        "dominated": summary["collapse"]["parameter_free_dominated"],
        "cell": summary["arch_str"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells-per-stage", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    settings = {
        "space": "nb201",
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "train_limit": args.train_limit,
        "batch_size": args.batch_size,
        "device": args.device,
        "threads": args.threads,
        "supernet": {"channels": args.channels, "cells_per_stage": args.cells_per_stage},
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in METHODS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for method in METHODS.values():  # warm-up: imports, data, first steps; not timed
            search(settings, method, seed=10_000, epochs=1, root=root)
        for seed in range(args.seeds):
            for name, method in METHODS.items():
                results[name].append(search(settings, method, seed, args.epochs, root))
    data = f"{args.dataset}" + (f" (first {args.train_limit} training images)" if args.train_limit else "")
    print(
        f"NB201 supernet C={args.channels}, N={args.cells_per_stage} on {data}, batch {args.batch_size}, "
        f"{args.epochs} epochs x {args.seeds} seeds, device {args.device}, torch threads {torch.get_num_threads()}"
    )
    asng_s = float(np.mean([r["epoch_s"] for r in results["ASNG-NAS"]]))
    print(
        f"{'method':>18} | s / epoch       | x ASNG-NAS | CIFAR-10 test acc of found cell (%) | collapsed | param-free dominated"
    )
    for name, runs in results.items():
        times = np.array([r["epoch_s"] for r in runs])
        accs = np.array([r["test_acc"] for r in runs])
        collapsed = sum(r["collapsed"] for r in runs)
        dominated = sum(r["dominated"] and not r["collapsed"] for r in runs)
        print(
            f"{name:>18} | {times.mean():6.3f} ± {times.std():5.3f} | {times.mean() / asng_s:10.2f} | "
            f"{accs.mean():6.2f} ± {accs.std():5.2f} ({', '.join(f'{a:.2f}' for a in accs)}) | "
            f"{collapsed} of {len(runs)} | {dominated} of {len(runs)}"
        )
    for name, runs in results.items():
        print(f"  {name} cells: " + "; ".join(r["cell"] for r in runs))
    means = {name: float(np.mean([r["epoch_s"] for r in runs])) for name, runs in results.items()}
    cheapest = min(means, key=means.__getitem__)
    ratio = means["DARTS 2nd order"] / asng_s
    print(
        f"cheapest per epoch: {cheapest}; DARTS 2nd order / ASNG-NAS = {ratio:.2f}x (claim: >= {CLAIM_RATIO:.0f}x)"
    )
    print(f"total wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
