"""The NAS-Bench-201 table: every cell's accuracies, times, latencies and sizes, as numpy arrays.

Of the published benchmark (Dong & Yang, ICLR 2020) and NATS-Bench (Dong et al., TPAMI 2021), for
CIFAR-10, CIFAR-100 and ImageNet16-120; how a search uses it is ``tabular.py``'s (the evaluator).

The data ships in ``evaluators/data/nb201.npz`` (origin, licences and layout in that folder's README);
``packaged_arrays`` reads it once per process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from archsearch.errors import ConfigError, DataError
from archsearch.spaces.nb201 import NUM_ARCHS

DATASETS = ("cifar10", "cifar100", "imagenet16")
"""CIFAR-10, CIFAR-100 and ImageNet16-120."""
EPOCHS = (12, 200)
"""Training schedules of the benchmark: 12 epochs (the search signal) and 200 epochs."""
FULL_EPOCHS = 200
# (channels, height, width) and classes of the benchmark's data sets (Dong & Yang 2020, section 2.2)
DATA_SHAPES = {"cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100), "imagenet16": ((3, 16, 16), 120)}
DATA_FILE = "nb201.npz"
DATA_FORMAT_VERSION = 1
SEED_PADDING = -1
ACCURACY_METRICS = ("val_acc_12ep", "test_acc_12ep", "val_acc_200ep", "test_acc_200ep")
_PER_DATASET = (
    "val_acc_12ep",
    "test_acc_12ep",
    "val_acc_200ep",
    "val_acc_200ep_seeds",
    "test_acc_200ep",
    "train_time_200ep_s",
    "latency_s",
    "params_mb",
)


Indices: TypeAlias = "int | np.integer[Any] | Sequence[int] | NDArray[np.integer[Any]]"
"""One cell index or many: every NB201Table accessor is vectorised."""


@dataclass(frozen=True)
class Optimum:
    """The best cell of a column: its index and its value (percent for accuracies); unpacks as a pair."""

    index: int
    value: float

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.value))


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` when it is one of ``allowed`` (a bool never is); a ConfigError naming them otherwise."""
    if isinstance(value, bool) or value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


@lru_cache(maxsize=1)
def packaged_arrays() -> dict[str, np.ndarray]:
    """Every array of the packaged file, as stored (read-only), read once per process."""
    source = resources.files("archsearch.evaluators").joinpath("data", DATA_FILE)
    try:
        with source.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"the packaged NAS-Bench-201 table {DATA_FILE} is missing or unreadable ({exc}); "
            "reinstall archsearch, or rebuild it with tools/pack_nb201.py"
        ) from exc
    if int(arrays.get("format_version", -1)) != DATA_FORMAT_VERSION:
        raise DataError(
            f"{DATA_FILE} is not of format {DATA_FORMAT_VERSION}; rebuild it with tools/pack_nb201.py"
        )
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


