"""Child-network training: build an architecture, train it with SGD and score it on held-out images.

Implements the child training of NAS-RL (Zoph & Le 2017, section 4.1), which uses the DenseNet settings
(Huang et al. 2017): SGD with Nesterov momentum 0.9, learning rate 0.1, weight decay 1e-4, and a random
hold-out of training images as validation set (5,000 of CIFAR-10's 50,000). The paper trains each child
for 50 epochs; the default here is scaled down to 10 and set by the study's configuration.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.core import Architecture, SearchSpace
from archsearch.data.images import KNOWN_DATASETS, load_images
from archsearch.errors import ConfigError, TrialTimeoutError
from archsearch.evaluators.common import (
    ChildTrainingEvaluator,
    LossTally,
    TrialProgress,
    check_settings,
    cuda_settings,
    is_int,
    is_number,
    is_positive_int,
    state_dict_bytes,
)

log = logging.getLogger(__name__)

LR_SCHEDULES = ("cosine", "constant")
# Zoph & Le 2017 reward: the maximum validation accuracy over the last 5 epochs (cubed by the strategy).
REWARD_LAST_EPOCHS = 5


def cosine_lr(base_lr: float, epoch: int, epochs: int) -> float:
    """Learning rate of 0-based ``epoch`` under cosine annealing to 0 (Loshchilov & Hutter 2017, eq. 5)."""
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * epoch / epochs))


def validation_count(num_train: int, val_size: float | int) -> int:
    """How many of ``num_train`` images ``val_size`` (a fraction, or a count) holds out."""
    count = max(1, round(val_size * num_train)) if isinstance(val_size, float) else int(val_size)
    if not 1 <= count < num_train:
        raise ConfigError(
            f"val_size={val_size!r} holds out {count} of {num_train} training images; "
            f"it must leave at least one image for training and one for validation"
        )
    return count


def validation_split(
    num_train: int, val_size: float | int, split_seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted indices (train, validation) of a random hold-out; the same seed gives the same split."""
    count = validation_count(num_train, val_size)
    order = torch.randperm(num_train, generator=torch.Generator().manual_seed(split_seed))
    return order[count:].sort().values, order[:count].sort().values


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    *,
    scaler: torch.amp.GradScaler | None = None,
    deadline: float | None = None,
    check_every: int = 1,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    parts: int = 1,
    after_part: Callable[[int, float], float | None] | None = None,
) -> float:
    """One epoch of mini-batch SGD over a fresh random permutation; returns the mean batch loss
    (``loss_fn(outputs, targets)``, cross-entropy by default).

    A trailing batch of a single image is skipped (batch normalisation cannot train on it). Raises
    NonFiniteLossError when a loss is nan or inf (checked every ``check_every`` batches, reporting the
    exact batch) and TrialTimeoutError when ``time.perf_counter()`` passes ``deadline`` after a batch.
    With a ``scaler`` the forward pass runs under CUDA float16 autocast.

    ``after_part(part, loss)``, when given, is called after each of ``parts`` equal shares of the epoch's
    batches (0-based ``part``, the mean loss of its batches; the model is back in training mode after it);
    a share without batches (more parts than batches) is skipped. It may return seconds by which to put
    ``deadline`` back (time spent waiting, not training).
    """
    model.train()
    count = len(inputs)
    order = torch.randperm(count, generator=generator).to(inputs.device, non_blocking=True)
    stop = count - 1 if count % batch_size == 1 and count > 1 else count
    autocast = torch.autocast("cuda", dtype=torch.float16) if scaler is not None else contextlib.nullcontext()
    tally = LossTally(check_every, deadline)
    starts = range(0, stop, batch_size)
    # the number of batches done at the end of each part -> that part (an empty part is left out)
    part_ends = {round(len(starts) * (part + 1) / parts): part for part in range(parts)}
    part_ends.pop(0, None)
    done_total, done_batches = 0.0, 0
    for batch, start in enumerate(starts, start=1):
        index = order[start : start + batch_size]
        with autocast:
            loss = loss_fn(model(inputs[index]), targets[index])
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        tally.add(loss)
        if after_part is not None and batch in part_ends:
            tally.mean()  # reads the pending losses back
            part_loss = (tally.total - done_total) / max(tally.batches - done_batches, 1)
            done_total, done_batches = tally.total, tally.batches
            extension = after_part(part_ends[batch], part_loss)
            if extension and tally.deadline is not None:
                tally.deadline += extension
            model.train()
    return tally.mean()


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    base_lr: float,
    lr_schedule: str,
    generator: torch.Generator,
    progress: TrialProgress,
    validate: Callable[[], dict[str, float]],
    scaler: torch.amp.GradScaler | None = None,
    deadline: float | None = None,
    check_every: int = 1,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    reports_per_epoch: int = 1,
) -> float:
    """``epochs`` epochs of ``train_epoch`` with the learning rate annealed from ``base_lr`` by
    ``lr_schedule`` (cosine or constant); returns the seconds spent training, validation excluded.

    After each epoch (``reports_per_epoch`` k > 1: after each k-th of its batches) the mean training loss
    since the last validation is appended to ``progress.curve["train_loss"]`` and each value ``validate()``
    returns to the series of its name; then they are reported (``TrialProgress.report``: step = the
    number of validations so far, resource = the epochs trained, e.g. 2.5; the pruner may stop the trial
    there: TrialPruned). TrialTimeoutError when ``deadline`` has passed after a validation that was not
    the last; the time a report waits for the pruner's answer moves ``deadline`` back.
    """
    train_time = 0.0
    reports = 0
    validation_time = 0.0

    def after_part(part: int, loss: float) -> float:
        nonlocal reports, validation_time, deadline
        validation_start = time.perf_counter()
        scores = validate()
        validation_time += time.perf_counter() - validation_start
        progress.curve["train_loss"].append(loss)
        for name, value in scores.items():
            progress.curve.setdefault(name, []).append(value)
        reports += 1
        resource = progress.epoch - 1 + (part + 1) / reports_per_epoch
        last = progress.epoch == epochs and part + 1 == reports_per_epoch
        waited = progress.report(reports, {**scores, "train_loss": loss}, resource, epochs)
        if deadline is not None:
            deadline += waited  # the time limit is the child's: waiting for the pruner does not count
            if time.perf_counter() > deadline and not last:
                raise TrialTimeoutError("time limit reached after validation")
        return waited

    for epoch in range(epochs):
        progress.epoch = epoch + 1
        if lr_schedule == "cosine":
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(base_lr, epoch, epochs)
        epoch_start = time.perf_counter()
        validation_time = 0.0
        train_epoch(
            model,
            optimizer,
            inputs,
            targets,
            batch_size,
            generator,
            scaler=scaler,
            deadline=deadline,
            check_every=check_every,
            loss_fn=loss_fn,
            parts=reports_per_epoch,
            after_part=after_part,
        )
        train_time += time.perf_counter() - epoch_start - validation_time
    return train_time


