"""Ready evaluators on the user's data: train the user's model for each architecture and score it.

``ClassificationEvaluator`` and ``RegressionEvaluator`` are archsearch's counterparts of NNI's
``Classification``/``Regression`` evaluators and KerasTuner's ``tuner.search(x, y)``: the space builds the
child (``space.build(arch, input_shape=..., num_classes=...)``), which is trained with the loop of the
built-in training evaluator (``train_epoch``: shuffled mini-batches, cosine learning rate, NaN and time
checks, AMP on CUDA) on data read by ``archsearch.data.user`` (arrays, torch datasets and loaders, image
folders, CSV files, loader functions).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archsearch.core import Architecture, SearchSpace
from archsearch.data.user import (
    IMAGE_MODES,
    RUN_PREFIX,
    SPLITS,
    Examples,
    Task,
    UserData,
    is_in_memory,
    load_user_data,
    stored_file,
    to_examples,
)
from archsearch.errors import ConfigError
from archsearch.evaluators.common import (
    ChildFailedError,
    ChildTrainingEvaluator,
    TrialProgress,
    check_settings,
    cuda_settings,
    is_int,
    is_number,
    is_positive_int,
    state_dict_bytes,
)
from archsearch.evaluators.training import LR_SCHEDULES, train_epochs
from archsearch.resolve import check_picklable, path_of

OPTIMIZERS = ("sgd", "adam", "adamw")
# Metrics reported whatever ``metrics`` asks for.
ALWAYS_REPORTED = ("params", "train_time_s", "epochs")


@dataclass
class SupervisedSplit:
    """Train / validation / test tensors of the user's data on one device (test may be absent)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None
    data: UserData


def _hashable(source: Any) -> bool:
    return source is None or isinstance(source, str)


@lru_cache(maxsize=2)
def _load_cached(
    task: Task, train: Any, valid: Any, test: Any, options: tuple[tuple[str, Any], ...]
) -> UserData:
    """Data given by paths or dotted paths, read once per process (each trial unpickles a new evaluator)."""
    return load_user_data(task, train, valid, test, **dict(options))


