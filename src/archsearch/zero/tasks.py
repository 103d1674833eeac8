"""AutoML-Zero tasks: small regression and binary classification problems, each reproducible from a seed.

Real et al. (ICML 2020), section 4 and SPEC.md 4.5. The distributions (the paper leaves them open):

- ``linear``: y = u.x with u ~ N(0, I_F) per task and x ~ N(0, I_F) per example.
- ``affine``: y = u.x + a with u ~ N(0, I_F), a ~ N(0, 1), x ~ N(0, I_F).
- ``nonlinear``: a random teacher net y = u.ReLU(M x) with M ~ N(0, 1/F) entries (so M x has unit
  variance), u ~ N(0, I_F), x ~ N(0, I_F).
- ``projected-binary``: one task per (class pair, random projection): the images of two classes of an
  image data set (Fashion-MNIST, the built-in digits or CIFAR-10), flattened, projected to F features by
  a Gaussian matrix N(0, 1/D) (D pixels), then standardised per feature with the task's training
  statistics; label 0 for the pair's first class, 1 for the second.

Train and validation examples are drawn independently from the same distribution; a task's seed fixes
both its parameters and its examples.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, DataError

FAMILIES = ("linear", "affine", "nonlinear", "projected-binary")
IMAGE_DATASETS = ("fashion-mnist", "digits", "cifar10")
ALL_PAIRS = tuple(itertools.combinations(range(10), 2))
# The released code's 9 class pairs held out of search (T_select); the other 36 form T_search.
HELD_OUT_PAIRS = ((4, 6), (3, 5), (8, 9), (3, 8), (0, 9), (2, 9), (1, 8), (3, 6), (0, 5))
SEARCH_PAIRS = tuple(pair for pair in ALL_PAIRS if pair not in HELD_OUT_PAIRS)
VALID_SOURCES = ("train", "test")
ROLES = ("search", "select", "final")


@dataclass(frozen=True, eq=False)
class Task:
    """One task: training and validation examples of a regression or binary classification problem."""

    kind: str  # "regression" | "classification"
    x_train: np.ndarray  # (n_train, F) float64
    y_train: np.ndarray  # (n_train,)
    x_valid: np.ndarray
    y_valid: np.ndarray
    seed: int
    family: str = ""
    info: str = ""  # e.g. the class pair of a projected-binary task

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])


def task_seed(seed: int, index: int, role: int = 0) -> int:
    """The seed of task ``index`` of a set made with ``seed`` (``role`` separates search/select/final)."""
    return int(np.random.SeedSequence([int(seed), int(role), int(index)]).generate_state(1)[0])


def _check_sizes(count: int, dim: int, n_train: int, n_valid: int) -> None:
    for name, value, low in (
        ("count", count, 1),
        ("dim", dim, 1),
        ("n_train", n_train, 1),
        ("n_valid", n_valid, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"task {name} must be an integer >= {low}, got {value!r}")


def make_tasks(
    family: str, count: int, dim: int, n_train: int, n_valid: int, seed: int, **kw: Any
) -> list[Task]:
    """``count`` tasks of ``family`` (see the module docstring), reproducible from ``seed``.

    projected-binary takes ``dataset`` ("fashion-mnist", "digits", "cifar10"), ``data_dir``, ``pairs``
    (class pairs cycled over the tasks; default all 45) and ``valid_from`` ("train" images or "test"
    images for the validation examples). Raises ConfigError for an unknown family or missing files.
    """
    return _make(family, count, dim, n_train, n_valid, seed, 0, **kw)


def _make(
    family: str, count: int, dim: int, n_train: int, n_valid: int, seed: int, role: int, **kw: Any
) -> list[Task]:
    _check_sizes(count, dim, n_train, n_valid)
    if family not in FAMILIES:
        raise ConfigError(f"unknown task family {family!r}; known: {', '.join(FAMILIES)}")
    seeds = [task_seed(seed, i, role) for i in range(count)]
    if family == "projected-binary":
        return _projected_binary(seeds, dim, n_train, n_valid, **kw)
    if kw:
        raise ConfigError(f"task family {family!r} takes no options, got {', '.join(sorted(kw))}")
    return [_synthetic(family, dim, n_train, n_valid, s) for s in seeds]


def _synthetic(family: str, dim: int, n_train: int, n_valid: int, seed: int) -> Task:
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(dim)
    if family == "nonlinear":
        hidden = rng.standard_normal((dim, dim)) / np.sqrt(dim)

        def label(x: np.ndarray) -> np.ndarray:
            return np.maximum(x @ hidden.T, 0.0) @ u

    else:
        offset = rng.standard_normal() if family == "affine" else 0.0

        def label(x: np.ndarray) -> np.ndarray:
            return x @ u + offset

    x_train = rng.standard_normal((n_train, dim))
    x_valid = rng.standard_normal((n_valid, dim))
    return Task("regression", x_train, label(x_train), x_valid, label(x_valid), seed, family)


# ---------------------------------------------------------------------------------------------------
# Projected binary image classification.
# ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _flat_images(dataset: str, data_dir: str | None) -> tuple[np.ndarray, ...]:
    from archsearch.data.images import load_images

    try:
        data = load_images(dataset, data_dir)
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    flat = [t.reshape(len(t), -1).numpy() if t.ndim > 1 else t.numpy() for t in (data.train_x, data.train_y)]
    test = [t.reshape(len(t), -1).numpy() if t.ndim > 1 else t.numpy() for t in (data.test_x, data.test_y)]
    return flat[0], flat[1], test[0], test[1]


def _check_pairs(pairs: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    checked = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(c, int | np.integer) and 0 <= c < 10 for c in pair):
            raise ConfigError(f"class pair {pair!r} must be two class indices in 0..9")
        if pair[0] == pair[1]:
            raise ConfigError(f"class pair {pair!r} names one class twice")
        checked.append((int(pair[0]), int(pair[1])))
    if not checked:
        raise ConfigError("projected-binary needs at least one class pair")
    return tuple(checked)


def _projected_binary(
    seeds: list[int],
    dim: int,
    n_train: int,
    n_valid: int,
    *,
    dataset: str = "fashion-mnist",
    data_dir: str | Path | None = None,
    pairs: Sequence[Sequence[int]] = ALL_PAIRS,
    valid_from: str = "train",
) -> list[Task]:
    if dataset not in IMAGE_DATASETS:
        raise ConfigError(f"unknown image data set {dataset!r}; known: {', '.join(IMAGE_DATASETS)}")
    if valid_from not in VALID_SOURCES:
        raise ConfigError(f"valid_from must be one of {', '.join(VALID_SOURCES)}, got {valid_from!r}")
    checked = _check_pairs(pairs)
    train_x, train_y, test_x, test_y = _flat_images(dataset, None if data_dir is None else str(data_dir))
    tasks = []
    for index, seed in enumerate(seeds):
        pair = checked[index % len(checked)]
        rng = np.random.default_rng(seed)
        pool = np.flatnonzero((train_y == pair[0]) | (train_y == pair[1]))
        if valid_from == "train":
            needed = n_train + n_valid
            if len(pool) < needed:
                raise ConfigError(
                    f"{dataset} classes {pair} have {len(pool)} training images, fewer than "
                    f"n_train + n_valid = {needed}"
                )
            chosen = rng.choice(pool, size=needed, replace=False)
            x, y = train_x[chosen], train_y[chosen]
            x_tr, y_tr, x_va, y_va = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
        else:
            test_pool = np.flatnonzero((test_y == pair[0]) | (test_y == pair[1]))
            for name, have, want in (("training", len(pool), n_train), ("test", len(test_pool), n_valid)):
                if have < want:
                    raise ConfigError(
                        f"{dataset} classes {pair} have {have} {name} images, fewer than {want}"
                    )
            chosen = rng.choice(pool, size=n_train, replace=False)
            chosen_valid = rng.choice(test_pool, size=n_valid, replace=False)
            x_tr, y_tr = train_x[chosen], train_y[chosen]
            x_va, y_va = test_x[chosen_valid], test_y[chosen_valid]
        pixels = x_tr.shape[1]
        projection = rng.standard_normal((pixels, dim)) / np.sqrt(pixels)
        p_tr = x_tr.astype(np.float64) @ projection
        p_va = x_va.astype(np.float64) @ projection
        mean, std = p_tr.mean(axis=0), p_tr.std(axis=0)
        std[std == 0.0] = 1.0
        tasks.append(
            Task(
                "classification",
                (p_tr - mean) / std,
                (y_tr == pair[1]).astype(np.float64),
                (p_va - mean) / std,
                (y_va == pair[1]).astype(np.float64),
                seed,
                "projected-binary",
                f"{dataset} classes {pair[0]} vs {pair[1]}",
            )
        )
    return tasks


# ---------------------------------------------------------------------------------------------------
# Search / select / final task sets.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TaskSplit:
    """Task sets of one experiment (SPEC.md 4.5): evolution sees ``search`` only, ``select`` picks the best
    program of an experiment, ``final`` gives the reported numbers and is used for nothing else."""

    search: list[Task]
    select: list[Task]
    final: list[Task]


def split_tasks(
    family: str,
    dim: int,
    n_train: int,
    n_valid: int,
    seed: int,
    *,
    search_count: int = 10,
    select_count: int = 10,
    final_count: int = 10,
    experiment: int = 0,
    **kw: Any,
) -> TaskSplit:
    """Three disjoint task sets. Synthetic families draw each set from its own seed stream.

    ``experiment`` k > 0 draws new search tasks (their own seed stream) and keeps the select and final
    tasks: a restarted search sees new T_search data, as the released code's ``--randomize_task_seeds``.

    projected-binary (paper's protocol, SPEC.md 4.5): search tasks use the 36 search class pairs, select
    tasks the 9 held-out pairs, both validated on training images; final tasks use the held-out pairs with
    fresh projections and validate on the data set's test images, never seen by search or selection.
    """
    if family == "projected-binary":
        if "pairs" in kw or "valid_from" in kw:
            raise ConfigError("split_tasks chooses pairs and validation images itself; pass neither")
        roles = (
            (search_count, {"pairs": SEARCH_PAIRS, "valid_from": "train"}),
            (select_count, {"pairs": HELD_OUT_PAIRS, "valid_from": "train"}),
            (final_count, {"pairs": HELD_OUT_PAIRS, "valid_from": "test"}),
        )
        sets = [
            _make(family, n, dim, n_train, n_valid, seed, _role(r, experiment), **kw, **o)
            for r, (n, o) in enumerate(roles)
        ]
    else:
        counts = (search_count, select_count, final_count)
        sets = [
            _make(family, n, dim, n_train, n_valid, seed, _role(r, experiment), **kw)
            for r, n in enumerate(counts)
        ]
    return TaskSplit(*sets)


def _role(role: int, experiment: int) -> int:
    """The seed stream of a task set: search 0 (experiment 0) or 2 + k (experiment k), select 1, final 2."""
    if experiment < 0:
        raise ConfigError(f"experiment must be >= 0, got {experiment}")
    return 2 + experiment if role == 0 and experiment > 0 else role
