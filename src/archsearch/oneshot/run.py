"""The one-shot search loop: a weight-sharing method trained epoch by epoch on real images, in a store.

ENAS (Pham et al. 2018), DARTS (Liu et al. 2019) and ASNG-NAS (Akimoto et al. 2019) alternate weight and
architecture updates on two halves of the training images (DARTS section 3: "we hold out half of the
CIFAR-10 training data as the validation set"). One ``method.step(train_batch, valid_batch)`` is one such
iteration; an epoch is one pass over the training half, with the validation half cycled alongside.

Each epoch's metrics, distribution over ops, derived architecture and wall time are written to the study
database together with the method's ``state_dict`` (one transaction), so a run killed at any moment
resumes from its last finished epoch and ends exactly where an uninterrupted run ends: batches of epoch
``e`` are drawn from ``SeedSequence([seed, e])`` alone, and the method carries its own generators.
After the last epoch the run records the method's own accuracy estimate of the derived cell, the collapse
check and, in the NB201 space, the cell's true accuracies from the packaged table.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archsearch import registry
from archsearch.config import MAX_SEED, MAX_WORKERS, option_name
from archsearch.core import SearchSpace
from archsearch.data.images import KNOWN_DATASETS
from archsearch.errors import ConfigError
from archsearch.evaluators.common import resolve_device
from archsearch.evaluators.training import DataSplit, TrainingEvaluator
from archsearch.oneshot.derived import check_collapse, mean_entropy, nb201_truth, skip_none_mass
from archsearch.oneshot.supernet import Supernet, has_supernet, supernet_spaces
from archsearch.registry import construct
from archsearch.resolve import import_again
from archsearch.store.base import RunStore
from archsearch.store.epochs import EpochRecord, OneShotStore
from archsearch.store.rundir import new_run, open_run, unfinished, unfinished_error
from archsearch.store.runlock import HeldRun, RunLock

log = logging.getLogger(__name__)

RUN_KIND = "oneshot"
"""``meta.kind`` of a one-shot run's database; studies of trials have none."""
METHOD_NAMES = ("enas", "darts", "asng")
ARRAYS = "arrays"
"""``dataset`` of a run on data held in memory, given from Python (``archsearch.search_model_space``)."""
USER_DATA = "user"
"""``dataset`` of a run on the user's data read from the paths in ``data`` (``--train``, ``--valid``, ...)."""
DATA_OPTIONS = ("train", "valid", "test", "target", "image_size", "normalize")
"""The keys of ``OneShotConfig.data``."""
SPLIT_SEED = 0
"""The train/validation split is the same for every seed and method, so their searches see the same data."""
EVAL_BATCH_SIZE = 512


class OneShotConfig(BaseModel):
    """Everything one one-shot search needs; stored with the run, so ``resume`` needs only the directory.

    ``valid_fraction`` of the training images is held out for the architecture updates (DARTS: one half).
    ``order`` is DARTS' gradient order (1 or 2) and is only for DARTS. ``supernet`` and ``hyper`` are passed
    to ``make_supernet`` and the method as keyword arguments (sizes; the papers' hyper-parameters are the
    defaults). ``threads`` sets torch's CPU threads (None: torch's default).
    ``space`` is a cell space (nb201, darts) or a user's model space as a dotted path ``pkg.mod:Net``
    (oneshot/user.py); for the latter ``supernet`` holds the keyword arguments of the model's constructor.
    ``dataset`` "arrays" marks data held in memory, given from Python (``search_model_space``), which the
    run cannot load again; "user" data read from the paths in ``data`` (train, valid, test: image folders,
    CSV files or dotted paths to loaders; target, image_size, normalize), as ``oneshot.user.user_data_split``
    reads them.
    """

    model_config = ConfigDict(extra="forbid")
    method: Literal["enas", "darts", "asng"] = "asng"
    space: str = "nb201"
    dataset: str = "digits"
    data_dir: str | None = None
    train_limit: int | None = Field(default=None, ge=4)
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=64, ge=2)
    valid_fraction: float = Field(default=0.5, gt=0, lt=1)
    order: Literal[1, 2] | None = None
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    device: str = "cpu"
    threads: int | None = Field(default=None, ge=1, le=MAX_WORKERS)
    supernet: dict[str, Any] = Field(default_factory=dict)
    hyper: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] | None = None

    @field_validator("space")
    @classmethod
    def _known_space(cls, value: str) -> str:
        if not is_model_space_path(value) and not has_supernet(value):
            raise ValueError(
                f"must be {' or '.join(supernet_spaces())}, or a model space as a dotted path pkg.mod:Net, "
                f"got {value!r}"
            )
        return value

    def method_hyper(self) -> dict[str, Any]:
        return {**self.hyper, **({} if self.order is None else {"order": self.order})}

    @property
    def user_space(self) -> bool:
        """True when ``space`` is a user's model space (a dotted path), not a cell space."""
        return is_model_space_path(self.space)


