from __future__ import annotations

import csv
import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.metrics import f1_score
from sklearn.metrics import r2_score as sklearn_r2
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from archsearch.core import Architecture
from archsearch.data.images import read_idx
from archsearch.errors import ConfigError
from archsearch.evaluators.supervised import (
    ClassificationEvaluator,
    RegressionEvaluator,
    macro_f1,
    r2_score,
)
from archsearch.nn import ModelSpace, choice
from archsearch.rewards import make_reward
from tiny_spaces import OneChoiceSpace

FASHION_MNIST = Path(__file__).resolve().parents[1] / "real_data" / "fashion-mnist"


class MLPSpace(OneChoiceSpace):
    """A user's model space in miniature: an MLP whose hidden width is the one decision."""

    name = "mlp"

    def build(self, arch: Architecture, input_shape: Any = None, num_classes: Any = None) -> nn.Module:
        hidden = 8 * arch.values[0]
        return nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )


SPACE = MLPSpace()
ARCH = Architecture("mlp", (8,))


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data.astype(np.float32), digits.target


def test_classification_on_digits_arrays_reports_accuracy_f1_and_trained_weights():
    x, y = digits_arrays()
    evaluator = ClassificationEvaluator(
        train=(x[:1400], y[:1400]), test=(x[1400:], y[1400:]), epochs=4, lr=3e-3, device="cpu"
    )
    result = evaluator.evaluate(SPACE, ARCH, seed=0)
    assert result.ok, result.error
    assert result.metrics["val_acc"] > 0.85 and result.metrics["test_acc"] > 0.75
    assert 0.8 < result.metrics["val_f1"] <= 1 and 0.7 < result.metrics["test_f1"] <= 1
    assert len(result.curve["val_acc"]) == len(result.curve["val_loss"]) == 4
    assert result.metrics["best_val_acc"] == max(result.curve["val_acc"])
    assert result.metrics["params"] == 64 * 64 + 64 + 64 * 10 + 10
    # The stored weights are the trained child: a fresh build loading them scores the same test accuracy.
    model = SPACE.build(ARCH, (64,), 10)
    model.load_state_dict(torch.load(io.BytesIO(result.weights), weights_only=True))
    split = evaluator.split()
    test_acc = (model(split.test_x).argmax(1) == split.test_y).double().mean().item()
    assert test_acc == pytest.approx(result.metrics["test_acc"])
    assert make_reward("metric", metric="val_f1")(result) == result.metrics["val_f1"]
    default = ClassificationEvaluator.default_reward
    assert make_reward(default["name"], **default["params"])(result) == result.metrics["val_acc"]


def test_datasets_and_loaders_give_the_same_trial_as_arrays():
    x, y = digits_arrays()
    x, y = x[:300], y[:300]
    options = {"epochs": 2, "device": "cpu", "val_size": 60}
    arrays = ClassificationEvaluator(train=(x, y), **options).evaluate(SPACE, ARCH, 1)
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    from_dataset = ClassificationEvaluator(train=dataset, **options).evaluate(SPACE, ARCH, 1)
    from_loader = ClassificationEvaluator(train=DataLoader(dataset, batch_size=32), **options).evaluate(
        SPACE, ARCH, 1
    )
    assert arrays.metrics["val_acc"] == from_dataset.metrics["val_acc"] == from_loader.metrics["val_acc"]


def write_fashion_folder(root: Path, prefix: str, per_class: int) -> None:
    images = read_idx(FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz", ndim=3)
    labels = read_idx(FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz", ndim=1)
    for label, name in enumerate(("tshirt", "trouser")):
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(labels == label)[:per_class]:
            Image.fromarray(images[i]).save(root / name / f"{i}.png")


def test_classification_on_a_fashion_mnist_image_folder(tmp_path):
    write_fashion_folder(tmp_path / "train", "train", 60)
    write_fashion_folder(tmp_path / "test", "t10k", 25)
    evaluator = ClassificationEvaluator(
        train=str(tmp_path / "train"), test=str(tmp_path / "test"), image_size=14, epochs=3, device="cpu"
    )
    evaluator.prepare()
    assert evaluator.data_shape() == ((1, 14, 14), 2)
    assert evaluator.split().data.classes == ("trouser", "tshirt")
    result = pickle.loads(pickle.dumps(evaluator)).evaluate(SPACE, ARCH, seed=0)
    assert result.ok, result.error
    assert result.metrics["val_acc"] >= 0.8 and result.metrics["test_acc"] >= 0.75


def test_classification_on_a_csv_file_with_named_classes(tmp_path):
    iris = load_iris()
    path = tmp_path / "iris.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*iris.feature_names, "species"])
        for row, label in zip(iris.data, iris.target, strict=True):
            writer.writerow([*row, iris.target_names[label]])
    evaluator = ClassificationEvaluator(train=str(path), target="species", epochs=40, lr=0.01, device="cpu")
    result = evaluator.evaluate(SPACE, ARCH, seed=0)
    assert result.ok, result.error
    assert result.metrics["val_acc"] > 0.8
    assert evaluator.split().data.classes == ("setosa", "versicolor", "virginica")


def test_regression_on_diabetes_reports_rmse_in_the_targets_units():
    data = load_diabetes()
    evaluator = RegressionEvaluator(
        train=(data.data[:350], data.target[:350]),
        test=(data.data[350:], data.target[350:]),
        epochs=20,
        lr=0.01,
        device="cpu",
    )
    result = evaluator.evaluate(SPACE, ARCH, seed=0)
    assert result.ok, result.error
    spread = float(np.std(data.target))  # the RMSE of predicting the mean, about 77
    assert result.metrics["val_rmse"] < 0.85 * spread and result.metrics["test_rmse"] < 0.85 * spread
    assert result.metrics["val_mae"] < result.metrics["val_rmse"] and result.metrics["test_r2"] > 0.3
    assert len(result.curve["val_rmse"]) == 20
    default = RegressionEvaluator.default_reward
    assert make_reward(default["name"], **default["params"])(result) == -result.metrics["val_rmse"]


LOADER_SOURCE = """
import numpy as np
from sklearn.datasets import load_digits

def load_data():
    digits = load_digits()
    x, y = digits.data[:400], digits.target[:400]
    return {"train": (x[:300], y[:300]), "valid": (x[300:350], y[300:350]), "test": (x[350:], y[350:])}
"""


def test_a_dotted_path_loader_gives_every_split(tmp_path):
    (tmp_path / "user_loader.py").write_text(LOADER_SOURCE)
    evaluator = ClassificationEvaluator(
        train=f"{tmp_path / 'user_loader.py'}:load_data",
        epochs=1,
        device="cpu",
        metrics=["val_acc", "test_acc"],
    )
    split = evaluator.split()
    assert (len(split.train_x), len(split.val_x), len(split.test_x)) == (300, 50, 50)
    assert ClassificationEvaluator(**evaluator.config()).config() == evaluator.config()
    in_memory = ClassificationEvaluator(train=digits_arrays(), test=evaluator.train)
    assert (in_memory.config()["train"], in_memory.config()["test"]) == (
        "<run>/data/train.npz",
        evaluator.train,
    )
    assert list(in_memory.data_files()) == ["data/train.npz"]  # what a study stores in its run directory
    result = evaluator.evaluate(SPACE, ARCH, 0)
    assert set(result.metrics) == {"val_acc", "test_acc", "params", "train_time_s", "epochs"}


class WrongOutputSpace(MLPSpace):
    def build(self, arch: Architecture, input_shape: Any = None, num_classes: Any = None) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 3))


