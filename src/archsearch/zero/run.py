"""An AutoML-Zero experiment: its config, its SQLite record, resume after kill -9, selection and final test.

The search runs in rounds: each worker (island) evaluates ``round_size`` individuals, islands exchange
migrants, and one transaction records a progress snapshot, the best program if it improved and, every
``checkpoint_every_s`` seconds, the complete state of every island (population, generator, FEC cache).
A resumed experiment restarts from the last checkpoint and drops the snapshots written after it, so it
repeats exactly what the interrupted run would have done. At the end the elite of the search (the fittest
distinct programs) is evaluated on the select tasks; the winner is evaluated once on the final tasks,
never used for anything else (Real et al. 2020, section 4; SPEC.md 4.5).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from archsearch.config import MAX_SEED, MAX_WORKERS, option_name
from archsearch.errors import ConfigError, StoreError
from archsearch.store.codec import LegacyStateError, StateFormatError, decode_state, encode_state
from archsearch.store.runlock import RunLock, hold
from archsearch.zero.evolution import (
    Individual,
    Islands,
    ProgramFitness,
    RandomSearch,
    RegularizedEvolution,
    Searcher,
)
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.mutation import DEMO_MUTATIONS, MUTATION_TYPES, PAPER_MUTATIONS, Mutator, ProgramSpace
from archsearch.zero.ops import op_set
from archsearch.zero.program import COMPONENTS, MemoryConfig, Program

if TYPE_CHECKING:  # the store imports torch; island worker processes never need it
    from archsearch.store.sqlite import Store

log = logging.getLogger(__name__)

TASK_FAMILIES = ("linear", "affine", "nonlinear", "projected-binary")


def rmse_from_fitness(fitness: float | np.ndarray) -> Any:
    """Invert the regression fitness 1 - (2/pi) arctan(RMSE) (SPEC.md 4.4); fitness 0 maps to inf."""
    return np.tan((1.0 - np.asarray(fitness, dtype=np.float64)) * np.pi / 2.0)


def fitness_from_rmse(rmse: float) -> float:
    return 1.0 - 2.0 / math.pi * math.atan(rmse)


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
    memory = MemoryConfig(**config.memory.model_dump())
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


#: The select check (``sufficient_fitness``) runs on a new best program only from this search fitness on
#: (search RMSE 0.016): below it no program is near solving, and the check would only cost time.
SELECT_CHECK_FROM = 0.99


def select_fitness(config: ZeroConfig, program: Program, tasks: Any = None) -> float:
    """``program``'s fitness on the select tasks (``tasks``: the split's select set, built if None)."""
    from archsearch.zero.interpreter import combine_fitness, evaluate_each

    values = evaluate_each(
        program,
        task_split(config).select if tasks is None else tasks,
        MemoryConfig(**config.memory.model_dump()),
        rng_seed=config.seed,
        max_abs_error=config.max_abs_error,
    )
    return combine_fitness(values, config.combine)


def sufficient(config: ZeroConfig, program: Program, search_fitness: float, tasks: Any = None) -> bool:
    """Whether ``program`` (search fitness ``search_fitness``) ends the run: its select fitness exceeds
    ``sufficient_fitness`` (checked only from SELECT_CHECK_FROM on)."""
    stop = config.stop_fitness()
    if stop is None or search_fitness < min(stop, SELECT_CHECK_FROM):
        return False
    return select_fitness(config, program, tasks) > stop


def search_fitness(config: ZeroConfig, experiment: int = 0) -> ProgramFitness:
    from archsearch.zero.interpreter import task_batch

    split = task_split(config, experiment)
    cache = FunctionalEquivalenceCache(config.fec_capacity, config.fec_max_hits) if config.fec else None
    return ProgramFitness(
        task_batch(split.search),
        MemoryConfig(**config.memory.model_dump()),
        combine=config.combine,
        max_abs_error=config.max_abs_error,
        rng_seed=config.seed,
        cache=cache,
        fec_train=config.fec_train,
        fec_valid=config.fec_valid,
    )


def build_searcher(config_data: dict[str, Any], index: int, experiment: int = 0) -> Searcher:
    """The searcher of island ``index`` in experiment ``experiment`` (module level so that spawned workers
    can build their own): its own generator, the experiment's search tasks, an empty FEC cache."""
    config = parse_zero_config(config_data)
    space = program_space(config)
    entropy = [config.seed, index] if experiment == 0 else [config.seed, index, experiment]
    seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    if config.engine == "compiled":
        from archsearch.zero.compiled import CompiledSearch
        from archsearch.zero.interpreter import task_batch

        return CompiledSearch(
            space,
            task_batch(task_split(config, experiment).search),
            space.memory,
            strategy=config.strategy,
            population_size=config.population_size,
            tournament_size=config.tournament_size,
            mutate_prob=config.mutate_prob,
            mutations=tuple(config.mutations),
            initial=config.initial,
            seed=seed,
            elite_size=config.elite_size,
            combine=config.combine,
            max_abs_error=config.max_abs_error,
            rng_seed=config.seed,
            fec=config.fec,
            fec_capacity=config.fec_capacity,
            fec_max_hits=config.fec_max_hits,
            fec_train=config.fec_train,
            fec_valid=config.fec_valid,
        )
    fitness = search_fitness(config, experiment)
    if config.strategy == "random":
        return RandomSearch(space, fitness, seed, config.elite_size)
    return RegularizedEvolution(
        space,
        fitness,
        Mutator(space, config.mutate_prob, tuple(config.mutations)),
        population_size=config.population_size,
        tournament_size=config.tournament_size,
        initial=config.initial,
        seed=seed,
        elite_size=config.elite_size,
    )


