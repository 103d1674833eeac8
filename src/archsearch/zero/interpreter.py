"""The fast AutoML-Zero evaluator: the compiled kernels (``kernels.py``) run on one program.

Real et al. (ICML 2020), sections 3-4; protocol and fitness of SPEC.md 4.3 and 4.4. A program is encoded
as an int array (op, in1, in2, out) and a float array (its constants); one compiled kernel (cached on
disk, so compiled once per machine) dispatches on the op code, so no program is ever compiled. The loop
over training examples stays sequential because Learn sees them one by one, and validation examples run
one by one too because Predict may keep state in memory between examples.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.kernels import (
    COMBINE_MODES,
    DEFAULT_MAX_ABS_ERROR,
    MIN_FITNESS,
    OP_TABLES,
    SEED_STRIDE,
    combine_kernel,
    evaluate_kernel,
    fec_kernel,
    kernel_params,
)
from archsearch.zero.program import MemoryConfig, Program
from archsearch.zero.tasks import Task

__all__ = [
    "COMBINE_MODES",
    "DEFAULT_MAX_ABS_ERROR",
    "MIN_FITNESS",
    "SEED_STRIDE",
    "TaskBatch",
    "check_combine",
    "combine_fitness",
    "encode",
    "evaluate",
    "evaluate_each",
    "fec_signature",
    "memory_after",
    "prediction_errors",
    "task_batch",
]


def encode(program: Program) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays the compiled loop runs: codes (n, 4) int64 rows (op, in1, in2, out), constants (n, 2)
    float64, and the four offsets [setup start, predict start, learn start, end] (cached per program)."""
    return program.arrays


@dataclass(frozen=True, eq=False)
class TaskBatch:
    """Tasks packed for the kernel: ``data[t, e]`` = (features..., label) of example e of task t, training
    examples first (``n_train`` of them) then validation examples. All tasks share their shapes."""

    data: np.ndarray  # (T, n_train + n_valid, F + 1) float64
    n_train: int
    n_valid: int
    classification: np.ndarray  # (T,) int64, 1 for classification tasks

    @classmethod
    def of(cls, tasks: Sequence[Task]) -> TaskBatch:
        if not tasks:
            raise ConfigError("no tasks to evaluate on")
        shapes = {(t.x_train.shape, t.x_valid.shape) for t in tasks}
        if len(shapes) != 1:
            raise ConfigError(f"tasks of one evaluation must share their shapes, got {sorted(shapes)}")
        data = np.stack(
            [
                np.concatenate(
                    [
                        np.column_stack([t.x_train, t.y_train]),
                        np.column_stack([t.x_valid, t.y_valid]),
                    ]
                )
                for t in tasks
            ]
        )
        return cls(
            np.ascontiguousarray(data, dtype=np.float64),
            len(tasks[0].y_train),
            len(tasks[0].y_valid),
            np.array([t.kind == "classification" for t in tasks], dtype=np.int64),
        )

    @property
    def dim(self) -> int:
        return int(self.data.shape[2]) - 1

    def __len__(self) -> int:
        return int(self.data.shape[0])


_BATCHES: OrderedDict[tuple[int, ...], tuple[tuple[Task, ...], TaskBatch]] = OrderedDict()
_BATCH_CACHE_SIZE = 16


def task_batch(tasks: Sequence[Task] | TaskBatch) -> TaskBatch:
    """``tasks`` packed; the last few packings are cached (by identity: tasks are frozen)."""
    if isinstance(tasks, TaskBatch):
        return tasks
    key = tuple(map(id, tasks))
    hit = _BATCHES.get(key)
    if hit is not None:
        _BATCHES.move_to_end(key)
        return hit[1]
    batch = TaskBatch.of(tasks)
    _BATCHES[key] = (tuple(tasks), batch)  # holding the tasks keeps their ids from being reused
    if len(_BATCHES) > _BATCH_CACHE_SIZE:
        _BATCHES.popitem(last=False)
    return batch


# ---------------------------------------------------------------------------------------------------
# Python entry points.
# ---------------------------------------------------------------------------------------------------

_NO_ERRORS = np.zeros((0, 0))
_NO_MEMORY = np.zeros(0)


def _run_kernel(
    program: Program,
    batch: TaskBatch,
    memory: MemoryConfig,
    rng_seed: int,
    max_abs_error: float,
    epochs: int,
    n_train: int,
    n_valid: int,
    record: bool,
    final: np.ndarray = _NO_MEMORY,
) -> tuple[np.ndarray, np.ndarray]:
    if memory.dim != batch.dim:
        raise ConfigError(f"memory dim F={memory.dim} but the tasks have {batch.dim} features")
    codes, constants, offsets = encode(program)
    count = len(batch)
    fitness = np.empty(count)
    errors = np.full((count, n_train + n_valid), np.nan) if record else _NO_ERRORS
    # Dead code is skipped unless the final memory is wanted.
    params = kernel_params(
        memory, epochs, batch.n_train, n_train, n_valid, rng_seed, record, final is _NO_MEMORY
    )
    ok = evaluate_kernel(
        codes,
        constants,
        offsets,
        OP_TABLES,
        batch.data,
        batch.classification,
        params,
        max_abs_error,
        fitness,
        errors,
        final,
    )
    if not ok:
        memory.validate(program)  # names the instruction that does not fit
        raise ConfigError("program does not fit the memory")  # pragma: no cover - validate raised
    return fitness, errors