def macro_f1(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """The unweighted mean of the per-class F1 scores over the classes that occur in ``target`` or
    ``predicted`` (scikit-learn's ``f1_score(average="macro")``)."""
    confusion = torch.bincount(target * num_classes + predicted, minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes).double()
    hits = confusion.diag()
    denominator = confusion.sum(0) + confusion.sum(1)  # 2 tp + fp + fn
    present = denominator > 0
    return float((2 * hits[present] / denominator[present]).mean())


def r2_score(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """The coefficient of determination 1 - SS_res / SS_tot, averaged over outputs; an output of
    constant target scores 1 when predicted exactly, else 0 (scikit-learn's convention)."""
    predicted, target = predicted.double(), target.double()
    residual = ((target - predicted) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0)
    constant = total == 0
    scores = torch.where(constant, (residual == 0).double(), 1 - residual / torch.where(constant, 1, total))
    return float(scores.mean())


def _regression_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(outputs.reshape(targets.shape), targets)


class SupervisedEvaluator(ChildTrainingEvaluator[SupervisedSplit]):
    """What the classification and regression evaluators share: data options, optimiser and training.

    ``train``, ``valid``, ``test``: each an (x, y) pair of numpy arrays or tensors, a torch ``Dataset`` or
    ``DataLoader`` of (input, target) pairs, a folder of images with one subfolder per class, a CSV file
    (``target`` names its target column), a ``.npz`` file of arrays ``x`` and ``y``, a function returning one of these or a dict of splits, or a
    dotted path to such a function ("pkg.mod:load_data"; what YAML and the command line give). ``valid``
    and ``test`` are optional: without ``valid``, ``val_size`` (a fraction or a count) of ``train`` is held
    out at random, the same for every trial (``split_seed``); without ``test`` no test metrics.
    ``image_size`` (an int or (height, width)) resizes folder images, ``image_mode`` is auto, L or RGB.
    ``normalize`` standardises inputs (and regression targets) with training statistics.
    ``epochs``, ``batch_size``, ``optimizer`` (sgd with Nesterov momentum, adam or adamw), ``lr``,
    ``weight_decay``, ``momentum`` (sgd only), ``lr_schedule`` (cosine or constant) set the training;
    ``device`` is auto, cpu or cuda[:N]; ``amp`` uses float16 autocast on CUDA; ``timeout_s`` limits a
    trial (checked after every batch); ``threads`` torch threads run it. ``metrics`` keeps only the named
    metrics (params, train_time_s and epochs always come); ``keep_weights`` returns the trained
    ``state_dict`` as ``Result.weights``. After each epoch the child reports its per-epoch validation
    metrics and ``train_loss`` (resource = epochs trained), and a study's pruner may stop it there (status
    "pruned": its curve so far, the last value of each series, ``best_<metric>`` and ``resource``);
    ``reports_per_epoch`` k > 1 validates and reports after each k-th of an epoch's batches (resources
    1/k, 2/k, ...: a fraction of the training data; k points per epoch in the curve). Data given by
    paths is read once per process. A study stores
    data given as objects (arrays, tensors, a Dataset or DataLoader, read through once: a copy of the
    data) in its run directory as ``data/<split>.npz`` (``data_files``), so that it resumes from the
    command line and each worker process reads the data once from there.
    """

    task: ClassVar[Task]
    metric: ClassVar[str]
    METRICS: ClassVar[tuple[str, ...]]
    higher_is_better: ClassVar[bool]  # of ``metric``
    # The reward that suits this evaluator's metrics (what a study uses unless its config names one).
    default_reward: ClassVar[dict[str, Any]]

    def __init__(
        self,
        train: Any,
        valid: Any = None,
        test: Any = None,
        *,
        val_size: float | int = 0.2,
        split_seed: int = 0,
        target: str = "target",
        image_size: int | tuple[int, int] | None = None,
        image_mode: str = "auto",
        normalize: bool = True,
        epochs: int = 10,
        batch_size: int = 64,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        lr_schedule: str = "cosine",
        device: str = "auto",
        amp: bool = False,
        timeout_s: float | None = None,
        threads: int = 1,
        metrics: list[str] | None = None,
        eval_batch_size: int = 1024,
        keep_weights: bool = True,
        reports_per_epoch: int = 1,
    ) -> None:
        if train is None:
            raise ConfigError(f"{type(self).__name__} needs train data (train=...)")
        size_ok = image_size is None or is_positive_int(image_size)
        if isinstance(image_size, tuple | list):
            size_ok = len(image_size) == 2 and all(is_positive_int(s) for s in image_size)
        checks = [
            (
                (isinstance(val_size, float) and 0 < val_size < 1) or (is_int(val_size) and val_size >= 1),
                f"val_size must be a fraction in (0, 1) or a count >= 1 of training examples, got {val_size!r}",
            ),
            (is_int(split_seed), f"split_seed must be an integer, got {split_seed!r}"),
            (isinstance(target, str) and bool(target), f"target must be a column name, got {target!r}"),
            (size_ok, f"image_size must be a positive integer or (height, width), got {image_size!r}"),
            (
                image_mode in IMAGE_MODES,
                f"image_mode must be one of {', '.join(IMAGE_MODES)}, got {image_mode!r}",
            ),
            (isinstance(normalize, bool), f"normalize must be true or false, got {normalize!r}"),
            (is_positive_int(epochs), f"epochs must be a positive integer, got {epochs!r}"),
            (is_positive_int(batch_size), f"batch_size must be a positive integer, got {batch_size!r}"),
            (
                is_positive_int(eval_batch_size),
                f"eval_batch_size must be a positive integer, got {eval_batch_size!r}",
            ),
            (optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}"),
            (is_number(lr) and lr > 0, f"lr must be a positive number, got {lr!r}"),
            (
                is_number(weight_decay) and weight_decay >= 0,
                f"weight_decay must be a number >= 0, got {weight_decay!r}",
            ),
            (is_number(momentum) and 0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum!r}"),
            (
                lr_schedule in LR_SCHEDULES,
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {lr_schedule!r}",
            ),
            (isinstance(amp, bool), f"amp must be true or false, got {amp!r}"),
            (isinstance(keep_weights, bool), f"keep_weights must be true or false, got {keep_weights!r}"),
            (
                is_positive_int(reports_per_epoch),
                f"reports_per_epoch must be a positive integer, got {reports_per_epoch!r}",
            ),
        ]
        check_settings(checks, timeout_s=timeout_s, threads=threads, device=device)
        if metrics is not None:
            if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
                raise ConfigError(f"metrics must be a list of metric names, got {metrics!r}")
            unknown = [m for m in metrics if m not in self.METRICS + ALWAYS_REPORTED]
            if unknown:
                raise ConfigError(
                    f"unknown metric {unknown[0]!r}; {type(self).__name__} reports {', '.join(self.METRICS)}"
                )
        for name, source in (("train", train), ("valid", valid), ("test", test)):
            if callable(source) and not isinstance(
                source, torch.utils.data.Dataset | torch.utils.data.DataLoader
            ):
                check_picklable(source, f"{name} data loader")
        self.train, self.valid, self.test = train, valid, test
        self.val_size = val_size
        self.split_seed = split_seed
        self.target = target
        self.image_size = tuple(image_size) if isinstance(image_size, list) else image_size
        self.image_mode = image_mode
        self.normalize = normalize
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.optimizer = optimizer
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)
        self.lr_schedule = lr_schedule
        self.device = device
        self.amp = amp
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.threads = threads
        self.metrics = None if metrics is None else list(metrics)
        self.keep_weights = keep_weights
        self.reports_per_epoch = reports_per_epoch
        self._splits: dict[str, SupervisedSplit] = {}

    def config(self) -> dict[str, Any]:
        """The options that recreate this evaluator (stored with a study). A split given by a path stays
        that path, one given as a function is its dotted path, and one given as an object (arrays,
        tensors, a Dataset, a DataLoader) is named ``<run>/data/<split>.npz``: the file in the run
        directory in which a study stores it (``data_files``)."""
        options = dict(self.__dict__)
        del options["_splits"]
        for name in SPLITS:
            source = options[name]
            if is_in_memory(source):
                options[name] = RUN_PREFIX + stored_file(name)
            elif callable(source):
                options[name] = path_of(source, f"{name} data loader")
            elif isinstance(source, os.PathLike):
                options[name] = os.fspath(source)
        return options

    def data_files(self) -> dict[str, Examples]:
        """The splits given as objects as (x, y) arrays, keyed by the file (relative to a run directory)
        in which a study stores each: ``Study.create`` writes them there, so that the study resumes from
        the command line and its workers read the data from disk. A Dataset or DataLoader is read
        through once here: the study keeps a copy of the data."""
        return {
            stored_file(name): to_examples(getattr(self, name), name)
            for name in SPLITS
            if is_in_memory(getattr(self, name))
        }

    # -- data ---------------------------------------------------------------------------------------
    def user_data(self) -> UserData:
        """The prepared data (read once per process when every source is a path or dotted path)."""
        options: dict[str, Any] = {
            "val_size": self.val_size,
            "split_seed": self.split_seed,
            "target": self.target,
            "image_size": self.image_size,
            "image_mode": self.image_mode,
            "normalize": self.normalize,
        }
        if all(_hashable(s) for s in (self.train, self.valid, self.test)):
            return _load_cached(self.task, self.train, self.valid, self.test, tuple(options.items()))
        return load_user_data(self.task, self.train, self.valid, self.test, **options)

    def split(self, device: torch.device | str = "cpu") -> SupervisedSplit:
        """The train / validation / test tensors on ``device``, made once per instance and device."""
        key = str(device)
        if key not in self._splits:
            data = self.user_data()
            wanted = [m for m in self.metrics or () if m.startswith("test_")]
            if wanted and data.test is None:
                raise ConfigError(f"metrics asks for {wanted[0]} but no test data is given (test=...)")

            def tensor(array: np.ndarray) -> torch.Tensor:
                return torch.from_numpy(np.ascontiguousarray(array)).to(device)

            self._splits[key] = SupervisedSplit(
                train_x=tensor(data.train.x),
                train_y=tensor(data.train.y),
                val_x=tensor(data.valid.x),
                val_y=tensor(data.valid.y),
                test_x=None if data.test is None else tensor(data.test.x),
                test_y=None if data.test is None else tensor(data.test.y),
                data=data,
            )
        return self._splits[key]

    def data_shape(self) -> tuple[tuple[int, ...], int]:
        """The input shape of one example and the number of classes (or regression outputs)."""
        data = self.split().data
        return data.input_shape, data.num_outputs

    def check_space(self, space: SearchSpace) -> None:
        if type(space).build is SearchSpace.build:
            raise ConfigError(
                f"space {space.name!r} builds no torch modules, which {type(self).__name__} trains; use a "
                "model space (archsearch.nn.ModelSpace) or a FunctionEvaluator"
            )

    # -- training -----------------------------------------------------------------------------------
    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                model.parameters(),
                lr=self.lr,
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                weight_decay=self.weight_decay,
            )
        kind = torch.optim.Adam if self.optimizer == "adam" else torch.optim.AdamW
        return kind(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _outputs(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """The model's outputs for ``inputs`` in eval mode, in batches, without gradients."""
        model.eval()
        with torch.no_grad():
            return torch.cat(
                [
                    model(inputs[start : start + self.eval_batch_size]).float()
                    for start in range(0, len(inputs), self.eval_batch_size)
                ]
            )

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def _scores(
        self, outputs: torch.Tensor, targets: torch.Tensor, data: UserData, prefix: str
    ) -> dict[str, float]:
        """The metrics of ``outputs`` against ``targets``, named ``prefix``_name (val or test)."""
        raise NotImplementedError

    def _train(
        self,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        device: torch.device,
        data: SupervisedSplit,
        progress: TrialProgress,
    ) -> dict[str, float]:
        deadline = self.trial_deadline()
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        info = data.data
        model = space.build(arch, input_shape=info.input_shape, num_classes=info.num_outputs).to(device)
        progress.params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        optimizer = self._optimizer(model)
        scaler, check_every = cuda_settings(device, self.amp)
        scores: dict[str, float] = {}

        def validate() -> dict[str, float]:
            scores.update(self._scores(self._outputs(model, data.val_x), data.val_y, info, "val"))
            for name, value in scores.items():
                if not math.isfinite(value):
                    raise ChildFailedError(f"{name} became {value} after epoch {progress.epoch}")
            return {name: scores[name] for name in self.curve_metrics()}

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
            validate=validate,
            scaler=scaler,
            deadline=deadline,
            check_every=check_every,
            loss_fn=self._loss,
            reports_per_epoch=self.reports_per_epoch,
        )
        metrics = dict(scores)
        best = max if self.higher_is_better else min
        metrics[f"best_{self.metric}"] = best(progress.curve[self.metric])
        if data.test_x is not None and data.test_y is not None:
            metrics.update(self._scores(self._outputs(model, data.test_x), data.test_y, info, "test"))
        if self.metrics is not None:
            metrics = {name: value for name, value in metrics.items() if name in self.metrics}
        if self.keep_weights:
            progress.weights = state_dict_bytes(model)
        return {
            **metrics,
            "params": float(progress.params),
            "train_time_s": train_time,
            "epochs": float(self.epochs),
        }

    def curve_metrics(self) -> tuple[str, ...]:
        """The validation metrics recorded per epoch (the first is ``metric``)."""
        return (self.metric,)

    def reached_metrics(self, curve: dict[str, list[float]]) -> dict[str, float]:
        """A pruned child's ``best_<metric>`` over the points it reached."""
        series = curve.get(self.metric) or []
        if not series:
            return {}
        best = max if self.higher_is_better else min
        return {f"best_{self.metric}": best(series)}


class ClassificationEvaluator(SupervisedEvaluator):
    """Trains the user's classifier on the user's data (see ``SupervisedEvaluator`` for the options).

    The model maps a batch of inputs to class logits (``num_classes`` of them; labels may be indices
    0..K-1 or names, e.g. the class folders, sorted into indices) and is trained with cross-entropy.
    Metrics: ``val_acc`` (per epoch in the curve, with ``val_loss``), ``best_val_acc``, ``val_loss``,
    ``val_f1`` (macro F1), ``test_acc``, ``test_f1`` and ``test_loss`` with test data, ``params``,
    ``train_time_s``, ``epochs``. Defaults: Adam, lr 1e-3, 10 epochs of batches of 64, cosine schedule.
    """

    task = "classification"
    metric = "val_acc"
    higher_is_better = True
    default_reward = {"name": "metric", "params": {"metric": "val_acc", "mode": "max"}}
    METRICS = ("val_acc", "best_val_acc", "val_loss", "val_f1", "test_acc", "test_f1", "test_loss")

    def curve_metrics(self) -> tuple[str, ...]:
        return ("val_acc", "val_loss")

    def _scores(
        self, outputs: torch.Tensor, targets: torch.Tensor, data: UserData, prefix: str
    ) -> dict[str, float]:
        if outputs.ndim != 2 or outputs.shape[1] < data.num_outputs:
            raise ValueError(
                f"the model gives outputs of shape {tuple(outputs.shape)}; a classifier of {data.num_outputs} "
                "classes must give (batch, num_classes) logits"
            )
        predicted = outputs.argmax(dim=1)
        return {
            f"{prefix}_acc": float((predicted == targets).double().mean()),
            f"{prefix}_loss": float(F.cross_entropy(outputs, targets)),
            f"{prefix}_f1": macro_f1(predicted, targets, outputs.shape[1]),
        }


class RegressionEvaluator(SupervisedEvaluator):
    """Trains the user's regression model on the user's data (see ``SupervisedEvaluator`` for the options).

    The model maps a batch of inputs to ``num_classes`` outputs per example (the number of target
    columns, 1 for a single target) and is trained with the mean squared error on standardised targets
    (``normalize``); metrics are in the targets' own units: ``val_rmse`` (per epoch in the curve),
    ``best_val_rmse``, ``val_mae``, ``val_r2``, and ``test_rmse``, ``test_mae``, ``test_r2`` with test data,
    ``params``, ``train_time_s``, ``epochs``. Minimise ``val_rmse`` with the ``metric`` reward
    (``{metric: val_rmse, mode: min}``).
    """

    task = "regression"
    metric = "val_rmse"
    higher_is_better = False
    default_reward = {"name": "metric", "params": {"metric": "val_rmse", "mode": "min"}}
    METRICS = ("val_rmse", "best_val_rmse", "val_mae", "val_r2", "test_rmse", "test_mae", "test_r2")

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return _regression_loss(outputs, targets)

    def _scores(
        self, outputs: torch.Tensor, targets: torch.Tensor, data: UserData, prefix: str
    ) -> dict[str, float]:
        if outputs.numel() != targets.numel():
            raise ValueError(
                f"the model gives outputs of shape {tuple(outputs.shape)}; a regression on "
                f"{data.num_outputs} target(s) must give (batch, {data.num_outputs})"
            )
        predicted = outputs.reshape(targets.shape)
        if data.target_std is not None and data.target_mean is not None:
            scale = torch.from_numpy(data.target_std).to(outputs.device)
            shift = torch.from_numpy(data.target_mean).to(outputs.device)
            predicted, targets = predicted * scale + shift, targets * scale + shift
        error = (predicted - targets).double()
        return {
            f"{prefix}_rmse": float(error.pow(2).mean().sqrt()),
            f"{prefix}_mae": float(error.abs().mean()),
            f"{prefix}_r2": r2_score(predicted, targets),
        }
