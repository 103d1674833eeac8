"""The config of an AutoML-Zero run: one pydantic model with the paper's (or the released code's) defaults
per task, and what follows from it (the program space, the search / select / final task sets).

Real et al. (ICML 2020), sections 4.1-4.6; SPEC.md 4.1, 4.5 and 4.6.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from archsearch.config import MAX_SEED, MAX_WORKERS, option_name
from archsearch.errors import ConfigError
from archsearch.zero.mutation import DEMO_MUTATIONS, MUTATION_TYPES, PAPER_MUTATIONS, ProgramSpace
from archsearch.zero.ops import op_set
from archsearch.zero.program import COMPONENTS, MemoryConfig

TASK_FAMILIES = ("linear", "affine", "nonlinear", "projected-binary")


class MemorySettings(BaseModel):
    """Memory sizes: n_s scalars, n_v vectors, n_m matrices, F features."""

    model_config = ConfigDict(extra="forbid")
    scalars: int = 4
    vectors: int = 3
    matrices: int = 1
    dim: int = 4


def _demo_ops() -> dict[str, str | list[int]]:
    return dict.fromkeys(COMPONENTS, "linear_demo")


def _sizes(setup: int, predict: int, learn: int) -> dict[str, int]:
    return {"setup": setup, "predict": predict, "learn": learn}


# Per-experiment defaults (SPEC.md 4.1 and 4.6). "linear": the authors' released linear-regression demo
# (4/3/1 memory, F = 4, fixed sizes 10/2/8, its 6 ops, P = 1000, T = 10, U = 0.9, random initial
# programs, mutations that keep sizes, mean over 10 tasks). "affine" adds a fifth scalar and scalar
# addition so that a bias can be learned. "nonlinear": the released teacher-net test (5/9/2, sizes
# 6-7/3-4/9-10, P = 1000, T = 10, U = 1.0) with the full op set. "projected-binary": the released CIFAR
# baseline (5/9/2, F = 16, start from 1 instruction each, sizes within 1-7/1-11/1-23, restricted op
# lists per component, P = 100, T = 10, U = 0.9) with the paper's mutations.
def _fixed_sizes(setup: int, predict: int, learn: int) -> dict[str, dict[str, int]]:
    sizes = _sizes(setup, predict, learn)
    return {"min_sizes": sizes, "max_sizes": dict(sizes), "init_sizes": dict(sizes)}


_DEMO: dict[str, Any] = {
    "memory": {"scalars": 4, "vectors": 3, "matrices": 1, "dim": 4},
    "ops": dict.fromkeys(COMPONENTS, "linear_demo"),
    **_fixed_sizes(10, 2, 8),
    "population_size": 1000,
    "tournament_size": 10,
    "mutate_prob": 0.9,
    "mutations": list(DEMO_MUTATIONS),
    "initial": "random",
    "combine": "mean",
    "budget": 20_000_000,  # the demo runs experiments until solved; ours stop here
    "experiment_individuals": 1_000_000,  # the demo's max_individuals per experiment
    "target_rmse": 1e-3,
    # The demo's T_select and final tasks: 100 tasks each with 1,000 training examples (search: 100).
    "select_tasks": 100,
    "final_tasks": 100,
    "heldout_n_train": 1000,
}

TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "linear": _DEMO,
    "affine": {
        **_DEMO,
        "memory": {"scalars": 5, "vectors": 3, "matrices": 1, "dim": 4},
        "ops": dict.fromkeys(COMPONENTS, [56, 27, 1, 2, 3, 18, 23]),
        **_fixed_sizes(10, 3, 10),
    },
    "nonlinear": {
        "memory": {"scalars": 5, "vectors": 9, "matrices": 2, "dim": 4},
        "ops": {name: "all_ops" for name in COMPONENTS},
        "min_sizes": _sizes(6, 3, 9),
        "max_sizes": _sizes(7, 4, 10),
        "init_sizes": _sizes(6, 3, 9),
        "population_size": 1000,
        "tournament_size": 10,
        "mutate_prob": 1.0,
        "mutations": list(MUTATION_TYPES),
        "initial": "random",
        "combine": "mean",
        "budget": 1_000_000,
        "target_rmse": 1e-2,
    },
    "projected-binary": {
        "memory": {"scalars": 5, "vectors": 9, "matrices": 2, "dim": 16},
        "ops": {"setup": "setup_init", "predict": "predict_forward", "learn": "learn_update"},
        "min_sizes": _sizes(1, 1, 1),
        "max_sizes": _sizes(7, 11, 23),
        "init_sizes": _sizes(1, 1, 1),
        "population_size": 100,
        "tournament_size": 10,
        "mutate_prob": 0.9,
        "mutations": list(PAPER_MUTATIONS),
        "initial": "random",
        "combine": "mean",
        "budget": 100_000,
        "target_rmse": None,
        "sufficient_fitness": None,
        "dataset": "fashion-mnist",
        "n_train": 1000,  # the paper's 8,000 / 2,000 per task cost minutes per thousand programs here
        "n_valid": 100,
    },
}


MAX_EXAMPLES = 100_000
"""The most examples per task: the paper's largest is 8,000; every task's examples are held in memory."""
MAX_POPULATION = 1_000_000
"""The largest population a run accepts: the paper's is 100 to 1,000; a million programs take hundreds of MB."""


