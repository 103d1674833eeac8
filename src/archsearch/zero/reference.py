"""A plain-Python/numpy AutoML-Zero interpreter: the oracle the compiled one is tested against.

Same protocol (SPEC.md 4.3), fitness (4.4) and op semantics (4.2) as ``interpreter.py``, written for
reading rather than speed: memory is three numpy arrays (scalars, vectors, F x F matrices) and each op
is one small function. Element-wise ops use numpy (IEEE, bit-identical to a scalar loop); reductions sum
in index order (row-major for matrices), exactly as the compiled loop does, so the two agree to the bit.
Random ops draw from ``numpy.random.RandomState`` seeded per task like the compiled loop's generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.interpreter import DEFAULT_MAX_ABS_ERROR, SEED_STRIDE, check_combine, combine_fitness
from archsearch.zero.ops import RANDOM_OPS
from archsearch.zero.program import (
    FEATURES_VECTOR,
    LABEL_SCALAR,
    PREDICTION_SCALAR,
    Instruction,
    MemoryConfig,
    Program,
)
from archsearch.zero.tasks import Task


class Memory:
    """Scalars s, vectors v (n_v, F) and matrices m (n_m, F, F), all zero; plus the random generator."""

    def __init__(self, config: MemoryConfig, rng: np.random.RandomState) -> None:
        self.s = np.zeros(config.scalars)
        self.v = np.zeros((config.vectors, config.dim))
        self.m = np.zeros((config.matrices, config.dim, config.dim))
        self.dim = config.dim
        self.rng = rng


# IEEE versions of the math functions (Python's math raises where C returns inf or NaN).


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _periodic(fn: Callable[[float], float]) -> Callable[[float], float]:
    return lambda x: math.nan if math.isinf(x) else fn(x)


def _inverse_trig(fn: Callable[[float], float]) -> Callable[[float], float]:
    return lambda x: fn(x) if -1.0 <= x <= 1.0 else math.nan


def _minimum(x: float, y: float) -> float:
    return y if (y < x or y != y) else x


def _maximum(x: float, y: float) -> float:
    return y if (y > x or y != y) else x


def _sum(values: np.ndarray) -> float:
    total = 0.0
    for x in values.ravel().tolist():
        total += x
    return total


def _sum_squares(values: np.ndarray) -> float:
    total = 0.0
    for x in values.ravel().tolist():
        total += x * x
    return total


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    total = 0.0
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        total += x * y
    return total


def _std(values: np.ndarray) -> float:
    count = values.size
    mean = _sum(values) / count
    total = 0.0
    for x in values.ravel().tolist():
        d = x - mean
        total += d * d
    return math.sqrt(total / count)


def _where_min(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where((y < x) | (y != y), y, x)


def _where_max(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where((y > x) | (y != y), y, x)


_SCALAR_UNARY: dict[int, Callable[[float], float]] = {
    5: abs,
    7: _periodic(math.sin),
    8: _periodic(math.cos),
    9: _periodic(math.tan),
    10: _inverse_trig(math.asin),
    11: _inverse_trig(math.acos),
    12: math.atan,
    13: _exp,
    14: _log,
    15: lambda x: 1.0 if x >= 0.0 else 0.0,
}
_SCALAR_BINARY: dict[int, Callable[[float, float], float]] = {
    1: lambda x, y: x + y,
    2: lambda x, y: x - y,
    3: lambda x, y: x * y,
    44: _minimum,
    47: _maximum,
}
_ELEMENTWISE_UNARY: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    16: lambda x: (x > 0.0).astype(np.float64),
    20: lambda x: 1.0 / x,
    22: np.abs,
}
_ELEMENTWISE_BINARY: dict[int, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    23: np.add,
    24: np.subtract,
    25: np.multiply,
    26: np.divide,
    45: _where_min,
    48: _where_max,
}
# Matrix op -> the vector op with the same element-wise meaning.
_MATRIX_TWIN = {17: 16, 30: 20, 38: 22, 39: 23, 40: 24, 41: 25, 42: 26, 46: 45, 49: 48}


def execute(instruction: Instruction, mem: Memory) -> None:  # noqa: C901 - the op table, one case each
    """Run one instruction on ``mem`` (SPEC.md 4.2)."""
    op, a, b, c = instruction.op, instruction.in1, instruction.in2, instruction.out
    s, v, m, dim = mem.s, mem.v, mem.m, mem.dim
    gamma, second = instruction.data
    if op == 0:
        return
    if op in _SCALAR_BINARY:
        s[c] = _SCALAR_BINARY[op](float(s[a]), float(s[b]))
    elif op == 4:
        s[c] = np.float64(s[a]) / np.float64(s[b])
    elif op == 6:
        s[c] = 1.0 / np.float64(s[a])
    elif op in _SCALAR_UNARY:
        s[c] = _SCALAR_UNARY[op](float(s[a]))
    elif op in _ELEMENTWISE_UNARY:
        v[c] = _ELEMENTWISE_UNARY[op](v[a])
    elif op in _ELEMENTWISE_BINARY:
        v[c] = _ELEMENTWISE_BINARY[op](v[a], v[b])
    elif op in _MATRIX_TWIN:
        twin = _MATRIX_TWIN[op]
        if twin in _ELEMENTWISE_UNARY:
            m[c] = _ELEMENTWISE_UNARY[twin](m[a])
        else:
            m[c] = _ELEMENTWISE_BINARY[twin](m[a], m[b])
    elif op == 18:
        v[c] = s[a] * v[b]
    elif op == 19:
        v[c] = s[a]
    elif op == 21:
        s[c] = math.sqrt(_sum_squares(v[a]))
    elif op == 27:
        s[c] = _dot(v[a], v[b])
    elif op == 28:
        m[c] = np.outer(v[a], v[b])
    elif op == 29:
        m[c] = s[a] * m[b]
    elif op == 31:
        v[c] = [_dot(row, v[b]) for row in m[a]]
    elif op == 32:
        m[c] = np.repeat(v[a][:, None], dim, axis=1)
    elif op == 33:
        m[c] = np.repeat(v[a][None, :], dim, axis=0)
    elif op == 34:
        s[c] = math.sqrt(_sum_squares(m[a]))
    elif op == 35:
        v[c] = [math.sqrt(_sum_squares(column)) for column in m[a].T]
    elif op == 36:
        v[c] = [math.sqrt(_sum_squares(row)) for row in m[a]]
    elif op == 37:
        m[c] = m[a].T.copy()
    elif op == 43:
        columns = m[b].T.copy()
        m[c] = [[_dot(row, column) for column in columns] for row in m[a]]
    elif op == 50:
        s[c] = _sum(v[a]) / dim
    elif op == 51:
        s[c] = _sum(m[a]) / (dim * dim)
    elif op == 52:
        v[c] = [_sum(row) / dim for row in m[a]]
    elif op == 53:
        v[c] = [_std(row) for row in m[a]]
    elif op == 54:
        s[c] = _std(v[a])
    elif op == 55:
        s[c] = _std(m[a])
    elif op == 56:
        s[c] = gamma
    elif op == 57:
        v[c, a] = gamma
    elif op == 58:
        m[c, a, b] = gamma
    elif op in (59, 60, 61):
        target = (s, v, m)[op - 59]
        shape = target[c].shape
        draws = [gamma + (second - gamma) * mem.rng.random_sample() for _ in range(max(1, target[c].size))]
        target[c] = np.reshape(draws, shape) if shape else draws[0]
    elif op in (62, 63, 64):
        target = (s, v, m)[op - 62]
        shape = target[c].shape
        draws = [gamma + second * mem.rng.standard_normal() for _ in range(max(1, target[c].size))]
        target[c] = np.reshape(draws, shape) if shape else draws[0]
    else:
        raise ConfigError(f"op {op} is not in 0..64")


def run(instructions: Sequence[Instruction], mem: Memory) -> None:
    for instruction in instructions:
        execute(instruction, mem)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + _exp(-x))


def evaluate_task_reference(
    program: Program,
    task: Task,
    memory: MemoryConfig,
    *,
    seed: int,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    epochs: int = 1,
) -> float:
    """Fitness of ``program`` on one task, the protocol of SPEC.md 4.3 written out as in the spec."""
    return _evaluate_on(program, task, Memory(memory, np.random.RandomState(seed)), max_abs_error, epochs)


def memory_after_reference(
    program: Program, task: Task, memory: MemoryConfig, *, rng_seed: int = 0, epochs: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The memory after evaluating ``program`` on ``task``, like ``interpreter.memory_after``."""
    mem = Memory(memory, np.random.RandomState((rng_seed * SEED_STRIDE) % 2**32))
    with np.errstate(all="ignore"):
        _evaluate_on(program, task, mem, DEFAULT_MAX_ABS_ERROR, epochs)
    return mem.s, mem.v, mem.m