def accuracy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int) -> float:
    """Fraction of ``inputs`` that ``model`` (in eval mode, without gradients) classifies correctly."""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=inputs.device)
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            logits = model(inputs[start : start + batch_size])
            correct += (logits.argmax(dim=1) == targets[start : start + batch_size]).sum()
    return correct.item() / max(len(inputs), 1)


@dataclass
class DataSplit:
    """Train / validation / test tensors of one data set on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    input_shape: tuple[int, ...]
    num_classes: int


class TrainingEvaluator(ChildTrainingEvaluator[DataSplit]):
    """Trains the child network ``space.build(arch, ...)`` and reports its validation accuracy.

    Defaults are the NAS-RL / DenseNet child settings (Zoph & Le 2017): SGD, ``lr`` 0.1, ``momentum``
    0.9 with Nesterov, ``weight_decay`` 1e-4; ``epochs`` scaled down from the paper's 50.
    ``val_size`` is a fraction or a count of training images held out at random as validation (the
    paper holds out 5,000 of 50,000); the split depends only on ``split_seed``, so every trial sees the
    same one. ``device`` "auto" picks CUDA when available; ``amp`` enables float16 autocast with a
    gradient scaler on CUDA only. ``timeout_s`` is checked after every batch. Data loads lazily in
    ``evaluate`` (the evaluator is pickled to worker processes) and is kept per evaluator instance.
    ``evaluate`` never raises for a failing child (it gives a failed or timed-out Result); missing data
    or an impossible ``val_size`` raise (DataError / ConfigError): every trial would fail.

    After each epoch the child reports ``val_acc`` and ``train_loss`` (resource = epochs trained) and a
    study's pruner may stop it there (status "pruned"). ``reports_per_epoch`` k > 1 validates and reports
    after each k-th of an epoch's batches instead (resources 1/k, 2/k, ...: a fraction of the training
    data, for data sets where one epoch is already expensive); the curve then has k points per epoch,
    and ``max_val_acc_last5`` is the best of its last 5 epochs' points.
    """

    metric = "val_acc"

    def __init__(
        self,
        dataset: str = "digits",
        data_dir: str | None = None,
        train_limit: int | None = None,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 0.1,
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 1e-4,
        lr_schedule: str = "cosine",
        val_size: float | int = 0.1,
        split_seed: int = 0,
        device: str = "auto",
        amp: bool = False,
        timeout_s: float | None = None,
        threads: int = 1,
        eval_batch_size: int = 1024,
        reports_per_epoch: int = 1,
    ) -> None:
        checks = [
            (
                dataset in KNOWN_DATASETS,
                f"dataset must be one of {', '.join(KNOWN_DATASETS)}, got {dataset!r}",
            ),
            (
                train_limit is None or is_positive_int(train_limit),
                f"train_limit must be a positive integer or None, got {train_limit!r}",
            ),
            (is_positive_int(epochs), f"epochs must be a positive integer, got {epochs!r}"),
            (
                is_positive_int(batch_size),
                f"batch_size must be a positive integer, got {batch_size!r}",
            ),
            (
                is_positive_int(eval_batch_size),
                f"eval_batch_size must be a positive integer, got {eval_batch_size!r}",
            ),
            (is_number(lr) and lr > 0, f"lr must be a positive number, got {lr!r}"),
            (is_number(momentum) and 0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum!r}"),
            (isinstance(nesterov, bool), f"nesterov must be true or false, got {nesterov!r}"),
            (
                not (nesterov is True and is_number(momentum) and momentum == 0),
                "nesterov=True needs momentum > 0; set momentum or nesterov=False",
            ),
            (
                is_number(weight_decay) and weight_decay >= 0,
                f"weight_decay must be a number >= 0, got {weight_decay!r}",
            ),
            (
                lr_schedule in LR_SCHEDULES,
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {lr_schedule!r}",
            ),
            (
                (isinstance(val_size, float) and 0 < val_size < 1) or (is_int(val_size) and val_size >= 1),
                f"val_size must be a fraction in (0, 1) or a count >= 1 of training images, got {val_size!r}",
            ),
            (is_int(split_seed), f"split_seed must be an integer, got {split_seed!r}"),
            (isinstance(amp, bool), f"amp must be true or false, got {amp!r}"),
            (
                is_positive_int(reports_per_epoch),
                f"reports_per_epoch must be a positive integer, got {reports_per_epoch!r}",
            ),
        ]
        check_settings(checks, timeout_s=timeout_s, threads=threads, device=device)
        self.reports_per_epoch = reports_per_epoch
        self.dataset = dataset
        self.data_dir = None if data_dir is None else str(data_dir)
        self.train_limit = train_limit
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self.weight_decay = float(weight_decay)
        self.lr_schedule = lr_schedule
        self.val_size = val_size
        self.split_seed = split_seed
        self.device = device
        self.amp = amp
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.threads = threads
        self._splits: dict[str, DataSplit] = {}

    def split(self, device: torch.device | str = "cpu") -> DataSplit:
        """The train / validation / test tensors on ``device``, loaded and split once per instance."""
        key = str(device)
        if key not in self._splits:
            data = load_images(self.dataset, self.data_dir, self.train_limit)
            train_idx, val_idx = validation_split(len(data.train_x), self.val_size, self.split_seed)
            self._splits[key] = DataSplit(
                train_x=data.train_x[train_idx].to(device),
                train_y=data.train_y[train_idx].to(device),
                val_x=data.train_x[val_idx].to(device),
                val_y=data.train_y[val_idx].to(device),
                test_x=data.test_x.to(device),
                test_y=data.test_y.to(device),
                input_shape=data.input_shape,
                num_classes=data.num_classes,
            )
        return self._splits[key]

    def reached_metrics(self, curve: dict[str, list[float]]) -> dict[str, float]:
        """A pruned child's ``best_val_acc`` and ``max_val_acc_last5`` (over its last 5 epochs' points)."""
        series = curve.get("val_acc") or []
        if not series:
            return {}
        return {
            "best_val_acc": max(series),
            "max_val_acc_last5": max(series[-REWARD_LAST_EPOCHS * self.reports_per_epoch :]),
        }

    def data_shape(self) -> tuple[tuple[int, ...], int]:
        """The input shape (C, H, W) and the number of classes of the data set."""
        split = self.split()
        return split.input_shape, split.num_classes

    def _train(
        self,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        device: torch.device,
        data: DataSplit,
        progress: TrialProgress,
    ) -> dict[str, float]:
        deadline = self.trial_deadline()
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = space.build(arch, data.input_shape, data.num_classes).to(device)
        progress.params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )
        scaler, check_every = cuda_settings(device, self.amp)
        train_time = train_epochs(
            model,
            optimizer,
            data.train_x,
            data.train_y,
            epochs=self.epochs,
            batch_size=self.batch_size,
            base_lr=self.lr,
            lr_schedule=self.lr_schedule,
            generator=generator,
            progress=progress,
            validate=lambda: {"val_acc": accuracy(model, data.val_x, data.val_y, self.eval_batch_size)},
            scaler=scaler,
            deadline=deadline,
            check_every=check_every,
            reports_per_epoch=self.reports_per_epoch,
        )
        val_curve = progress.curve["val_acc"]
        test_acc = accuracy(model, data.test_x, data.test_y, self.eval_batch_size)
        progress.weights = state_dict_bytes(model)
        return {
            "val_acc": val_curve[-1],
            "best_val_acc": max(val_curve),
            "max_val_acc_last5": max(val_curve[-REWARD_LAST_EPOCHS * self.reports_per_epoch :]),
            "test_acc": test_acc,
            "params": float(progress.params),
            "train_time_s": train_time,
            "images_per_s": len(data.train_x) * self.epochs / max(train_time, 1e-9),
            "epochs": float(self.epochs),
        }