class ZeroConfig(BaseModel):
    """One AutoML-Zero experiment, completely. Build it with ``make_config`` to get a task's defaults."""

    model_config = ConfigDict(extra="forbid")
    task: Literal["linear", "affine", "nonlinear", "projected-binary"] = "linear"
    strategy: Literal["evolution", "random"] = "evolution"
    engine: Literal["compiled", "python"] = Field(
        "compiled",
        description="compiled: the whole search loop in numba (zero/compiled.py); python: the readable"
        " engine (zero/evolution.py): the same search, child for child (one random stream, zero/stream.py)",
    )
    budget: int = Field(2_000_000, ge=1, description="individuals evaluated, all workers together")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    workers: int = Field(1, ge=1, le=MAX_WORKERS)
    population_size: int = Field(
        1000, ge=1, le=MAX_POPULATION, description="P (its memory is allocated when the run starts)"
    )
    tournament_size: int = Field(10, ge=1, description="T")
    mutate_prob: float = Field(0.9, ge=0.0, le=1.0, description="U")
    mutations: list[str] = Field(default_factory=lambda: list(DEMO_MUTATIONS))
    initial: Literal["random", "empty"] = "random"
    memory: MemorySettings = Field(default_factory=MemorySettings)
    ops: dict[str, str | list[int]] = Field(default_factory=_demo_ops)
    min_sizes: dict[str, int] = Field(default_factory=lambda: _sizes(10, 2, 8))
    max_sizes: dict[str, int] = Field(default_factory=lambda: _sizes(10, 2, 8))
    init_sizes: dict[str, int] = Field(default_factory=lambda: _sizes(10, 2, 8))
    dataset: str | None = None
    data_dir: str | None = None
    n_train: int = Field(100, ge=1, le=MAX_EXAMPLES)
    n_valid: int = Field(100, ge=1, le=MAX_EXAMPLES)
    search_tasks: int = Field(10, ge=1, description="D, tasks per fitness evaluation")
    select_tasks: int = Field(10, ge=1)
    final_tasks: int = Field(10, ge=1)
    heldout_n_train: int | None = Field(
        None, ge=1, le=MAX_EXAMPLES, description="training examples per select/final task (None: n_train)"
    )
    combine: Literal["mean", "median"] = "mean"
    max_abs_error: float = Field(100.0, gt=0)
    fec: bool = True
    fec_capacity: int = Field(100_000, ge=1)
    fec_max_hits: int = Field(100, ge=1)
    fec_train: int = Field(10, ge=1)
    fec_valid: int = Field(10, ge=1)
    experiment_individuals: int | None = Field(
        None,
        ge=1,
        description="restart after this many individuals with new search tasks and a new population"
        " (the released code's max_individuals per experiment; None: one experiment)",
    )
    round_size: int = Field(2_000, ge=1, description="individuals per worker between migrations")
    migrants: int = Field(5, ge=0)
    elite_size: int = Field(10, ge=1)
    checkpoint_every_s: float = Field(20.0, ge=0, allow_inf_nan=False)
    target_rmse: float | None = Field(
        1e-3, gt=0, description="regression: held-out mean RMSE that counts as solved"
    )
    sufficient_fitness: float | None = Field(
        0.9999,
        gt=0,
        le=1,
        description="stop once the best program's select fitness exceeds it (released code's flag)",
    )

    @model_validator(mode="after")
    def _check(self) -> ZeroConfig:
        for name in self.mutations:
            if name not in MUTATION_TYPES:
                raise ValueError(f"unknown mutation type {name!r}; choose from {', '.join(MUTATION_TYPES)}")
        for table in ("ops", "min_sizes", "max_sizes", "init_sizes"):
            unknown = set(getattr(self, table)) - set(COMPONENTS)
            if unknown:
                raise ValueError(f"{table} names unknown component(s) {', '.join(sorted(unknown))}")
        if self.task == "projected-binary" and self.target_rmse is not None:
            raise ValueError("target_rmse applies to regression tasks only")
        if self.strategy == "evolution" and self.tournament_size > self.population_size:
            raise ValueError(
                f"tournament_size (--tournament) {self.tournament_size} is larger than population_size"
                f" (--population) {self.population_size}; a tournament draws from the population"
            )
        return self  # size bounds and op sets are checked by ProgramSpace (program_space) before a run starts

    @property
    def classification(self) -> bool:
        return self.task == "projected-binary"

    def memory_config(self) -> MemoryConfig:
        """The memory sizes as the interpreter takes them."""
        return MemoryConfig(**self.memory.model_dump())

    def stop_fitness(self) -> float | None:
        """Select fitness above which the run stops early: ``sufficient_fitness`` (the released demo's
        ``--sufficient_fitness=0.9999``, RMSE 1.6e-4 on its T_select tasks of 1,000 training examples).
        As in the released code it is the fitness on the select tasks, never on the search tasks: a
        learning algorithm tuned on 100 examples per task is judged after the training it would get."""
        return self.sufficient_fitness


