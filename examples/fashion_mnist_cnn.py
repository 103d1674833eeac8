"""Search a small CNN on Fashion-MNIST with regularized evolution, export the best child with its trained
weights, and score the exported model on the test set in a fresh process.

Run from the repository root (a few minutes on 2 CPU cores; ``--quick`` takes seconds on the 400-image slice
in tests/real_data):

    .venv/bin/python -m examples.fashion_mnist_cnn --data ../shared/data/fashion-mnist --out runs/fashion-cnn
    .venv/bin/python -m examples.fashion_mnist_cnn --quick --out runs/fashion-cnn-quick

Afterwards the run is an ordinary study: ``archsearch status runs/fashion-cnn``, ``archsearch best
runs/fashion-cnn``, ``archsearch report runs/fashion-cnn``, ``archsearch export runs/fashion-cnn``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import archsearch
from examples.fashion_data import default_directory, load_fashion_mnist
from examples.spaces import FashionCNN


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="directory of the four Fashion-MNIST IDX files")
    parser.add_argument("--out", default="runs/fashion-cnn", help="run directory (replaced if it exists)")
    parser.add_argument(
        "--quick", action="store_true", help="the test slice, 4 trials of 1 epoch, no workers"
    )
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--train-limit", type=int, default=10000, help="first N training images (N/5 validate)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.epochs, args.train_limit = 4, 1, None
    args.data = Path(args.data) if args.data else default_directory(args.quick)
    return args


def search(args: argparse.Namespace) -> archsearch.Study:
    train_x, train_y, test_x, test_y = load_fashion_mnist(args.data, args.train_limit)
    cut = len(train_x) - len(train_x) // 5  # the last fifth of the training images validates
    evaluator = archsearch.ClassificationEvaluator(
        train=(train_x[:cut], train_y[:cut]),
        valid=(train_x[cut:], train_y[cut:]),
        test=(test_x, test_y),
        normalize=False,  # load_fashion_mnist standardised the pixels already
        epochs=args.epochs,  # Adam, lr 1e-3, batches of 64, cosine schedule: the evaluator's defaults
        device="cpu",
    )
    print(f"data: {args.data}: {cut} train, {len(train_x) - cut} valid, {len(test_x)} test images")
    # The study keeps these arrays in its directory (data/*.npz), so `archsearch resume` can load them.
    return archsearch.search(
        archsearch.ModelSpace(FashionCNN),
        evaluator,
        strategy="evolution",
        metric="val_acc",  # the reward: the validation accuracy, maximised
        strategy_params={"population_size": 4 if args.quick else 8, "sample_size": 2 if args.quick else 3},
        trials=args.trials,
        out=args.out,
        seed=args.seed,
        workers=1 if args.quick else 2,  # 2 worker processes (1: trials one by one in this process)
        overwrite=True,
    )


def score_in_fresh_process(export_dir: Path, data: Path) -> float:
    """Start a new Python, load the exported model and its weights there, return its test accuracy."""
    command = [sys.executable, "-m", "examples.fashion_mnist_cnn", "score", str(export_dir), str(data)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["test_acc"])


def score(export_dir: Path, data: Path) -> None:
    """What the fresh process runs: only the exported files, the data and torch."""
    import torch

    spec = importlib.util.spec_from_file_location("exported_model", export_dir / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load_model()  # build_model() under fixed_arch, then load_state_dict(weights.pt)
    model.eval()
    _, _, test_x, test_y = load_fashion_mnist(data)
    with torch.no_grad():
        predicted = torch.cat(
            [model(torch.from_numpy(test_x[i : i + 1000])).argmax(1) for i in range(0, len(test_x), 1000)]
        )
    print(json.dumps({"test_acc": float((predicted.numpy() == test_y).mean())}))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["score"]:
        score(Path(argv[1]), Path(argv[2]))
        return
    args = parse_arguments(argv)
    study = search(args)
    best = study.best()
    assert best is not None, "no trial succeeded"
    print(
        f"best of {args.trials} trials: #{best.number} {best.arch_str}: "
        f"val_acc {best.metrics['val_acc']:.4f}, test_acc {best.metrics['test_acc']:.4f}"
    )
    export_dir = Path(args.out) / "export"
    archsearch.export_trial(study, best.number, export_dir)
    print(f"exported to {export_dir}: {sorted(p.name for p in export_dir.iterdir())}")
    fresh = score_in_fresh_process(export_dir, args.data)
    print(
        f"exported model in a fresh process: test_acc {fresh:.4f} (search measured {best.metrics['test_acc']:.4f})"
    )
    if not np.isclose(fresh, best.metrics["test_acc"], atol=1e-6):
        raise SystemExit("the exported model does not reproduce the trial's test accuracy")


if __name__ == "__main__":
    main()
