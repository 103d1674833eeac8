from __future__ import annotations

import pickle
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.data.images import load_images
from archsearch.errors import ConfigError
from archsearch.evaluators.training import TrainingEvaluator, cosine_lr, validation_split
from tiny_spaces import NanAfter, OneChoiceSpace, Sleep


class TinySpace(OneChoiceSpace):
    """Test-only space: one decision, the channel count of a single 3x3 convolution before a linear head."""

    name = "tiny"

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels, height, width = input_shape
        filters = arch.values[0]
        return nn.Sequential(
            nn.Conv2d(channels, filters, 3, padding=1),
            nn.ReLU(),
            *self.extra(),
            nn.Flatten(),
            nn.Linear(filters * height * width, num_classes),
        )


class NanSpace(TinySpace):
    def __init__(self, calls: int) -> None:
        self.calls = calls

    def extra(self) -> list[nn.Module]:
        return [NanAfter(self.calls)]


class SleepSpace(TinySpace):
    def extra(self) -> list[nn.Module]:
        return [Sleep()]


class RaisingSpace(TinySpace):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        raise self.error


ARCH = Architecture("tiny", (8,))


def fast(**overrides: Any) -> TrainingEvaluator:
    settings: dict[str, Any] = {"dataset": "digits", "train_limit": 400, "epochs": 2, "device": "cpu"}
    return TrainingEvaluator(**{**settings, **overrides})


def test_result_has_every_metric_and_per_epoch_curves():
    result = fast().evaluate(TinySpace(), ARCH, seed=0)
    assert result.ok and result.error is None and result.cost_s > 0
    assert set(result.metrics) == {
        "val_acc",
        "best_val_acc",
        "max_val_acc_last5",
        "test_acc",
        "params",
        "train_time_s",
        "images_per_s",
        "epochs",
    }
    assert len(result.curve["val_acc"]) == len(result.curve["train_loss"]) == 2
    assert result.metrics["val_acc"] == result.curve["val_acc"][-1]
    assert result.metrics["best_val_acc"] == max(result.curve["val_acc"])
    assert all(0 <= result.metrics[k] <= 1 for k in ("val_acc", "best_val_acc", "test_acc"))
    model = TinySpace().build(ARCH, (1, 8, 8), 10)
    assert result.metrics["params"] == sum(p.numel() for p in model.parameters())
    assert result.metrics["epochs"] == 2 and result.metrics["images_per_s"] > 0


def test_training_on_digits_lowers_the_loss_and_beats_chance():
    result = TrainingEvaluator(dataset="digits", epochs=3, device="cpu").evaluate(TinySpace(), ARCH, seed=1)
    assert result.ok
    assert result.curve["train_loss"][-1] < result.curve["train_loss"][0]
    assert result.metrics["val_acc"] > 0.5 and result.metrics["test_acc"] > 0.5


def test_same_seed_gives_an_identical_curve():
    evaluator = fast()
    first = evaluator.evaluate(TinySpace(), ARCH, seed=7)
    second = evaluator.evaluate(TinySpace(), ARCH, seed=7)
    other = evaluator.evaluate(TinySpace(), ARCH, seed=8)
    assert first.curve == second.curve
    assert first.metrics["test_acc"] == second.metrics["test_acc"]
    assert first.curve["train_loss"] != other.curve["train_loss"]


def test_constant_schedule_differs_from_cosine():
    cosine = fast().evaluate(TinySpace(), ARCH, seed=0)
    constant = fast(lr_schedule="constant").evaluate(TinySpace(), ARCH, seed=0)
    assert cosine.curve["train_loss"][0] == constant.curve["train_loss"][0]
    assert cosine.curve["train_loss"][1] != constant.curve["train_loss"][1]


def test_cosine_lr_anneals_from_base_to_zero():
    assert cosine_lr(0.1, 0, 10) == pytest.approx(0.1)
    assert cosine_lr(0.1, 5, 10) == pytest.approx(0.05)
    assert cosine_lr(0.1, 10, 10) == pytest.approx(0.0)


def test_nan_loss_fails_with_epoch_and_batch():
    result = fast().evaluate(NanSpace(calls=0), ARCH, seed=0)
    assert result.status == "failed"
    assert result.error == "loss became nan at epoch 1, batch 1"


