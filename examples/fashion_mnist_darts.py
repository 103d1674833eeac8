"""Search the Fashion-MNIST CNN space with DARTS (one-shot: one supernet trained once), then train the
derived child from scratch and score it on the test set.

DARTS turns each ``LayerChoice`` of ``examples/spaces.py`` into a mixed layer (the softmax-weighted sum of
its candidates, Liu et al. 2019) and learns the weights of the sum on the validation half of the data. The
value choices (hidden width, dropout) cannot share weights inside one layer, so archsearch makes them a layer
choice among copies of the model, one per combination of their values (9 here): the supernet is 9 times the
size of one child, which is what makes this search slower per epoch than its network suggests.

Run from the repository root (a few minutes on 2 CPU cores; ``--quick`` takes seconds on the test slice):

    .venv/bin/python -m examples.fashion_mnist_darts --data ../shared/data/fashion-mnist --out runs/fashion-darts
    .venv/bin/python -m examples.fashion_mnist_darts --quick --out runs/fashion-darts-quick

``archsearch report runs/fashion-darts`` draws the weights of each choice over the epochs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import archsearch
from examples.fashion_data import default_directory, load_fashion_mnist
from examples.spaces import FashionCNN


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="directory of the four Fashion-MNIST IDX files")
    parser.add_argument("--out", default="runs/fashion-darts", help="run directory (replaced if it exists)")
    parser.add_argument(
        "--quick", action="store_true", help="the test slice, 1 supernet epoch, 1 retraining epoch"
    )
    parser.add_argument("--epochs", type=int, default=3, help="supernet epochs")
    parser.add_argument("--retrain-epochs", type=int, default=3)
    parser.add_argument(
        "--train-limit", type=int, default=5000, help="first N training images (N/5 validate)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.retrain_epochs, args.train_limit = 1, 1, None
    data = Path(args.data) if args.data else default_directory(args.quick)

    train_x, train_y, test_x, test_y = load_fashion_mnist(data, args.train_limit)
    cut = len(train_x) - len(train_x) // 5
    train, valid, test = (train_x[:cut], train_y[:cut]), (train_x[cut:], train_y[cut:]), (test_x, test_y)
    print(f"data: {data}: {cut} train, {len(train_x) - cut} valid, {len(test_x)} test images")

    # The same model space as the evolution example. ModelSpace(FashionCNN, hidden_widths=[64], dropouts=[0.25])
    # would fix the two value choices and leave DARTS the two convolutions (one supernet instead of 9).
    space = archsearch.ModelSpace(FashionCNN)
    found = archsearch.search_model_space(
        space,
        train,
        valid,
        test=test,
        method="darts",
        normalize=False,  # load_fashion_mnist standardised the pixels already
        epochs=args.epochs,
        batch_size=64,
        seed=args.seed,
        out=args.out,
        overwrite=True,
    )
    for label, weights in found.probabilities.items():
        shown = ", ".join(f"{name} {p:.3f}" for name, p in weights.items())
        print(f"{label}: {shown} -> {found.values[label]}")
    print(
        f"DARTS chose {space.encode(found.architecture)} (supernet estimate: valid {found.estimate_valid_acc:.4f})"
    )

    # Train the derived child from scratch, as any trial is trained, and score it on the test set.
    evaluator = archsearch.ClassificationEvaluator(
        train=train, valid=valid, test=test, normalize=False, epochs=args.retrain_epochs, device="cpu"
    )
    result = evaluator.evaluate(space, found.architecture, seed=args.seed)
    if not result.ok:
        raise SystemExit(f"retraining failed: {result.error}")
    print(
        f"retrained from scratch for {args.retrain_epochs} epochs: val_acc {result.metrics['val_acc']:.4f}, "
        f"test_acc {result.metrics['test_acc']:.4f}, {result.metrics['params']:.0f} parameters"
    )


if __name__ == "__main__":
    main()