def _evaluate_on(program: Program, task: Task, mem: Memory, max_abs_error: float, epochs: int) -> float:
    classification = task.kind == "classification"
    run(program.setup, mem)
    for _ in range(epochs):
        for x, y in zip(task.x_train, task.y_train.tolist(), strict=True):
            mem.v[FEATURES_VECTOR] = x
            mem.s[LABEL_SCALAR] = 0.0  # the label is hidden from Predict
            run(program.predict, mem)
            if classification:
                mem.s[PREDICTION_SCALAR] = _sigmoid(float(mem.s[PREDICTION_SCALAR]))
            if not abs(y - float(mem.s[PREDICTION_SCALAR])) <= max_abs_error:
                return 0.0  # early stop on a runaway program (covers NaN)
            mem.v[FEATURES_VECTOR] = x
            mem.s[LABEL_SCALAR] = y
            run(program.learn, mem)
    losses = []
    for x, y in zip(task.x_valid, task.y_valid.tolist(), strict=True):
        mem.v[FEATURES_VECTOR] = x
        mem.s[LABEL_SCALAR] = 0.0
        run(program.predict, mem)
        prediction = float(mem.s[PREDICTION_SCALAR])
        if classification:
            prediction = _sigmoid(prediction)
            mem.s[PREDICTION_SCALAR] = prediction
            if math.isnan(prediction):
                return 0.0
            losses.append(1.0 if (prediction > 0.5) == (y > 0.5) else 0.0)
        else:
            losses.append((y - prediction) * (y - prediction))
    if not losses:
        return 0.0
    if classification:
        return _sum(np.array(losses)) / len(losses)
    rmse = math.sqrt(_sum(np.array(losses)) / len(losses))
    return 1.0 - 2.0 / math.pi * math.atan(rmse) if math.isfinite(rmse) else 0.0