def test_nan_in_a_later_epoch_keeps_the_partial_curve():
    # 400 images, 40 held out: 360 training images are 6 batches of 64, so the 8th pass is epoch 2, batch 2.
    result = fast().evaluate(NanSpace(calls=7), ARCH, seed=0)
    assert result.error == "loss became nan at epoch 2, batch 2"
    assert len(result.curve["val_acc"]) == 1 and result.metrics["epochs"] == 1
    assert result.metrics["params"] > 0


def test_exception_in_build_fails_with_type_and_message():
    result = fast().evaluate(RaisingSpace(ValueError("no such layer")), ARCH, seed=0)
    assert result.status == "failed" and result.error == "ValueError: no such layer"
    assert result.curve == {"val_acc": [], "train_loss": []}


def test_long_multiline_error_is_one_truncated_line():
    result = fast().evaluate(RaisingSpace(KeyError("x\n" * 400)), ARCH, seed=0)
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith("KeyError: ") and len(result.error) <= 300


def test_out_of_memory_is_reported_as_such():
    error = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    result = fast().evaluate(RaisingSpace(error), ARCH, seed=0)
    assert result.status == "failed"
    assert result.error == "out of memory: CUDA out of memory. Tried to allocate 2.00 GiB"


def test_timeout_gives_timeout_status_with_limit_and_epoch():
    result = fast(timeout_s=0.2).evaluate(SleepSpace(), ARCH, seed=0)
    assert result.status == "timeout"
    assert result.error is not None and result.error.startswith(
        "exceeded the time limit of 0.2 s in epoch 1 of 2"
    )
    assert result.cost_s < 2


def test_validation_split_is_disjoint_complete_and_fixed():
    train, val = validation_split(100, 0.1, split_seed=0)
    again_train, again_val = validation_split(100, 0.1, split_seed=0)
    assert len(val) == 10 and len(train) == 90
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(100))
    assert not torch.equal(val, validation_split(100, 0.1, split_seed=1)[1])
    assert len(validation_split(100, 25, split_seed=0)[1]) == 25


def test_every_trial_sees_the_same_validation_images_held_out_of_training():
    data = load_images("digits", train_limit=400)
    train_idx, val_idx = validation_split(400, 0.1, split_seed=0)
    for _ in range(2):
        split = pickle.loads(pickle.dumps(fast())).split()
        assert torch.equal(split.val_x, data.train_x[val_idx])
        assert torch.equal(split.train_x, data.train_x[train_idx])
        assert len(split.train_x) + len(split.val_x) == 400


def test_evaluator_pickles_without_its_loaded_data():
    evaluator = fast(epochs=1)
    evaluator.evaluate(TinySpace(), ARCH, seed=0)
    clone = pickle.loads(pickle.dumps(evaluator))
    assert clone._splits == {}
    assert clone.evaluate(TinySpace(), ARCH, seed=0).ok


def test_evaluate_restores_the_thread_count():
    before = torch.get_num_threads()
    fast(epochs=1, threads=1).evaluate(TinySpace(), ARCH, seed=0)
    assert torch.get_num_threads() == before


def test_val_size_larger_than_the_training_set_raises_config_error():
    with pytest.raises(ConfigError, match="val_size=400 holds out 400 of 400"):
        fast(val_size=400).evaluate(TinySpace(), ARCH, seed=0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"dataset": "imagenet"},
        {"epochs": 0},
        {"epochs": 1.5},
        {"batch_size": 0},
        {"lr": 0},
        {"lr": float("nan")},
        {"momentum": 1.0},
        {"momentum": 0.0},
        {"weight_decay": -1e-4},
        {"lr_schedule": "step"},
        {"val_size": 0.0},
        {"val_size": 1.0},
        {"val_size": 0},
        {"val_size": True},
        {"train_limit": 0},
        {"timeout_s": 0},
        {"threads": 0},
        {"device": "tpu-ish"},
        {"amp": "yes"},
    ],
)
def test_bad_constructor_values_raise_config_error(overrides):
    with pytest.raises(ConfigError):
        fast(**overrides)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_raises_config_error():
    with pytest.raises(ConfigError, match="CUDA"):
        fast(device="cuda")