# -- the experiment record ---------------------------------------------------------------------------------
_TABLES = """
CREATE TABLE IF NOT EXISTS zero_progress (
    round INTEGER PRIMARY KEY, individuals INTEGER NOT NULL, elapsed_s REAL NOT NULL,
    best_fitness REAL, population_mean REAL, fec_hit_rate REAL, full_evaluations INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_best (
    round INTEGER PRIMARY KEY, individuals INTEGER NOT NULL, fitness REAL NOT NULL, program TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_experiments (
    experiment INTEGER PRIMARY KEY, round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    search_fitness REAL NOT NULL, select_fitness REAL NOT NULL, program TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    elapsed_s REAL NOT NULL, state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_checkpoint_previous (
    id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    elapsed_s REAL NOT NULL, state BLOB NOT NULL
);
"""
# zero_checkpoint_previous holds the checkpoint before the newest: resume falls back to it when the newest
# cannot be read.


def _create_tables(store: Store) -> None:
    store.ensure_tables(_TABLES)  # a read-only store adds missing ones as empty temporary tables


def _query(store: Store, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with store.transaction() as conn:
        return list(conn.execute(sql, args).fetchall())


@dataclass(frozen=True)
class Snapshot:
    """Progress after one round."""

    round: int
    individuals: int
    elapsed_s: float
    best_fitness: float | None
    population_mean: float | None
    fec_hit_rate: float | None
    full_evaluations: int
    individuals_per_s: float = 0.0


@dataclass
class FinalResult:
    """The selected program and its numbers on the select and final (held-out) tasks."""

    program: Program
    search_fitness: float
    select_fitness: float
    final_fitness: float
    final_per_task: list[float]
    candidates: int
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "program": self.program.to_json(),
            "search_fitness": self.search_fitness,
            "select_fitness": self.select_fitness,
            "final_fitness": self.final_fitness,
            "final_per_task": self.final_per_task,
            "candidates": self.candidates,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinalResult:
        return cls(
            Program.from_json(data["program"]),
            float(data["search_fitness"]),
            float(data["select_fitness"]),
            float(data["final_fitness"]),
            [float(x) for x in data["final_per_task"]],
            int(data["candidates"]),
            {k: float(v) for k, v in data["metrics"].items()},
        )


Listener = Callable[[Snapshot], None]


class Experiment:
    """An AutoML-Zero run in ``directory`` (its ``study.db``): create, load, run, resume, finish."""

    def __init__(self, directory: Path, store: Store, config: ZeroConfig) -> None:
        self.directory = directory
        self.store = store
        self.config = config
        self.lock: RunLock | None = None  # held while this process creates or runs the run

    @classmethod
    def create(cls, config: ZeroConfig, directory: str | Path, overwrite: bool = False) -> Experiment:
        """Start a run in ``directory``; a failed start removes only what it made (store/rundir.py), and
        ``overwrite`` replaces the old run's database and its random-search baseline, nothing else."""
        directory = Path(directory)
        program_space(config)  # bad op sets and size bounds fail here, before anything is written
        task_split(config)  # so do missing data files
        from archsearch.store.rundir import new_run
        from archsearch.zero.report import BASELINE_DIR

        occupied = f"{directory} already holds a run; resume it, or pass --overwrite"
        with new_run(directory, "zero", overwrite, occupied, nested=(BASELINE_DIR,)) as staged:
            _create_tables(staged.store)
            staged.store.set_meta("kind", "zero")
            staged.store.set_meta("zero_config", config.model_dump(mode="json"))
            experiment = cls(directory, staged.publish(), config)
            experiment.lock = staged.lock
        return experiment

    @classmethod
    def load(cls, directory: str | Path, lock: bool = False, read_only: bool = False) -> Experiment:
        """The run in ``directory``; ``lock`` makes this process its one driver (to run it) at once;
        ``read_only`` opens its database without writing a byte (status, report, export)."""
        directory = Path(directory)
        from archsearch.store.rundir import check_created, open_run, unfinished, unfinished_error

        check_created(directory)
        if not (directory / "study.db").exists():
            raise StoreError(
                f"no AutoML-Zero run in {directory}; start one with `archsearch zero --out {directory}`"
            )
        with open_run(directory, lock, read_only) as (store, held):
            data = store.get_meta("zero_config")
            if unfinished(store):
                raise unfinished_error(directory)
            if data is None or store.get_meta("kind") != "zero":
                raise StoreError(f"{directory} holds a study, not an AutoML-Zero run")
            experiment = cls(directory, store, parse_zero_config(data))
            _create_tables(store)
        experiment.lock = held
        return experiment

    def take_lock(self) -> None:
        """Become the one process driving this run (RunInUseError naming the one that is, if any)."""
        self.lock = hold(self.lock, self.directory)

    def close(self) -> None:
        self.store.close()
        if self.lock is not None:
            self.lock.release()

    def memory(self) -> MemoryConfig:
        return MemoryConfig(**self.config.memory.model_dump())

    def set_budget(self, budget: int) -> None:
        """Raise (never lower below what is done) the number of individuals of the run."""
        if budget < self.individuals():
            raise ConfigError(
                f"--budget {budget:,} is below the {self.individuals():,} individuals already evaluated"
            )
        self.config = self.config.model_copy(update={"budget": budget})
        self.store.set_meta("zero_config", self.config.model_dump(mode="json"))

    # -- reading ----------------------------------------------------------------------------------------
    def progress(self) -> list[Snapshot]:
        rows = _query(
            self.store,
            "SELECT round, individuals, elapsed_s, best_fitness, population_mean, fec_hit_rate, full_evaluations"
            " FROM zero_progress ORDER BY round",
        )
        return [Snapshot(*row) for row in rows]

    def best_history(self) -> list[tuple[int, float, Program]]:
        rows = _query(self.store, "SELECT individuals, fitness, program FROM zero_best ORDER BY round")
        return [(int(n), float(f), Program.from_json(json.loads(p))) for n, f, p in rows]

    def best(self) -> tuple[int, float, Program] | None:
        """The fittest program of the search so far (by search fitness): (individuals, fitness, program)."""
        history = self.best_history()
        return history[-1] if history else None

    def final(self) -> FinalResult | None:
        data = self.store.get_meta("zero_final")
        return None if data is None else FinalResult.from_json(data)

    def individuals(self) -> int:
        rows = _query(self.store, "SELECT MAX(individuals) FROM zero_progress")
        return int(rows[0][0] or 0)

    # -- running ----------------------------------------------------------------------------------------
    def experiments(self) -> list[ExperimentResult]:
        """The finished experiments of a run with restarts, each with its winner (best search fitness)."""
        rows = _query(
            self.store,
            "SELECT experiment, individuals, search_fitness, select_fitness, program"
            " FROM zero_experiments ORDER BY experiment",
        )
        return [
            ExperimentResult(int(k), int(n), float(f), float(sf), Program.from_json(json.loads(p)))
            for k, n, f, sf, p in rows
        ]

    def _budgets(self, state: _RunState) -> list[int]:
        """Each worker's individuals in the experiment of ``state``."""
        budget, size, workers = self.config.budget, self.config.experiment_individuals, self.config.workers
        total = budget - state.before if size is None else min(size, budget - state.before)
        return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]

    def run(
        self, listeners: list[Listener] | None = None, max_time_s: float | None = None
    ) -> FinalResult | None:
        """Search (or continue) until the budget is spent or the target reached, then select and test.

        With ``experiment_individuals`` the search restarts (new search tasks, new population, empty
        FEC cache) after that many individuals, as the released code's experiments; the winner of each
        finished experiment is kept and competes in the final selection. ``max_time_s`` pauses the
        search after that many seconds of this call (resume continues it); it returns None then.
        """
        self.take_lock()
        config = self.config
        started = time.monotonic()
        round_index, elapsed_before, state = self._checkpoint()
        with self.store.transaction() as conn:  # rows written after the checkpoint are redone
            for table in ("zero_progress", "zero_best", "zero_experiments"):
                conn.execute(f"DELETE FROM {table} WHERE round > ?", (round_index,))  # noqa: S608
        best = self.best()
        global_best = None if best is None else best[1]
        select_tasks = task_split(config).select
        reached = best is not None and sufficient(config, best[2], best[1], select_tasks)
        while True:
            factory = partial(build_searcher, config.model_dump(mode="json"), experiment=state.experiment)
            with Islands(factory, config.workers, config.migrants) as islands:
                if state.islands is not None:
                    islands.load_state_dict(state.islands)
                budgets = self._budgets(state)
                stats = islands.stats()
                done = [int(s["evaluated"]) for s in stats]
                experiment_best = max((s.get("best_fitness", -math.inf) for s in stats), default=-math.inf)
                last_checkpoint = time.monotonic()
                next_state = state
                while sum(done) < sum(budgets) and not reached:
                    if max_time_s is not None and time.monotonic() - started >= max_time_s:
                        return None
                    tick = time.monotonic()
                    counts = [min(config.round_size, budgets[i] - done[i]) for i in range(config.workers)]
                    islands.run_round(counts)
                    round_index += 1
                    stats = islands.stats()
                    done = [int(s["evaluated"]) for s in stats]
                    elapsed = elapsed_before + time.monotonic() - started
                    rate = sum(counts) / max(time.monotonic() - tick, 1e-9)
                    snapshot = _snapshot(round_index, stats, elapsed, rate, state)
                    improved: Individual | None = None
                    island_best = max((s.get("best_fitness", -math.inf) for s in stats), default=-math.inf)
                    if island_best > experiment_best:
                        experiment_best = island_best
                        leader = islands.elite()[0]
                        reached = sufficient(config, leader.program, leader.fitness, select_tasks)
                        if global_best is None or leader.fitness > global_best:
                            improved, global_best = leader, leader.fitness
                    experiment_done = sum(done) >= sum(budgets)
                    if experiment_done and not reached:  # the released code checks each experiment's winner
                        winner = islands.elite()[0]
                        winner_select = select_fitness(config, winner.program, select_tasks)
                        stop = config.stop_fitness()
                        reached = stop is not None and winner_select > stop
                    finished = reached or (experiment_done and state.before + sum(done) >= config.budget)
                    restart = experiment_done and not finished
                    row = None
                    if restart:
                        next_state = state.next(sum(done), snapshot.full_evaluations)
                        row = (state.experiment, winner, winner_select)
                        saved: bytes | None = next_state.to_blob()
                    elif time.monotonic() - last_checkpoint >= config.checkpoint_every_s or finished:
                        saved = replace(state, islands=islands.state_dict()).to_blob()
                    else:
                        saved = None
                    self._record(snapshot, improved, saved, row)
                    if saved is not None:
                        last_checkpoint = time.monotonic()
                    for listener in listeners or []:
                        listener(snapshot)
                    if restart:
                        break
                candidates = islands.elite()
            if next_state is state or reached:
                break
            state = next_state
        earlier = [Individual(e.program, e.search_fitness) for e in self.experiments()]
        return self.finish(candidates[: config.elite_size] + earlier)

    def _checkpoint(self) -> tuple[int, float, _RunState]:
        """(round, elapsed seconds, state) of the newest checkpoint that decodes; (0, 0, fresh) without one.

        A newest checkpoint that cannot be read falls back, with a warning, to the one before it (the rounds
        after it are redone); one pickled by an earlier archsearch is refused (LegacyStateError)."""
        error: StateFormatError | None = None
        for table in ("zero_checkpoint", "zero_checkpoint_previous"):
            rows = _query(self.store, f"SELECT round, elapsed_s, state FROM {table} WHERE id = 0")  # noqa: S608
            if not rows:
                continue
            round_index, elapsed, blob = rows[0]
            try:
                state = _RunState.from_blob(blob)
                if state.islands is not None:
                    decode_state(state.islands)  # checked here, while the older checkpoint can still be used
                return int(round_index), float(elapsed), state
            except LegacyStateError:
                raise
            except StateFormatError as exc:
                log.warning(
                    "%s: the checkpoint of round %d cannot be read (%s)", self.directory, round_index, exc
                )
                error = error or exc
        if error is not None:
            raise error
        return 0, 0.0, _RunState()

    def _record(
        self,
        snapshot: Snapshot,
        improved: Individual | None,
        blob: bytes | None,
        experiment: tuple[int, Individual, float] | None = None,
    ) -> None:
        """One transaction: the snapshot, a new best, a checkpoint, a finished experiment's winner (with
        the checkpoint that starts the next one, so that a kill between them cannot lose it)."""
        with self.store.transaction() as conn:
            if experiment is not None:
                index, winner, winner_select = experiment
                conn.execute(
                    "INSERT OR REPLACE INTO zero_experiments VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        index,
                        snapshot.round,
                        snapshot.individuals,
                        winner.fitness,
                        winner_select,
                        json.dumps(winner.program.to_json()),
                    ),
                )
            conn.execute(
                "INSERT OR REPLACE INTO zero_progress VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    snapshot.round,
                    snapshot.individuals,
                    snapshot.elapsed_s,
                    snapshot.best_fitness,
                    snapshot.population_mean,
                    snapshot.fec_hit_rate,
                    snapshot.full_evaluations,
                ),
            )
            if improved is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO zero_best VALUES (?, ?, ?, ?)",
                    (
                        snapshot.round,
                        snapshot.individuals,
                        improved.fitness,
                        json.dumps(improved.program.to_json()),
                    ),
                )
            if blob is not None:
                conn.execute("INSERT OR REPLACE INTO zero_checkpoint_previous SELECT * FROM zero_checkpoint")
                conn.execute(
                    "INSERT OR REPLACE INTO zero_checkpoint VALUES (0, ?, ?, ?, ?)",
                    (snapshot.round, snapshot.individuals, snapshot.elapsed_s, blob),
                )

    def finish(self, candidates: list[Individual]) -> FinalResult:
        """Select the best of ``candidates`` (distinct programs; the search elite, then earlier experiments'
        winners) on the select tasks, evaluate it on the final tasks, store it."""
        from archsearch.zero.interpreter import combine_fitness, evaluate_each

        config = self.config
        split = task_split(config)
        memory = MemoryConfig(**config.memory.model_dump())
        unique: list[Individual] = []
        for member in candidates:
            if all(member.program != other.program for other in unique):
                unique.append(member)
        if not unique:
            raise ConfigError("the search evaluated no program; raise the budget")

        def score(program: Program, tasks: Any) -> np.ndarray:
            return evaluate_each(
                program, tasks, memory, rng_seed=config.seed, max_abs_error=config.max_abs_error
            )

        select = [combine_fitness(score(m.program, split.select), config.combine) for m in unique]
        winner_index = int(np.argmax(select))  # ties: the fitter on the search tasks (listed first)
        winner = unique[winner_index]
        final_each = score(winner.program, split.final)
        metrics: dict[str, float] = {}
        if config.classification:
            metrics["final_accuracy_mean"] = float(np.mean(final_each))
        else:
            rmse = rmse_from_fitness(final_each)
            metrics.update(
                final_rmse_mean=float(np.mean(rmse)),
                final_rmse_median=float(np.median(rmse)),
                final_rmse_max=float(np.max(rmse)),
            )
            if config.target_rmse is not None:
                metrics["solved"] = float(np.mean(rmse) < config.target_rmse)
        result = FinalResult(
            program=winner.program,
            search_fitness=winner.fitness,
            select_fitness=select[winner_index],
            final_fitness=combine_fitness(final_each, config.combine),
            final_per_task=[float(x) for x in final_each],
            candidates=len(unique),
            metrics=metrics,
        )
        self.store.set_meta("zero_final", result.to_json())
        return result