def test_a_child_that_cannot_train_is_a_failed_trial_and_a_space_without_build_an_error():
    x, y = digits_arrays()
    evaluator = RegressionEvaluator(train=(x[:100], y[:100].astype(float)), epochs=1, device="cpu")
    result = evaluator.evaluate(WrongOutputSpace(), ARCH, 0)
    assert result.status == "failed" and result.error is not None and "\n" not in result.error
    with pytest.raises(ConfigError, match="space 'one-choice' builds no torch modules"):
        evaluator.evaluate(OneChoiceSpace(), ARCH, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, adamw"),
        ({"metrics": ["val_rmse"]}, "unknown metric 'val_rmse'; ClassificationEvaluator reports val_acc"),
        ({"val_size": 1.5}, "val_size must be a fraction in"),
        ({"image_size": (0, 3)}, "image_size must be a positive integer or"),
        ({"train": None}, "needs train data"),
        ({"train": lambda: None}, "train data loader .*<lambda> cannot be sent to worker processes"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        ClassificationEvaluator(**{"train": digits_arrays(), **options})


def test_test_metrics_without_test_data_fail_at_prepare():
    evaluator = ClassificationEvaluator(train=digits_arrays(), metrics=["test_acc"])
    with pytest.raises(ConfigError, match="metrics asks for test_acc but no test data is given"):
        evaluator.prepare()


def test_macro_f1_and_r2_match_scikit_learn():
    rng = np.random.default_rng(0)
    target, predicted = rng.integers(0, 5, 200), rng.integers(0, 4, 200)
    expected = f1_score(target, predicted, average="macro")
    assert macro_f1(torch.from_numpy(predicted), torch.from_numpy(target), 6) == pytest.approx(expected)
    y, guess = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    assert r2_score(torch.from_numpy(guess), torch.from_numpy(y)) == pytest.approx(sklearn_r2(y, guess))
    constant = torch.ones(4, 1)
    assert r2_score(constant, constant) == 1.0 and r2_score(constant * 2, constant) == 0.0


class UserMLP(nn.Module):
    """A user's model space: the data's shape and class count come in through the constructor."""

    def __init__(self, input_shape: tuple[int, ...] = (1,), num_classes: int = 2) -> None:
        super().__init__()
        hidden = choice("hidden", [16, 32])
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def test_a_model_space_is_built_for_the_datas_shape_and_classes():
    x, y = digits_arrays()
    space = ModelSpace(UserMLP)
    evaluator = ClassificationEvaluator(train=(x[:500], y[:500]), epochs=3, lr=3e-3, device="cpu")
    result = evaluator.evaluate(space, space.architecture({"hidden": 32}), seed=0)
    assert result.ok, result.error
    assert result.metrics["params"] == 64 * 32 + 32 + 32 * 10 + 10 and result.metrics["val_acc"] > 0.7


class HugeOutputSpace(MLPSpace):
    """Predicts nan in evaluation (and trains normally): the validation RMSE is nan."""

    def build(self, arch: Architecture, input_shape: Any = None, num_classes: Any = None) -> nn.Module:
        model = super().build(arch, input_shape, num_classes)
        return nn.Sequential(model, Scale(float("nan")))


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.training else x * self.factor


def test_a_validation_metric_that_is_not_finite_fails_the_trial():
    data = load_diabetes()
    evaluator = RegressionEvaluator(train=(data.data[:100], data.target[:100]), epochs=2, device="cpu")
    result = evaluator.evaluate(HugeOutputSpace(), ARCH, 0)
    assert result.status == "failed" and result.error == "val_rmse became nan after epoch 1"
