"""The model space and the data of the diabetes example: an MLP whose depth, width and activation are chosen.

``search.yaml`` names both by dotted path (``examples.diabetes_mlp.model:MLP``,
``examples.diabetes_mlp.model:load_data``), resolved with the current directory importable: run
``archsearch`` from the repository root.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

import archsearch

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLP(nn.Module):
    """Tabular features -> ``num_classes`` numbers (the number of target columns).

    Args:
        input_shape: the shape of one example, ``(features,)``; archsearch passes it from the data.
        num_classes: outputs per example; archsearch passes the number of target columns (1 here).
        dropout: dropout after each hidden layer (fixed here; a ``choice`` would make it a decision too).
    """

    def __init__(
        self, input_shape: tuple[int, ...] = (10,), num_classes: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        width = archsearch.choice("width", [16, 32, 64, 128])
        activation = ACTIVATIONS[archsearch.choice("activation", list(ACTIVATIONS))]
        features = int(input_shape[0])

        def block(index: int) -> nn.Module:
            return nn.Sequential(
                nn.Linear(features if index == 0 else width, width), activation(), nn.Dropout(dropout)
            )

        self.hidden = archsearch.Repeat(block, depth=[1, 2, 3], label="depth")
        self.out = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x))


def load_data() -> dict[str, Any]:
    """scikit-learn's diabetes data (442 patients, 10 features; the target is disease progression one year
    later) as train / valid / test arrays, 60 / 20 / 20 % in a fixed random order.

    The evaluator standardises features and target with the training part's statistics and reports RMSE in
    the target's own units: on this split, predicting the training mean scores 78.9 (validation) / 70.5
    (test), linear regression 52.9 / 57.3.
    """
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.float32)
    n_train, n_valid = int(0.6 * len(x)), int(0.2 * len(x))
    cut = n_train + n_valid
    return {
        "train": (x[:n_train], y[:n_train]),
        "valid": (x[n_train:cut], y[n_train:cut]),
        "test": (x[cut:], y[cut:]),
    }