@dataclass(frozen=True, eq=False)
class NB201Table:
    """The NAS-Bench-201 table of one dataset: numpy arrays indexed by the official cell index.

    Accuracies are in percent, as published (the evaluator reports fractions). Arrays are float64,
    read-only and built once per process, so ``table.val_acc_12ep[indices]`` is a plain numpy gather.

    - ``val_acc_12ep``, ``test_acc_12ep``: 12-epoch seed means (CIFAR-10: valid from ``cifar10-valid``,
      test from ``cifar10``).
    - ``val_acc_200ep``: 200-epoch validation accuracy, seed mean; ``val_acc_200ep_seeds`` (N, 3): the per-seed
      values, NaN-padded (2 or 3 seeds per cell); ``seed_count`` (N,): how many.
    - ``test_acc_200ep``: 200-epoch test accuracy, seed mean: the reported number.
    - ``train_time_200ep_s``: NATS ``train-all-time`` of the 200-epoch run (CIFAR-10: the ``cifar10-valid`` run).
    - ``latency_s``: NATS per-image inference latency; ``params_mb``: parameters in millions.
    - ``help_latency_ms``: HELP latency per device (``help_devices``), the same for every dataset.
    No source holds FLOPs: ``nb201_flops.flops_m_table`` computes them.
    """

    dataset: str
    val_acc_12ep: np.ndarray
    test_acc_12ep: np.ndarray
    val_acc_200ep: np.ndarray
    val_acc_200ep_seeds: np.ndarray
    test_acc_200ep: np.ndarray
    train_time_200ep_s: np.ndarray
    latency_s: np.ndarray
    params_mb: np.ndarray
    seed_count: np.ndarray
    seed_deviation: np.ndarray
    help_devices: tuple[str, ...]
    help_latency_ms: np.ndarray

    @property
    def size(self) -> int:
        return NUM_ARCHS

    def cost_s(self, index: Indices, epochs: int = 12) -> Any:
        """Simulated training time of ``epochs`` epochs: ``epochs / 200 * train_time_200ep_s``.

        The approximation of ../shared/benchmarks/README.md: NATS stores a constant time per epoch, and no
        12-epoch time is in the data; the papers' per-query evaluation time is left out.
        """
        return self.train_time_200ep_s[index] * (epochs / FULL_EPOCHS)

    def search_signal(self, index: Indices, epochs: int = 12, rng: np.random.Generator | None = None) -> Any:
        """Validation accuracy (percent) after ``epochs`` epochs of one random training seed; vectorised.

        Without ``rng`` the seed mean. With ``rng`` (the noise model "seed"): draw one of the cell's 2-3
        training seeds uniformly and return, for 200 epochs, that seed's recorded accuracy; for 12 epochs,
        where only seed means exist, the 12-epoch mean plus that seed's 200-epoch deviation from its own
        mean, clipped to [0, 100]. Since the seed is drawn uniformly, the expected signal is exactly the
        seed mean; the clip binds for one draw of one cell only (ImageNet16-120 cell 818, at 0).
        """
        check_choice("epochs", epochs, EPOCHS)
        means = self.val_acc_12ep if epochs == 12 else self.val_acc_200ep
        if rng is None:
            return means[index]
        index = np.asarray(index)
        draw = (rng.random(index.shape) * self.seed_count[index]).astype(np.intp)
        if epochs != 12:
            return self.val_acc_200ep_seeds[index, draw]
        noisy = means[index].astype(np.float64) + self.seed_deviation[index, draw]
        return np.clip(noisy, 0.0, 100.0)

    def latency_ms(self, device: str) -> np.ndarray:
        """HELP latency (ms) of every cell on ``device`` (one of ``help_devices``)."""
        if device not in self.help_devices:
            raise ConfigError(f"unknown latency device {device!r}; devices: {', '.join(self.help_devices)}")
        return self.help_latency_ms[self.help_devices.index(device)]

    def optimum(self, metric: str) -> Optimum:
        """The cell with the highest ``metric`` (an accuracy column; the first index on ties)."""
        check_choice("metric", metric, ACCURACY_METRICS)
        column = getattr(self, metric)
        best = int(np.argmax(column))
        return Optimum(best, float(column[best]))


@lru_cache(maxsize=len(DATASETS))
def load_table(dataset: str = "cifar10") -> NB201Table:
    """The NB201 table of ``dataset`` ("cifar10", "cifar100" or "imagenet16"), loaded once per process."""
    check_choice("dataset", dataset, DATASETS)
    arrays = packaged_arrays()
    # The file stores every value x 10**6 as an integer (exact to the 6 decimals of the sources).
    columns = {name: arrays[f"{dataset}.{name}"] / 1e6 for name in _PER_DATASET}
    seeds = columns["val_acc_200ep_seeds"]
    seeds[arrays[f"{dataset}.val_acc_200ep_seeds"] == SEED_PADDING] = np.nan
    seed_count = np.sum(np.isfinite(seeds), axis=1)
    # Deviation of each seed from its own seed mean; padded slots are never drawn.
    deviation = np.nan_to_num(seeds - np.nanmean(seeds, axis=1, keepdims=True))
    for array in (*columns.values(), seed_count, deviation):
        array.setflags(write=False)
    return NB201Table(
        dataset=dataset,
        seed_count=seed_count,
        seed_deviation=deviation,
        help_devices=tuple(str(d) for d in arrays["help.devices"]),
        help_latency_ms=arrays["help.latency_ms"],
        **columns,
    )


def optimum(dataset: str, metric: str = "test_acc_200ep") -> Optimum:
    """The best cell of ``dataset`` by ``metric`` (percent), e.g. ``optimum("cifar10")`` = (6111, 94.3733...)."""
    return load_table(dataset).optimum(metric)