def evaluate_each(
    program: Program,
    tasks: Sequence[Task] | TaskBatch,
    memory: MemoryConfig,
    *,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    epochs: int = 1,
) -> np.ndarray:
    """The fitness of ``program`` on each task (SPEC.md 4.3/4.4): in [0, 1], 0 for NaN/inf or early stop.

    Random ops draw from a generator seeded with (rng_seed * SEED_STRIDE + task index) mod 2**32.
    """
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    batch = task_batch(tasks)
    fitness, _ = _run_kernel(
        program, batch, memory, rng_seed, max_abs_error, epochs, batch.n_train, batch.n_valid, False
    )
    return fitness


def check_combine(combine: str) -> None:
    """ConfigError unless ``combine`` is a known task combination."""
    if combine not in COMBINE_MODES:
        raise ConfigError(f"unknown task combination {combine!r}; known: {', '.join(COMBINE_MODES)}")


def combine_fitness(values: np.ndarray, combine: str = "median") -> float:
    """Median (paper) or mean (code) of per-task fitness values (SPEC.md 4.4, task_combination)."""
    check_combine(combine)
    return float(combine_kernel(np.asarray(values, dtype=np.float64), combine == "median"))


def evaluate(
    program: Program,
    tasks: Sequence[Task] | TaskBatch,
    memory: MemoryConfig,
    *,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    combine: str = "median",
    epochs: int = 1,
) -> float:
    """Fitness of ``program`` over ``tasks``: the median or mean of the per-task fitness."""
    check_combine(combine)
    values = evaluate_each(
        program, tasks, memory, rng_seed=rng_seed, max_abs_error=max_abs_error, epochs=epochs
    )
    return combine_fitness(values, combine)


def memory_after(
    program: Program, task: Task, memory: MemoryConfig, *, rng_seed: int = 0, epochs: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The memory (scalars (n_s,), vectors (n_v, F), matrices (n_m, F, F)) after evaluating ``program``
    on ``task`` (task index 0 for the random seed); with no examples, after Setup alone."""
    batch = task_batch([task])
    dim = memory.dim
    flat = np.zeros(memory.scalars + memory.vectors * dim + memory.matrices * dim * dim)
    _run_kernel(
        program,
        batch,
        memory,
        rng_seed,
        DEFAULT_MAX_ABS_ERROR,
        epochs,
        batch.n_train,
        batch.n_valid,
        False,
        flat,
    )
    vectors_end = memory.scalars + memory.vectors * dim
    return (
        flat[: memory.scalars].copy(),
        flat[memory.scalars : vectors_end].reshape(memory.vectors, dim),
        flat[vectors_end:].reshape(memory.matrices, dim, dim),
    )


def prediction_errors(
    program: Program,
    tasks: Sequence[Task] | TaskBatch,
    memory: MemoryConfig,
    *,
    n_train: int,
    n_valid: int,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
) -> np.ndarray:
    """Errors y - s1 of the first ``n_train`` training steps (before each Learn) then of the first
    ``n_valid`` validation examples of each task, shape (T, n_train + n_valid); NaN after an early stop."""
    batch = task_batch(tasks)
    n_train = max(0, min(n_train, batch.n_train))
    n_valid = max(0, min(n_valid, batch.n_valid))
    _, errors = _run_kernel(program, batch, memory, rng_seed, max_abs_error, 1, n_train, n_valid, True)
    return errors


def fec_signature(
    program: Program,
    tasks: Sequence[Task] | TaskBatch,
    memory: MemoryConfig,
    *,
    n_train: int = 10,
    n_valid: int = 10,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
) -> bytes:
    """Functional-equivalence hash (SPEC.md 4.7): a 128-bit digest of the rounded errors of a short run
    (the first ``n_train`` training and ``n_valid`` validation examples) on each task, with the task
    index and the example counts. Programs that differ only by dead or redundant code get the same
    signature.

    Run, rounding and hashing all happen in one compiled call (``fec_kernel``) with no per-call Python
    array work, so the signature costs little more than its 10 + 10 example steps per task."""
    batch = task_batch(tasks)
    if memory.dim != batch.dim:
        raise ConfigError(f"memory dim F={memory.dim} but the tasks have {batch.dim} features")
    n_train = max(0, min(n_train, batch.n_train))
    n_valid = max(0, min(n_valid, batch.n_valid))
    codes, constants, offsets = encode(program)
    params = kernel_params(memory, 1, batch.n_train, n_train, n_valid, rng_seed, True, True)
    digest = fec_kernel(
        codes, constants, offsets, OP_TABLES, batch.data, batch.classification, params, max_abs_error
    )
    if digest[0] == 0:  # the kernel's "does not fit" answer (a real digest has its low bit set)
        memory.validate(program)
        raise ConfigError("program does not fit the memory")  # pragma: no cover - validate raised
    return digest.tobytes()