def _snapshot(
    round_index: int, stats: list[dict[str, float]], elapsed: float, rate: float, state: _RunState
) -> Snapshot:
    """Progress after a round; individuals and full evaluations count earlier experiments too."""
    bests = [s["best_fitness"] for s in stats if "best_fitness" in s]
    means = [s["population_mean"] for s in stats if "population_mean" in s]
    lookups = sum(s.get("fec_lookups", 0.0) for s in stats)
    hits = sum(s.get("fec_hits", 0.0) for s in stats)
    return Snapshot(
        round=round_index,
        individuals=state.before + int(sum(s["evaluated"] for s in stats)),
        elapsed_s=elapsed,
        best_fitness=max(bests) if bests else None,
        population_mean=float(np.mean(means)) if means else None,
        fec_hit_rate=hits / lookups if lookups else None,
        full_evaluations=state.full_before
        + int(sum(s.get("full_evaluations", s["evaluated"]) for s in stats)),
        individuals_per_s=rate,
    )


@dataclass(frozen=True)
class _RunState:
    """Where a run stands: its experiment, the individuals and full evaluations of the experiments before
    it, and the islands' state (None: the experiment starts fresh). Stored in the state format of
    ``store/codec.py`` (data only: reading a checkpoint runs no code)."""

    experiment: int = 0
    before: int = 0
    full_before: int = 0
    islands: bytes | None = None

    def next(self, individuals: int, full_evaluations: int) -> _RunState:
        """The state that starts the next experiment after ``individuals`` more in this one."""
        return _RunState(self.experiment + 1, self.before + individuals, full_evaluations, None)

    def to_blob(self) -> bytes:
        return encode_state(
            {
                "experiment": self.experiment,
                "before": self.before,
                "full_before": self.full_before,
                "islands": self.islands,
            }
        )

    @classmethod
    def from_blob(cls, blob: bytes) -> _RunState:
        try:
            state = decode_state(blob)
        except LegacyStateError:
            raise LegacyStateError(
                "the run's checkpoint was pickled by an earlier archsearch and is never unpickled (it could"
                " run code); start the run again in a new directory, or finish it with the archsearch"
                " version that wrote it"
            ) from None
        except StateFormatError as exc:
            raise StateFormatError(
                f"the run's checkpoint cannot be read: {exc}; start the run again"
            ) from None
        fields = {"experiment": int, "before": int, "full_before": int, "islands": bytes | None}
        if not isinstance(state, dict) or set(state) != set(fields):
            raise StoreError("the run's checkpoint is not an AutoML-Zero checkpoint")
        for name, kind in fields.items():
            if isinstance(state[name], bool) or not isinstance(state[name], kind):
                raise StoreError(f"the run's checkpoint has a malformed {name!r}")
        return cls(**state)


@dataclass(frozen=True)
class ExperimentResult:
    """A finished experiment of a run with restarts: its winner by search fitness, and that winner's
    fitness on the select tasks."""

    experiment: int
    individuals: int
    search_fitness: float
    select_fitness: float
    program: Program
