"""Claim: a child built from a user's model space trains as fast as the same network written by hand (>= 0.97x).

The child is one architecture of the Fashion-MNIST example space (``examples/spaces.py``: ``conv1`` a 5x5 convolution, ``conv2`` a
depthwise-separable convolution, ``hidden`` 64, ``dropout`` 0.25). Side (a) is that network written by hand as
a plain ``nn.Module``; side (b) is the module archsearch builds from the space (``ModelSpace.build``, which
constructs ``FashionCNN`` under ``fixed_arch``). Both must have the same parameters (count, names and shapes);
side (b) starts from side (a)'s initial weights, so the two runs do the same arithmetic and their losses must
agree. Both train with the same plain loop (SGD, Nesterov momentum 0.9, lr 0.05, batch 64) on the same
images on 1 torch thread, batch by batch in turn (one step of one side, then the same step of the other;
which side leads alternates between rounds), so that load changes on a busy machine hit both sides alike.
Prints training images/s of each side (its own steps' time), the ratio per round and the median ratio.

    .venv/bin/python benchmarks/user_space_overhead.py                       # ../shared data if present
    .venv/bin/python benchmarks/user_space_overhead.py --train-limit 10000 --epochs 1 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the examples package lives beside src/

from examples.fashion_data import default_directory, load_fashion_mnist  # noqa: E402
from examples.spaces import DepthwiseSeparable, FashionCNN  # noqa: E402

from archsearch import ModelSpace, fixed_arch  # noqa: E402

SEED = 0
CHOSEN = {"conv1": "conv5x5", "conv2": "sepconv3x3", "hidden": 64, "dropout": 0.25}


class HandWrittenCNN(nn.Module):
    """The chosen child of ``FashionCNN`` as one writes it without archsearch (same attribute names)."""

    def __init__(self, num_classes: int = 10, channels: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 5, padding=2)
        self.pool1 = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = DepthwiseSeparable(channels, 2 * channels)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv2(self.pool1(self.conv1(x))))


def parameter_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def train_side_by_side(
    models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, first: str
) -> dict[str, dict[str, Any]]:
    """The plain loop for every model at once, one batch each in turn (``first`` leads), so that load
    changes on a busy machine hit all sides alike. Each side has its own optimizer and its own copy of
    torch's random state (the same dropout masks on every side). Returns per side the training images/s
    (its own steps' time only) and the mean loss of the last epoch."""
    sides = sorted(models, key=lambda side: side != first)
    torch.manual_seed(SEED)
    states = {side: torch.get_rng_state() for side in sides}
    optimizers = {
        side: torch.optim.SGD(models[side].parameters(), lr=0.05, momentum=0.9, nesterov=True)
        for side in sides
    }
    elapsed = dict.fromkeys(sides, 0.0)
    totals = dict.fromkeys(sides, 0.0)
    generator = torch.Generator().manual_seed(SEED)
    for model in models.values():
        model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        totals = dict.fromkeys(sides, 0.0)
        for i in range(0, len(x), batch_size):
            index = order[i : i + batch_size]
            inputs, targets = x[index], y[index]
            for side in sides:
                torch.set_rng_state(states[side])
                started = time.perf_counter()
                loss = F.cross_entropy(models[side](inputs), targets)
                optimizers[side].zero_grad()
                loss.backward()
                optimizers[side].step()
                value = loss.item()
                elapsed[side] += time.perf_counter() - started
                states[side] = torch.get_rng_state()
                totals[side] += value * len(index)
    return {
        side: {"images_per_s": len(x) * epochs / elapsed[side], "loss": totals[side] / len(x)}
        for side in sides
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=None, help="Fashion-MNIST IDX directory (default: ../shared or the slice)"
    )
    parser.add_argument("--train-limit", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    torch.set_num_threads(1)
    directory = Path(args.data) if args.data else default_directory(quick=False)
    train_x, train_y, _, _ = load_fashion_mnist(directory, args.train_limit)
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    print(
        f"data: {directory} ({len(x)} training images); {args.epochs} epoch(s), batch {args.batch_size}, 1 thread"
    )

    space = ModelSpace(FashionCNN)
    arch = space.architecture(CHOSEN)
    torch.manual_seed(SEED)
    initial = HandWrittenCNN().state_dict()
    with fixed_arch(CHOSEN):
        under_fixed_arch = FashionCNN()

    def hand_written() -> nn.Module:
        model = HandWrittenCNN()
        model.load_state_dict(initial)
        return model

    def built() -> nn.Module:
        model = space.build(arch, input_shape=(1, 28, 28), num_classes=10)
        model.load_state_dict(initial)  # strict: the same names and shapes, nothing more
        return model

    shapes = parameter_shapes(hand_written())
    same_shapes = shapes == parameter_shapes(built()) == parameter_shapes(under_fixed_arch)
    hand_params = sum(p.numel() for p in hand_written().parameters())
    built_params = sum(p.numel() for p in built().parameters())
    print(
        f"child {space.encode(arch)}: parameters hand-written {hand_params:,}, built {built_params:,}, "
        f"under fixed_arch {sum(p.numel() for p in under_fixed_arch.parameters()):,}; "
        f"names and shapes equal: {same_shapes}"
    )
    print(f"built module: {type(built()).__name__}, leftover search modules: {leftovers(built())}")

    warm_up = {"hand-written": hand_written(), "built": built()}
    train_side_by_side(warm_up, x[:1024], y[:1024], 1, args.batch_size, "built")  # allocator, kernels
    runs: dict[str, list[dict[str, Any]]] = {"hand-written": [], "built": []}
    ratios = []
    for repeat in range(args.repeats):
        order = ["hand-written", "built"] if repeat % 2 == 0 else ["built", "hand-written"]
        models = {"hand-written": hand_written(), "built": built()}
        measured = train_side_by_side(models, x, y, args.epochs, args.batch_size, order[0])
        for side in order:
            runs[side].append(measured[side])
        hand, ours = runs["hand-written"][-1], runs["built"][-1]
        ratios.append(ours["images_per_s"] / hand["images_per_s"])
        print(
            f"round {repeat + 1} ({order[0]} first): hand-written {hand['images_per_s']:7.0f} img/s   "
            f"built {ours['images_per_s']:7.0f} img/s   ratio {ratios[-1]:.3f}   "
            f"loss {hand['loss']:.5f} / {ours['loss']:.5f}"
        )
    loss_gap = max(
        abs(a["loss"] - b["loss"]) for a, b in zip(runs["hand-written"], runs["built"], strict=True)
    )
    hand_speed = statistics.median(r["images_per_s"] for r in runs["hand-written"])
    ours_speed = statistics.median(r["images_per_s"] for r in runs["built"])
    print(f"final losses differ by at most {loss_gap:.2e} (same initial weights, same batches)")
    print(f"median training images/s: hand-written {hand_speed:.0f}, built by archsearch {ours_speed:.0f}")
    print(
        f"ratio built/hand-written: median of rounds {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}); ratio of medians {ours_speed / hand_speed:.3f} "
        f"(target >= 0.97); parameter counts equal: {hand_params == built_params}"
    )


def leftovers(model: nn.Module) -> list[str]:
    """Names of submodules that come from archsearch (none should survive in a built child)."""
    return [name for name, m in model.named_modules() if type(m).__module__.startswith("archsearch")]


if __name__ == "__main__":
    main()
