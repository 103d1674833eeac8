"""The AutoML-Zero run API in one import: its config (``config.py``), its record in the run's database
(``record.py``) and the experiment that creates, runs, resumes and finishes it (``experiment.py``)."""

from __future__ import annotations

from archsearch.zero.config import (
    MAX_EXAMPLES,
    MAX_POPULATION,
    TASK_DEFAULTS,
    TASK_FAMILIES,
    ZERO_FLAGS,
    MemorySettings,
    ZeroConfig,
    make_config,
    parse_zero_config,
    program_space,
    task_split,
)
from archsearch.zero.experiment import (
    SELECT_CHECK_FROM,
    Experiment,
    Listener,
    build_searcher,
    fitness_from_rmse,
    rmse_from_fitness,
    search_fitness,
    select_fitness,
    sufficient,
)
from archsearch.zero.record import ZERO_TABLES, ExperimentResult, FinalResult, Snapshot

__all__ = [
    "MAX_EXAMPLES",
    "MAX_POPULATION",
    "SELECT_CHECK_FROM",
    "TASK_DEFAULTS",
    "TASK_FAMILIES",
    "ZERO_FLAGS",
    "ZERO_TABLES",
    "Experiment",
    "ExperimentResult",
    "FinalResult",
    "Listener",
    "MemorySettings",
    "Snapshot",
    "ZeroConfig",
    "build_searcher",
    "fitness_from_rmse",
    "make_config",
    "parse_zero_config",
    "program_space",
    "rmse_from_fitness",
    "search_fitness",
    "select_fitness",
    "sufficient",
    "task_split",
]
