"""Trials as data: pandas data frames of a run's trials, epochs or progress rounds (as Optuna's
``Study.trials_dataframe``).

Column names: ``metric_<name>`` for each metric, ``decision_<name>`` for each decision value (named by the
space's decisions, else by position), ``info_<name>`` for what the strategy reported; times are UTC
``datetime64`` columns. Values that are lists (a links decision) stay lists.

It also says how far each trial got (``reached``: the resource, in epochs by default, it trained for) and
where a study's pruner stopped trials (``stops``), which ``archsearch status`` and the report show: these
need no pandas, which is imported only by the functions that make frames (the reading commands start
without it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from archsearch.core import Architecture, SearchSpace, TrialRecord
    from archsearch.reporting import Report
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
    "resource",
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
    import pandas

    return None if seconds is None else pandas.Timestamp(seconds, unit="s", tz="UTC")


def _frame(rows: list[dict[str, Any]], first: Sequence[str]) -> pandas.DataFrame:
    """Rows as a frame with ``first`` columns first, then the others grouped by prefix as they appear."""
    import pandas

    seen = dict.fromkeys(first)
    for row in rows:
        seen.update(dict.fromkeys(row))
    ordered = [*first, *sorted((c for c in seen if c not in first), key=_group)]
    frame = pandas.DataFrame(rows, columns=ordered)
    for column in ("started_at", "finished_at"):
        if column in frame:
            frame[column] = pandas.to_datetime(frame[column], utc=True)
    for column in ("reward", "resource", "duration_s", "cost_s", "wall_s"):
        if column in frame:  # numbers even where every row has none (a run with no finished trial)
            frame[column] = frame[column].astype("float64")
    return frame


def _group(column: str) -> int:
    for rank, prefix in enumerate(("metric_", "decision_", "info_")):
        if column.startswith(prefix):
            return rank
    return 3


def trials_frame(
    trials: Iterable[TrialRecord],
    space: SearchSpace | None = None,
    reports: Iterable[Report] = (),
) -> pandas.DataFrame:
    """One row per trial: number, status ("ok", "pruned", "failed", "timeout", "running"), reward,
    architecture (its encoding), started_at/finished_at (UTC), duration_s, cost_s, seed, error, resource
    (how far it trained, ``reached``; with the study's intermediate ``reports`` also a running trial's),
    then every metric (``metric_<name>``), every decision value (``decision_<name>``, named by ``space``'s
    decisions) and what the strategy reported (``info_<name>``). A trial without a metric has NaN there;
    a running trial has no reward, finish or duration. ``frame[frame.status != "pruned"]`` keeps the
    trials trained to the end (and the failed ones)."""
    by_trial = reports_by_trial(reports)
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
            "resource": reached(trial, by_trial.get(trial.number, ())),
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
    import pandas

    rows = [{column: getattr(snapshot, column) for column in PROGRESS_COLUMNS} for snapshot in snapshots]
    return pandas.DataFrame(rows, columns=list(PROGRESS_COLUMNS))


# -- how far trials got (no pandas) ---------------------------------------------------------------------


def reports_by_trial(reports: Iterable[Report]) -> dict[int, list[Report]]:
    """The intermediate reports of each trial (by trial number), in the order given (the store's: step)."""
    found: dict[int, list[Report]] = {}
    for report in reports:
        found.setdefault(report.number, []).append(report)
    return found


def reached(trial: TrialRecord, reports: Sequence[Report] = ()) -> float | None:
    """The resource ``trial`` reached (epochs by default): the one a pruned trial's result records
    (``metrics["resource"]``), else the largest of its intermediate ``reports`` (a running trial's so far),
    else the length of its longest curve (one point per epoch); None when nothing says."""
    recorded = trial.metrics.get("resource")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool) and math.isfinite(recorded):
        return float(recorded)
    if reports:
        return max(float(r.resource) for r in reports)
    lengths = [len(series) for series in trial.curve.values() if isinstance(series, list)]
    return float(max(lengths)) if lengths and max(lengths) > 0 else None


@dataclass(frozen=True)
class Stop:
    """One resource of a study's rungs as its stored trials tell them: ``reached`` trials got that far
    (whatever became of them later), ``stopped`` pruned trials were stopped there."""

    resource: float
    reached: int
    stopped: int


def stops(trials: Sequence[TrialRecord], reports: Iterable[Report] = ()) -> list[Stop]:
    """Where the pruner stopped ``trials``: each resource at which some pruned trial was stopped, and the
    largest resource a trial reached, with how many trials reached it and how many were stopped there;
    empty when no trial was pruned. The rungs as the store keeps them (the pruner's own are not stored)."""
    by_trial = reports_by_trial(reports)
    how_far = {t.number: reached(t, by_trial.get(t.number, ())) for t in trials}
    pruned = [how_far[t.number] for t in trials if t.status == "pruned"]
    levels = {float(r) for r in pruned if r is not None}
    if not levels:
        return []
    levels.add(max(r for r in how_far.values() if r is not None))
    eps = 1e-9
    return [
        Stop(
            resource=level,
            reached=sum(r is not None and r >= level - eps for r in how_far.values()),
            stopped=sum(r is not None and abs(r - level) <= eps for r in pruned),
        )
        for level in sorted(levels)
    ]


def resource_text(resource: float | None) -> str:
    """A resource as people write it: 3 epochs as "3", a third of one as "0.333"; "-" for none."""
    return "-" if resource is None else f"{resource:.3g}"


def metric_points(
    trial: TrialRecord, metric: str, reports: Sequence[Report] = ()
) -> list[tuple[float, float]]:
    """``trial``'s curve of ``metric`` as (resource, value) points: from its intermediate ``reports`` when
    they carry the metric (a running trial's live curve; their resources are fractional with several
    reports per epoch), else from its stored curve at resources 1, 2, ... (one point per epoch)."""
    points = [(float(r.resource), _number(r.values[metric])) for r in reports if metric in r.values]
    if points:
        return points
    return [(float(k), _number(v)) for k, v in enumerate(trial.curve.get(metric, []), start=1)]


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def curve_metric(
    trials: Sequence[TrialRecord], reports: Iterable[Report] = (), first: Sequence[str] = ()
) -> str | None:
    """The metric whose curves to show: the first of ``first`` (the pruner's, the reward's) that some
    report or stored curve carries, else the first one reported, else the first stored curve's; None when
    no trial has a curve."""
    seen = dict.fromkeys(name for r in reports for name in r.values)
    seen.update(dict.fromkeys(name for t in trials for name, series in t.curve.items() if series))
    return next((name for name in first if name in seen), next(iter(seen), None))
