"""Search a plain dict of choices with a function as the objective: no torch model, no model space.

The function gets the chosen values and a seed, trains scikit-learn's ``MLPClassifier`` on the digits data
set that ships with scikit-learn, reports the validation accuracy after every epoch (the study stores it as a
learning curve) and returns a dict of metrics; the study ranks trials by ``val_acc``.

Run from the repository root (about a minute on 2 CPU cores; ``--quick`` takes seconds):

    .venv/bin/python -m examples.function_objective --out runs/function-objective
    archsearch status runs/function-objective; archsearch best runs/function-objective
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import archsearch

CHOICES: dict[str, list[Any]] = {
    "depth": [1, 2, 3],
    "width": [16, 32, 64, 128],
    "activation": ["relu", "tanh", "logistic"],
    "alpha": [1e-5, 1e-3, 1e-1],
    "learning_rate_init": [1e-3, 3e-3, 1e-2],
}
EPOCHS = 15


def objective(values: dict[str, Any], seed: int, report: Callable[[int, float], None]) -> dict[str, float]:
    """Train an MLP with the chosen ``values`` from ``seed``; ``report(epoch, val_acc)`` after each epoch."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    # A fixed split (random_state=0): every trial is ranked on the same validation images.
    train_x, rest_x, train_y, rest_y = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    valid_x, test_x, valid_y, test_y = train_test_split(
        rest_x, rest_y, test_size=0.5, random_state=0, stratify=rest_y
    )
    model = MLPClassifier(
        hidden_layer_sizes=(values["width"],) * values["depth"],
        activation=values["activation"],
        alpha=values["alpha"],
        learning_rate_init=values["learning_rate_init"],
        max_iter=1,
        random_state=seed,
    )
    started = time.perf_counter()
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(EPOCHS):
            model.partial_fit(train_x, train_y, classes=classes)
            report(epoch, float(model.score(valid_x, valid_y)))
    return {
        "val_acc": float(model.score(valid_x, valid_y)),
        "test_acc": float(model.score(test_x, test_y)),
        "params": float(sum(w.size + b.size for w, b in zip(model.coefs_, model.intercepts_, strict=True))),
        "fit_s": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="runs/function-objective", help="run directory (replaced if it exists)"
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="4 trials, no worker processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    study = archsearch.search(
        archsearch.DictSpace(CHOICES),
        # A dotted path rather than the function object: workers and `archsearch resume` import it by name.
        "examples.function_objective:objective",
        strategy="local_search",
        trials=4 if args.quick else args.trials,
        out=args.out,
        seed=args.seed,
        metric="val_acc",  # the reward: this metric of the returned dict, maximised
        workers=1 if args.quick else 2,  # 2 worker processes (1: trials one by one in this process)
        overwrite=True,
    )
    best = study.best()
    assert best is not None, "no trial succeeded"
    values = archsearch.DictSpace(CHOICES).values(best.arch)
    print(f"best of {len(study.store.trials())} trials: #{best.number} {values}")
    print(
        f"  val_acc {best.metrics['val_acc']:.4f}, test_acc {best.metrics['test_acc']:.4f}, {best.metrics['params']:.0f} parameters"
    )


if __name__ == "__main__":
    main()