def make_config(task: str = "linear", **overrides: Any) -> ZeroConfig:
    """The config of ``task`` with the paper's (or the released code's) defaults, then ``overrides``.

    Overrides that are None are ignored, so CLI flags left unset keep the task's defaults.
    """
    if task not in TASK_DEFAULTS:
        raise ConfigError(f"unknown task {task!r}; choose from {', '.join(TASK_DEFAULTS)}")
    data: dict[str, Any] = {"task": task, **json.loads(json.dumps(TASK_DEFAULTS[task]))}
    data.update({key: value for key, value in overrides.items() if value is not None})
    return parse_zero_config(data)


# The flag of `archsearch zero` that sets each option, so an error names what the user typed.
ZERO_FLAGS = {
    "budget": "--budget",
    "population_size": "--population",
    "tournament_size": "--tournament",
    "mutate_prob": "--mutate-prob",
    "workers": "--workers",
    "seed": "--seed",
    "n_train": "--n-train",
    "n_valid": "--n-valid",
    "experiment_individuals": "--restart-every",
    "checkpoint_every_s": "--checkpoint-every",
}


def parse_zero_config(data: dict[str, Any]) -> ZeroConfig:
    try:
        return ZeroConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = option_name(error["loc"], ZERO_FLAGS)
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"bad zero config value: {where + ': ' if where else ''}{message}") from None


def program_space(config: ZeroConfig) -> ProgramSpace:
    memory = config.memory_config()
    ops: dict[str, tuple[int, ...]] = {}
    for name in COMPONENTS:
        chosen = config.ops.get(name, "full")
        ops[name] = op_set(chosen) if isinstance(chosen, str) else tuple(int(code) for code in chosen)
    return ProgramSpace(
        memory=memory,
        ops=ops,
        min_sizes={name: config.min_sizes.get(name, 0) for name in COMPONENTS},
        max_sizes={name: config.max_sizes.get(name, 0) for name in COMPONENTS},
        init_sizes={name: config.init_sizes.get(name, config.min_sizes.get(name, 0)) for name in COMPONENTS},
    )


def task_split(config: ZeroConfig, experiment: int = 0) -> Any:
    """The search / select / final task sets of the run, reproducible from its seed. Experiment k > 0
    (a restart) has its own search tasks; select and final tasks are the same for every experiment."""
    from archsearch.zero.tasks import split_tasks

    options: dict[str, Any] = {}
    if config.classification:
        options = {"dataset": config.dataset or "fashion-mnist", "data_dir": config.data_dir}
    elif config.dataset is not None or config.data_dir is not None:
        raise ConfigError(f"--dataset and --data-dir apply to projected-binary tasks, not {config.task}")
    split = split_tasks(
        config.task,
        config.memory.dim,
        config.n_train,
        config.n_valid,
        config.seed,
        search_count=config.search_tasks,
        select_count=config.select_tasks,
        final_count=config.final_tasks,
        experiment=experiment,
        **options,
    )
    if config.heldout_n_train is None or config.heldout_n_train == config.n_train:
        return split
    if config.classification:
        raise ConfigError("heldout_n_train applies to regression tasks only")
    heldout = split_tasks(
        config.task,
        config.memory.dim,
        config.heldout_n_train,
        config.n_valid,
        config.seed,
        search_count=1,
        select_count=config.select_tasks,
        final_count=config.final_tasks,
    )
    return type(split)(split.search, heldout.select, heldout.final)