def is_model_space_path(name: str) -> bool:
    """True for a dotted path ``pkg.mod:Attr`` or ``path/file.py:Attr`` naming a user's model space."""
    module, colon, attr = name.rpartition(":")
    return bool(colon and module and attr)


def parse_oneshot_config(data: dict[str, Any]) -> OneShotConfig:
    """Validate ``data`` into an OneShotConfig; every mistake is a one-line ConfigError."""
    try:
        config = OneShotConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        # every top-level option is a flag of `archsearch oneshot` except these four
        options = set(OneShotConfig.model_fields) - {"valid_fraction", "supernet", "hyper", "data"}
        flags = {name: "--" + name.replace("_", "-") for name in options}
        where = option_name(error["loc"], flags) or "config"
        raise ConfigError(f"bad one-shot option {where}: {error['msg']}") from None
    if config.dataset not in KNOWN_DATASETS and config.dataset not in (ARRAYS, USER_DATA):
        raise ConfigError(f"unknown data set {config.dataset!r}; known: {', '.join(KNOWN_DATASETS)}")
    if (config.dataset == USER_DATA) != (config.data is not None):
        raise ConfigError("a one-shot run on the user's data needs dataset 'user' and data with the paths")
    if config.data is not None and (set(config.data) != set(DATA_OPTIONS) or not config.data.get("train")):
        raise ConfigError(f"one-shot data options must be {', '.join(DATA_OPTIONS)} with a train path")
    if config.order is not None and config.method != "darts":
        raise ConfigError(f"--order is DARTS' gradient order; method {config.method!r} has none")
    return config


class EpochListener(Protocol):
    """Receives the run's progress (the CLI's rich display is one)."""

    def epoch_started(self, epoch: int, steps: int) -> None: ...

    def step_finished(self, epoch: int, step: int, metrics: dict[str, float]) -> None: ...

    def epoch_finished(self, record: EpochRecord) -> None: ...


def load_search_data(config: OneShotConfig, device: torch.device) -> DataSplit:
    """Images of ``config.dataset`` split into the search's train and validation halves (``val_x``): the
    training evaluator's split, fixed by ``SPLIT_SEED``."""
    evaluator = TrainingEvaluator(
        dataset=config.dataset,
        data_dir=config.data_dir,
        train_limit=config.train_limit,
        val_size=config.valid_fraction,
        split_seed=SPLIT_SEED,
        device="cpu",  # the split below goes to the run's device
    )
    return evaluator.split(device)


def check_batch_size(batch_size: int, data: DataSplit) -> None:
    """ConfigError when ``batch_size`` is larger than the training or the validation half."""
    if min(len(data.train_x), len(data.val_x)) < batch_size:
        raise ConfigError(
            f"batch_size {batch_size} is larger than the {len(data.train_x)} training or "
            f"{len(data.val_x)} validation images; lower --batch-size or raise the training images"
        )


