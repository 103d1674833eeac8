"""Trials as data: pandas data frames of a run's trials, epochs or progress rounds (as Optuna's
``Study.trials_dataframe``).

Column names: ``metric_<name>`` for each metric, ``decision_<name>`` for each decision value (named by the
space's decisions, else by position), ``info_<name>`` for what the strategy reported; times are UTC
``datetime64`` columns. Values that are lists (a links decision) stay lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas

if TYPE_CHECKING:
    from archsearch.core import Architecture, SearchSpace, TrialRecord
    from archsearch.store.sqlite import EpochRecord

TRIAL_COLUMNS = (
    "number",
    "status",
    "reward",
    "architecture",
    "started_at",
    "finished_at",
    "duration_s",
    "cost_s",
    "seed",
    "error",
)
"""The fixed columns of ``trials_frame``, first and in this order; metric, decision and info columns
follow."""

EPOCH_COLUMNS = ("epoch", "architecture", "wall_s", "finished_at")
PROGRESS_COLUMNS = (
    "round",
    "individuals",
    "elapsed_s",
    "best_fitness",
    "population_mean",
    "fec_hit_rate",
    "full_evaluations",
)


def decision_values(arch: Architecture, space: SearchSpace | None = None) -> dict[str, Any]:
    """``arch``'s values as ``decision_<name>`` columns: named by ``space``'s decisions when it is given
    and ``arch`` is one of its architectures, else by position (``decision_0``, ...)."""
    values = arch.to_dict()["values"]
    names: list[str] = [str(i) for i in range(len(values))]
    if space is not None:
        try:
            names = [decision.name for decision in space.walk(arch.values)]
        except Exception:  # an architecture of another space or version: positions still say which value
            pass
    columns: dict[str, Any] = {}
    for name, value in zip(names, values, strict=False):
        key = f"decision_{name}"
        while key in columns:  # a space that asks two decisions of one name: keep both
            key += "_"
        columns[key] = value
    return columns


def _utc(seconds: float | None) -> pandas.Timestamp | None:
    return None if seconds is None else pandas.Timestamp(seconds, unit="s", tz="UTC")


def _frame(rows: list[dict[str, Any]], first: Sequence[str]) -> pandas.DataFrame:
    """Rows as a frame with ``first`` columns first, then the others grouped by prefix as they appear."""
    seen = dict.fromkeys(first)
    for row in rows:
        seen.update(dict.fromkeys(row))
    ordered = [*first, *sorted((c for c in seen if c not in first), key=_group)]
    frame = pandas.DataFrame(rows, columns=ordered)
    for column in ("started_at", "finished_at"):
        if column in frame:
            frame[column] = pandas.to_datetime(frame[column], utc=True)
    for column in ("reward", "duration_s", "cost_s", "wall_s"):
        if column in frame:  # numbers even where every row has none (a run with no finished trial)
            frame[column] = frame[column].astype("float64")
    return frame


def _group(column: str) -> int:
    for rank, prefix in enumerate(("metric_", "decision_", "info_")):
        if column.startswith(prefix):
            return rank
    return 3


def trials_frame(trials: Iterable[TrialRecord], space: SearchSpace | None = None) -> pandas.DataFrame:
    """One row per trial: number, status, reward, architecture (its encoding), started_at/finished_at
    (UTC), duration_s, cost_s, seed, error, then every metric (``metric_<name>``), every decision value
    (``decision_<name>``, named by ``space``'s decisions) and what the strategy reported (``info_<name>``).
    A trial without a metric has NaN there; a running trial has no reward, finish or duration."""
    rows = []
    for trial in trials:
        row: dict[str, Any] = {
            "number": trial.number,
            "status": trial.status,
            "reward": trial.reward,
            "architecture": trial.arch_str,
            "started_at": _utc(trial.started_at),
            "finished_at": _utc(trial.finished_at),
            "duration_s": None if trial.finished_at is None else trial.finished_at - trial.started_at,
            "cost_s": trial.cost_s,
            "seed": trial.seed,
            "error": trial.error,
        }
        row.update({f"metric_{key}": value for key, value in trial.metrics.items()})
        row.update(decision_values(trial.arch, space))
        row.update({f"info_{key}": value for key, value in trial.info.items()})
        rows.append(row)
    return _frame(rows, TRIAL_COLUMNS)


def epochs_frame(epochs: Iterable[EpochRecord], space: SearchSpace | None = None) -> pandas.DataFrame:
    """One row per finished epoch of a one-shot run: epoch (0-based), the cell derived after it
    (``architecture`` and ``decision_<name>``), wall_s, finished_at (UTC) and its metrics
    (``metric_<name>``: train_loss, valid_acc, entropy, ...)."""
    rows = []
    for epoch in epochs:
        row: dict[str, Any] = {
            "epoch": epoch.epoch,
            "architecture": epoch.arch_str,
            "wall_s": epoch.wall_s,
            "finished_at": _utc(epoch.finished_at),
        }
        row.update({f"metric_{key}": value for key, value in epoch.metrics.items()})
        row.update(decision_values(epoch.arch, space))
        rows.append(row)
    return _frame(rows, EPOCH_COLUMNS)


def progress_frame(snapshots: Iterable[Any]) -> pandas.DataFrame:
    """One row per recorded round of an AutoML-Zero run: round, individuals evaluated so far, elapsed_s,
    best_fitness, population_mean, fec_hit_rate and full_evaluations (its ``Snapshot`` fields)."""
    rows = [{column: getattr(snapshot, column) for column in PROGRESS_COLUMNS} for snapshot in snapshots]
    return pandas.DataFrame(rows, columns=list(PROGRESS_COLUMNS))
