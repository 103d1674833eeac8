"""The readable AutoML-Zero evaluator: a program run as its exported module (``export.py``).

The oracle the compiled interpreter is tested against: the same protocol (SPEC.md 4.3), fitness (4.4)
and op semantics (4.2), written once for reading in ``readable.py`` and run here exactly as a user runs
an exported program. Random ops draw from ``numpy.random.RandomState`` seeded per task like the compiled
loop's generator, so the two agree to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.export import export_source
from archsearch.zero.interpreter import check_combine, combine_fitness
from archsearch.zero.kernels import DEFAULT_MAX_ABS_ERROR, SEED_STRIDE
from archsearch.zero.ops import RANDOM_OPS
from archsearch.zero.program import MemoryConfig, Program
from archsearch.zero.tasks import Task


def exported_module(program: Program, memory: MemoryConfig) -> dict[str, Any]:
    """The namespace of ``program``'s exported module (its ``Algorithm``, ``fitness``, ...)."""
    namespace: dict[str, Any] = {"__name__": "archsearch_exported_program"}
    exec(compile(export_source(program, memory, "reference"), "<exported program>", "exec"), namespace)  # noqa: S102
    return namespace


def _fitness(module: dict[str, Any], task: Task, seed: int, max_abs_error: float, epochs: int) -> float:
    classification = task.kind == "classification"
    return float(
        module["fitness"](
            task.x_train,
            task.y_train,
            task.x_valid,
            task.y_valid,
            classification,
            seed,
            max_abs_error,
            epochs,
        )
    )


def evaluate_task_reference(
    program: Program,
    task: Task,
    memory: MemoryConfig,
    *,
    seed: int,
    max_abs_error: float = DEFAULT_MAX_ABS_ERROR,
    epochs: int = 1,
) -> float:
    """Fitness of ``program`` on one task, its random ops seeded with ``seed``."""
    return _fitness(exported_module(program, memory), task, seed, max_abs_error, epochs)


def memory_after_reference(
    program: Program, task: Task, memory: MemoryConfig, *, rng_seed: int = 0, epochs: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The memory after evaluating ``program`` on ``task``, like ``interpreter.memory_after``."""
    module = exported_module(program, memory)
    algorithm = module["Algorithm"]((rng_seed * SEED_STRIDE) % 2**32)
    module["evaluate_protocol"](
        algorithm,
        task.x_train,
        task.y_train,
        task.x_valid,
        task.y_valid,
        task.kind == "classification",
        DEFAULT_MAX_ABS_ERROR,
        epochs,
    )
    return algorithm.s, algorithm.v, algorithm.m


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
    module = exported_module(program, memory)
    uses_random = any(ins.op in RANDOM_OPS for ins in program.setup + program.predict + program.learn)
    return np.array(
        [
            _fitness(
                module,
                task,
                (rng_seed * SEED_STRIDE + index) % 2**32 if uses_random else 0,
                max_abs_error,
                epochs,
            )
            for index, task in enumerate(tasks)
        ]
    )


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