def evaluate_each_reference(
    program: Program,
    tasks: Sequence[Task],
    memory: MemoryConfig,
    *,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    epochs: int = 1,
) -> np.ndarray:
    """Per-task fitness, like ``interpreter.evaluate_each`` (same seeds per task index)."""
    memory.validate(program)
    for task in tasks:
        if task.dim != memory.dim:
            raise ConfigError(f"memory dim F={memory.dim} but a task has {task.dim} features")
    uses_random = any(ins.op in RANDOM_OPS for ins in program.setup + program.predict + program.learn)
    values = []
    with np.errstate(all="ignore"):
        for index, task in enumerate(tasks):
            seed = (rng_seed * SEED_STRIDE + index) % 2**32 if uses_random else 0
            values.append(
                evaluate_task_reference(
                    program, task, memory, seed=seed, max_abs_error=max_abs_error, epochs=epochs
                )
            )
    return np.array(values)


def evaluate_reference(
    program: Program,
    tasks: Sequence[Task],
    memory: MemoryConfig,
    *,
    rng_seed: int = 0,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    combine: str = "median",
    epochs: int = 1,
) -> float:
    """The median or mean fitness over ``tasks``, like ``interpreter.evaluate``."""
    check_combine(combine)
    values = evaluate_each_reference(
        program, tasks, memory, rng_seed=rng_seed, max_abs_error=max_abs_error, epochs=epochs
    )
    return combine_fitness(values, combine)
