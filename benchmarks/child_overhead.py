"""Claim: TrainingEvaluator trains a child network as fast as a plain hand-written PyTorch loop (>= 0.95x).

Both sides train the same child (NAS-RL CNN space, fixed 3-layer architecture with skip connections)
from the same seed on the same training/validation split, with the same optimizer (SGD, Nesterov momentum 0.9, lr 0.1, weight decay 1e-4, cosine schedule
per epoch), batch size, per-epoch validation and final test pass, on 1 torch thread. Runs alternate so
that drifts in machine load hit both sides alike. Prints training images/s of each and the ratio.

    .venv/bin/python benchmarks/child_overhead.py --epochs 5 --repeats 5
    .venv/bin/python benchmarks/child_overhead.py --dataset fashion-mnist --data-dir ../shared/data/fashion-mnist \
        --train-limit 10000 --epochs 2 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.core import Architecture, SearchSpace
from archsearch.evaluators.training import DataSplit, TrainingEvaluator
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace

SEED = 0


def child() -> tuple[NasRLCNNSpace, Architecture]:
    """A fixed 3-layer NAS-RL CNN: three 3x3 convolutions of 24 filters, each fed by all earlier ones."""
    space = NasRLCNNSpace(num_layers=3)
    return space, Architecture(space.name, ((), 3, 3, 24, (0,), 3, 3, 24, (0, 1), 3, 3, 24))


def plain_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1024):
            correct += (model(x[i : i + 1024]).argmax(1) == y[i : i + 1024]).sum().item()
    return correct / len(x)


def plain_loop(
    space: SearchSpace, arch: Architecture, data: DataSplit, epochs: int, batch_size: int
) -> dict[str, Any]:
    """The loop one writes by hand: returns training images/s, wall seconds and the validation curve."""
    started = time.perf_counter()
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model = space.build(arch, data.input_shape, data.num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    x, y = data.train_x, data.train_y
    train_time = 0.0
    val_curve = []
    for _ in range(epochs):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch_size):
            index = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        train_time += time.perf_counter() - epoch_start
        schedule.step()
        val_curve.append(plain_accuracy(model, data.val_x, data.val_y))
    plain_accuracy(model, data.test_x, data.test_y)
    return {
        "images_per_s": len(x) * epochs / train_time,
        "wall_s": time.perf_counter() - started,
        "val_acc": val_curve,
    }


def archsearch_loop(evaluator: TrainingEvaluator, space: SearchSpace, arch: Architecture) -> dict[str, Any]:
    result = evaluator.evaluate(space, arch, seed=SEED)
    if not result.ok:
        raise SystemExit(f"archsearch run failed: {result.error}")
    return {
        "images_per_s": result.metrics["images_per_s"],
        "wall_s": result.cost_s,
        "val_acc": result.curve["val_acc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    torch.set_num_threads(1)
    space, arch = child()
    evaluator = TrainingEvaluator(
        dataset=args.dataset,
        data_dir=args.data_dir,
        train_limit=args.train_limit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device="cpu",
        threads=1,
    )
    data = evaluator.split("cpu")  # the same tensors the evaluator trains on
    if len(data.train_x) % args.batch_size == 1:
        raise SystemExit("choose a batch size that leaves no trailing batch of one image")
    print(
        f"child {space.encode(arch)} ({space.name}); {args.dataset}: {len(data.train_x)} train, "
        f"{len(data.val_x)} val images; {args.epochs} epochs, batch {args.batch_size}, 1 thread"
    )
    plain_loop(space, arch, data, 1, args.batch_size)  # warm-up: allocator, kernels, lazy imports
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "archsearch": []}
    for repeat in range(args.repeats):
        order = ["plain", "archsearch"] if repeat % 2 == 0 else ["archsearch", "plain"]
        for side in order:
            run = (
                plain_loop(space, arch, data, args.epochs, args.batch_size)
                if side == "plain"
                else archsearch_loop(evaluator, space, arch)
            )
            runs[side].append(run)
        pair = runs["archsearch"][-1]["images_per_s"] / runs["plain"][-1]["images_per_s"]
        print(
            f"repeat {repeat + 1}: plain {runs['plain'][-1]['images_per_s']:9.0f} img/s   "
            f"archsearch {runs['archsearch'][-1]['images_per_s']:9.0f} img/s   ratio {pair:.3f}"
        )
    same_curve = max(
        abs(a - b) for a, b in zip(runs["plain"][0]["val_acc"], runs["archsearch"][0]["val_acc"], strict=True)
    )
    plain_speed = statistics.median(r["images_per_s"] for r in runs["plain"])
    ours_speed = statistics.median(r["images_per_s"] for r in runs["archsearch"])
    plain_wall = statistics.median(r["wall_s"] for r in runs["plain"])
    ours_wall = statistics.median(r["wall_s"] for r in runs["archsearch"])
    print(f"validation curves differ by at most {same_curve:.4f} (same seed, same work)")
    print(f"median training images/s: plain {plain_speed:.0f}, archsearch {ours_speed:.0f}")
    print(
        f"median wall per trial (build, train, validate, test): plain {plain_wall:.2f} s, archsearch {ours_wall:.2f} s"
    )
    print(
        f"ratio archsearch/plain: {ours_speed / plain_speed:.3f}x images/s, {plain_wall / ours_wall:.3f}x wall speed (target >= 0.95x)"
    )


if __name__ == "__main__":
    main()