def import_stored_dirs(store: RunStore) -> None:
    """Make the directories a run imported the user's model space from importable again (as a study
    does), after the installed packages, so that resume, report and export work from another directory."""
    import_again(store.get_meta("import_dirs", []))


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s batch order: independent of what ran before, so resume needs no state."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] & 0x7FFFFFFF)


def epoch_batches(
    data: DataSplit, batch_size: int, seed: int, epoch: int
) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]:
    """(train batch, validation batch) pairs of one epoch: every full training batch once, in a random
    order, each with the next batch of a random order of the validation images (cycled when shorter)."""
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    train_order = torch.randperm(len(data.train_x), generator=generator).to(data.train_x.device)
    valid_order = torch.randperm(len(data.val_x), generator=generator).to(data.val_x.device)
    offsets = torch.arange(batch_size, device=data.val_x.device)
    for step in range(len(data.train_x) // batch_size):
        train = train_order[step * batch_size : (step + 1) * batch_size]
        valid = valid_order[(step * batch_size + offsets) % len(data.val_x)]
        yield (data.train_x[train], data.train_y[train]), (data.val_x[valid], data.val_y[valid])


def eval_batches(x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [
        (x[i : i + EVAL_BATCH_SIZE], y[i : i + EVAL_BATCH_SIZE]) for i in range(0, len(x), EVAL_BATCH_SIZE)
    ]


def edge_names(supernet: Any) -> list[str]:
    """A label for each edge of ``supernet``: its own ``edge_names`` when it has them, otherwise
    ``edge 0 .. edge n-1``."""
    names = getattr(supernet, "edge_names", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"edge {i}" for i in range(supernet.edges)]


class OneShotRun(HeldRun):
    """A one-shot search in a directory: ``OneShotRun.create(config, dir).run()``, later
    ``OneShotRun.load(dir).run()`` continues it from its last finished epoch (even after kill -9)."""

    def __init__(
        self,
        config: OneShotConfig,
        directory: Path,
        store: OneShotStore,
        data: DataSplit | None = None,
        model_space: SearchSpace | None = None,
    ) -> None:
        """``data`` replaces the data set's images (data given from Python); ``model_space`` is the user's
        model space object when ``config.space`` names one (else it is imported from the dotted path)."""
        from archsearch.oneshot import make_method, make_supernet

        self.config = config
        self.directory = directory
        self.store = store
        self.device = resolve_device(config.device)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        if data is None and config.dataset == ARRAYS:
            raise ConfigError(
                f"{directory} searched arrays given from Python; continue it from Python with "
                "archsearch.search_model_space(..., out=DIR, resume=True) and the same data"
            )
        if data is None and config.data is not None:
            from archsearch.oneshot.user import user_data_split

            options = dict(config.data)
            data = user_data_split(
                options.pop("train"),
                options.pop("valid"),
                options.pop("test"),
                valid_fraction=config.valid_fraction,
                device=self.device,
                **options,
                split_seed=SPLIT_SEED,
            )
        self.data = load_search_data(config, self.device) if data is None else data
        check_batch_size(config.batch_size, self.data)
        torch.manual_seed(config.seed)  # the supernet's initial weights
        if config.user_space:
            from archsearch.oneshot.user import UserSupernet, load_model_space

            if model_space is None:
                model_space = load_model_space(config.space, config.supernet)
            supernet = UserSupernet(model_space, self.data.input_shape, self.data.num_classes)
            if not any(True for _ in supernet.parameters()):
                raise ConfigError(f"model space {config.space} has no weights for one-shot search to train")
            if config.method == "darts":  # the weighted sums run now: a mismatch is one line before the run
                supernet.check_output(self.data.input_shape, self.data.num_classes, mixed=True)
            self.supernet: Supernet = supernet
            self.supernet.to(self.device)
        else:
            self.supernet = make_supernet(
                config.space, self.data.input_shape, self.data.num_classes, **config.supernet
            ).to(self.device)
        # the normal space of the derived cells: the supernet's own (DARTS: its skeleton's sizes) or the
        # space itself (NB201: the benchmark's, at the paper's sizes, so an exported cell is the one the
        # table scores)
        own_space = getattr(self.supernet, "space", None)
        self.space: SearchSpace = own_space() if callable(own_space) else construct("space", config.space, {})
        # the run's length sets the methods' learning-rate schedules (ENAS restarts count epochs)
        from archsearch.oneshot.base import METHODS

        schedule = {
            "total_steps": config.epochs * self.steps_per_epoch(),
            "steps_per_epoch": self.steps_per_epoch(),
        }
        accepted = inspect.signature(METHODS[config.method]).parameters if config.method in METHODS else {}
        hyper = {**{k: v for k, v in schedule.items() if k in accepted}, **config.method_hyper()}
        try:
            self.method = make_method(config.method, self.supernet, seed=config.seed, **hyper)
        except TypeError as exc:
            raise ConfigError(f"bad option for method {config.method!r}: {exc}") from None
        self.elapsed_before = float(store.get_meta("elapsed_s", 0.0))
        self.lock: RunLock | None = None  # held while this process creates or runs the run

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        config: OneShotConfig,
        directory: str | Path,
        overwrite: bool = False,
        data: DataSplit | None = None,
        model_space: SearchSpace | None = None,
    ) -> OneShotRun:
        """Start a run in ``directory``; a failed start removes only what it made (store/rundir.py).
        ``data`` and ``model_space`` as in ``__init__``."""
        directory = Path(directory)
        occupied = (
            f"{directory} already holds a run; continue it with `archsearch oneshot --resume "
            f"{directory}` or pass --overwrite"
        )
        with new_run(directory, "oneshot", overwrite, occupied, store_class=OneShotStore) as staged:
            run = cls(config, directory, staged.store, data, model_space)
            store = staged.store
            store.set_meta("kind", RUN_KIND)
            store.set_meta("oneshot_config", config.model_dump(mode="json"))
            # what registry.construct("space", name, config) makes again (a user's space: its model's
            # path and keyword arguments, as a study stores it)
            store.set_meta("space_name", config.space if config.user_space else run.space.name)
            store.set_meta("space_config", config.supernet if config.user_space else run.space.config())
            store.set_meta("data_shape", [list(run.data.input_shape), run.data.num_classes])
            store.set_meta("op_names", list(run.supernet.op_names))
            store.set_meta("edge_names", edge_names(run.supernet))
            decisions = getattr(run.supernet, "decisions", None)  # a user's space: each one's candidates
            if decisions is not None:
                store.set_meta("choice_names", [list(decision.names) for decision in decisions])
                store.set_meta(
                    "import_dirs", list(registry.IMPORT_DIRS)
                )  # where its module was imported from
            store.set_meta("created_at", time.time())
            run.store, run.lock = staged.publish(), staged.lock
        return run

    @classmethod
    def load(
        cls,
        directory: str | Path,
        lock: bool = False,
        read_only: bool = False,
        data: DataSplit | None = None,
        model_space: SearchSpace | None = None,
    ) -> OneShotRun:
        """The run in ``directory``; ``lock`` makes this process its one driver (to run it) at once;
        ``read_only`` opens its database without writing a byte; ``data`` and ``model_space`` as in
        ``__init__`` (a run on arrays given from Python needs them again)."""
        directory = Path(directory)
        with open_run(directory, lock, read_only, store_class=OneShotStore, kind=RUN_KIND) as (store, held):
            if unfinished(store):
                raise unfinished_error(directory)
            config = parse_oneshot_config(store.get_meta("oneshot_config"))
            import_stored_dirs(store)
            run = cls(config, directory, store, data, model_space)
        run.lock = held
        return run

    # -- the loop -----------------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        return len(self.data.train_x) // self.config.batch_size

    def completed_epochs(self) -> int:
        return len(self.store.epochs())

    def run(self, listeners: Sequence[EpochListener] = ()) -> dict[str, Any]:
        """Run (or continue) the remaining epochs, then record and return the summary of the search."""
        self.take_lock()
        start_epoch = self._restore()
        started = time.monotonic()
        try:
            for epoch in range(start_epoch, self.config.epochs):
                self._epoch(epoch, listeners)
        finally:
            self.store.set_meta("elapsed_s", self.elapsed_before + time.monotonic() - started)
            self.elapsed_before += time.monotonic() - started
        summary = self.store.get_meta("summary")
        if summary is None:
            summary = self.summarize()
            self.store.set_meta("summary", summary)
        return dict(summary)

    def _restore(self) -> int:
        """Load the state after the last finished epoch; the epoch to start with."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            return 0
        epoch, state = latest
        later = [record.epoch for record in self.store.epochs() if record.epoch > epoch]
        if later:  # the newer checkpoint could not be read (store.latest_checkpoint warned): redo them
            log.warning("%s: redoing epochs %s from the checkpoint of epoch %d", self.directory, later, epoch)
            self.store.discard_epochs_after(epoch)
        self.method.load_state_dict(state["method"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        log.info("resuming %s after epoch %d", self.directory, epoch)
        return epoch + 1

    def _epoch(self, epoch: int, listeners: Sequence[EpochListener]) -> None:
        steps = self.steps_per_epoch()
        for listener in listeners:
            listener.epoch_started(epoch, steps)
        began = time.perf_counter()
        sums: dict[str, float] = {}
        for step, (train_batch, valid_batch) in enumerate(
            epoch_batches(self.data, self.config.batch_size, self.config.seed, epoch)
        ):
            metrics = self.method.step(train_batch, valid_batch)
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            for listener in listeners:
                listener.step_finished(epoch, step, metrics)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        wall_s = time.perf_counter() - began
        probabilities = np.asarray(self.method.probabilities(), dtype=np.float64)
        arch = self.method.derive()
        self.space.validate(arch)
        metrics = {key: total / steps for key, total in sums.items()}
        metrics["entropy"] = mean_entropy(probabilities)
        decisions = getattr(self.supernet, "decisions", None)  # a user's space: each one's candidates
        metrics["skip_none_mass"] = skip_none_mass(
            probabilities, self.supernet.op_names, None if decisions is None else [d.names for d in decisions]
        )
        record = EpochRecord(
            epoch=epoch,
            metrics=metrics,
            probabilities=probabilities.tolist(),
            arch=arch,
            arch_str=self.space.encode(arch),
            wall_s=wall_s,
        )
        checkpoint = {
            "method": self.method.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }
        self.store.add_epoch(record, checkpoint)
        for listener in listeners:
            listener.epoch_finished(record)

    # -- after the search ---------------------------------------------------------------------------
    def summarize(self) -> dict[str, Any]:
        """The derived cell, the method's own accuracy estimates, the collapse check and, for NB201, the
        cell's true accuracies from the table (trained on CIFAR/ImageNet16 for 200 epochs, not on this data)."""
        arch = self.method.derive()
        epochs = self.store.epochs()
        summary: dict[str, Any] = {
            "method": self.config.method,
            "space": self.space.name,
            "arch": arch.to_dict(),
            "arch_str": self.space.encode(arch),
            "epochs": len(epochs),
            "mean_epoch_s": float(np.mean([e.wall_s for e in epochs])) if epochs else None,
            "estimate_valid_acc": float(self.method.estimate(eval_batches(self.data.val_x, self.data.val_y))),
            "estimate_test_acc": (
                float(self.method.estimate(eval_batches(self.data.test_x, self.data.test_y)))
                if len(self.data.test_x)
                else None
            ),
            "converged": bool(self.method.converged()),
        }
        if self.config.user_space:
            from archsearch.oneshot.user import UserSupernet, user_space_summary

            assert isinstance(self.supernet, UserSupernet)
            summary.update(user_space_summary(self.supernet, self.method))
        else:
            summary["collapse"] = check_collapse(self.space, arch).to_dict()
        if self.config.space == "nb201":
            summary["nb201"] = nb201_truth(arch)
        return summary
