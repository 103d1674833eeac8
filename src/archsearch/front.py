"""Pareto fronts and constrained picks over a study's trials (for `best`, the report and the benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.core import TrialRecord
from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective, feasible, loss_vector
from archsearch.pareto import pareto_mask


def successful(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [t for t in trials if t.status == "ok"]


def _check_metrics(trials: Sequence[TrialRecord], metrics: Sequence[str], what: str) -> None:
    reported = set().union(*(t.metrics for t in trials)) if trials else set()
    for metric in metrics:
        if trials and metric not in reported:
            raise ConfigError(
                f"{what} metric {metric!r} is not reported by this study's trials; they report: "
                f"{', '.join(sorted(reported))}"
            )


def feasible_trials(trials: Sequence[TrialRecord], constraints: Sequence[Constraint]) -> list[TrialRecord]:
    """The successful trials that report every constrained metric and satisfy every constraint."""
    ok = successful(trials)
    _check_metrics(ok, [c.metric for c in constraints], "constraint")
    names = [c.metric for c in constraints]
    return [t for t in ok if all(n in t.metrics for n in names) and feasible(constraints, t.metrics)]


def pick(
    trials: Sequence[TrialRecord], objective: Objective | None, constraints: Sequence[Constraint] = ()
) -> TrialRecord | None:
    """The best trial by ``objective`` (by reward when None) among those meeting ``constraints``; ties go
    to the trial better on the constrained metrics (lower under ``<=``, higher under ``>=``), so a pick
    under a latency bound lies on the accuracy/latency front, then to the earlier trial. Raises ConfigError
    when trials exist but none meets the constraints."""
    ok = successful(trials)
    if objective is not None:
        _check_metrics(ok, [objective.metric], "objective")
    candidates = feasible_trials(trials, constraints)
    if ok and not candidates:
        closest = ", ".join(
            f"lowest {c.metric} {min(t.metrics[c.metric] for t in ok if c.metric in t.metrics):.4g}"
            if c.op == "<="
            else f"highest {c.metric} {max(t.metrics[c.metric] for t in ok if c.metric in t.metrics):.4g}"
            for c in constraints
        )
        raise ConfigError(f"no successful trial satisfies {', '.join(map(str, constraints))} ({closest})")
    if objective is None:
        scored = [t for t in candidates if t.reward is not None]
        return max(scored, key=lambda t: (t.reward, -t.number)) if scored else None
    scored = [t for t in candidates if objective.metric in t.metrics]

    def order(t: TrialRecord) -> tuple[float, ...]:
        tie_breaks = [t.metrics[c.metric] if c.op == "<=" else -t.metrics[c.metric] for c in constraints]
        return (objective.loss(t.metrics[objective.metric]), *tie_breaks, t.number)

    return min(scored, key=order, default=None)


def front(
    trials: Sequence[TrialRecord], objectives: Sequence[Objective], constraints: Sequence[Constraint] = ()
) -> list[TrialRecord]:
    """The feasible successful trials no other one dominates in ``objectives``, by the first objective."""
    _check_metrics(successful(trials), [o.metric for o in objectives], "objective")
    names = [o.metric for o in objectives]
    candidates = [t for t in feasible_trials(trials, constraints) if all(n in t.metrics for n in names)]
    if not candidates:
        return []
    losses = np.array([loss_vector(objectives, t.metrics) for t in candidates])
    members = [t for t, keep in zip(candidates, pareto_mask(losses), strict=True) if keep]
    return sorted(members, key=lambda t: (objectives[0].loss(t.metrics[objectives[0].metric]), t.number))


def table_losses(evaluator: Any, objectives: Sequence[Objective]) -> np.ndarray | None:
    """Losses of every architecture of a tabular evaluator (one with ``metric_column``), shape (N, M);
    None when the evaluator holds no table of these metrics."""
    column_of = getattr(evaluator, "metric_column", None)
    if column_of is None:
        return None
    columns = []
    for objective in objectives:
        column = column_of(objective.metric)
        if column is None:
            return None
        columns.append(-column if objective.direction == "max" else column)
    return np.stack(columns, axis=1)


def true_front(evaluator: Any, objectives: Sequence[Objective]) -> np.ndarray | None:
    """The metric values (not losses) of the true Pareto front of a tabular evaluator's whole table,
    shape (K, M); None for an evaluator without a table of these metrics."""
    losses = table_losses(evaluator, objectives)
    if losses is None:
        return None
    signs = np.array([-1.0 if o.direction == "max" else 1.0 for o in objectives])
    return np.asarray(losses[pareto_mask(losses)] * signs)
