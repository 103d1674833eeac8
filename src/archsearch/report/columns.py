"""Which metrics a study's tables show, and how a metric's value prints.

A study's trials report whatever metrics its evaluator measures: ``val_acc`` and ``test_acc`` for the
built-in training, ``f1`` or ``rmse`` for a user's function. Tables (the report, ``status``, ``best``, the
progress lines) show the reward's metric first, then the objectives, then the rest, capped to a readable
number of columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archsearch.objectives import Objective
    from archsearch.study import Study

SCORES = ("val_acc", "best_val_acc", "test_acc", "val_ppl", "test_ppl")
"""The built-in evaluators' scores, in the order tables have always shown them, first after the study's
own; then any other metric in the order the evaluator first reported it; then ``COSTS``."""
COSTS = ("params", "train_time_s", "latency_ms", "flops_m")
"""What a child costs, last: a user's function reports its own scores and gets ``params`` added."""
BOOKKEEPING = frozenset({"epochs", "max_val_acc_last5", "images_per_s", "tokens_per_s"})
"""Metrics of the built-in evaluators that repeat another column or the budget: no column unless the
reward or an objective names them (``best --json`` has every metric)."""
COUNTS = frozenset({"params"})
"""Metrics that count things, printed as whole numbers with thousands separators."""
MISSING = "\u2014"


def leading_metrics(study: Study) -> list[str]:
    """The metrics a study is about: its reward's metric (when the reward names one), then its objectives'."""
    return goal_metrics(study.reward_fn, study.config.objectives)


def goal_metrics(reward_fn: Any, objectives: Iterable[Objective]) -> list[str]:
    """The metric ``reward_fn`` names (the metric reward's), then those of ``objectives``, once each."""
    names = [getattr(reward_fn, "metric", None), *(o.metric for o in objectives)]
    return list(dict.fromkeys(name for name in names if isinstance(name, str) and name))


def metric_direction(study: Study, metric: str) -> str:
    """Whether the study wants ``metric`` high ("max") or low ("min"): as its reward says (the metric
    reward's ``mode``), else as an objective on it says, else the usual sense of its name (costs, losses,
    errors and perplexities low)."""
    from archsearch.objectives import default_direction

    reward = study.reward_fn
    mode = getattr(reward, "mode", None)
    if getattr(reward, "metric", None) == metric and mode in ("min", "max"):
        return str(mode)
    for objective in study.config.objectives:
        if objective.metric == metric:
            return objective.direction
    return default_direction(metric)


def metric_columns(
    reported: Iterable[Mapping[str, Any]], first: Sequence[str] = (), limit: int = 6
) -> list[str]:
    """At most ``limit`` metric names for table columns, among those some entry of ``reported`` has.

    ``reported`` is the metrics of the trials a table shows; ``first`` the names to put first where
    reported (see ``leading_metrics``). The rest follow: the built-in ``SCORES``, any other metric in the
    order it was first reported, the ``COSTS``; ``BOOKKEEPING`` metrics only when ``first`` names them.
    """
    seen: dict[str, None] = {}
    for metrics in reported:
        seen.update(dict.fromkeys(metrics))
    ordered = [name for name in first if name in seen]
    ordered += [name for name in SCORES if name in seen]
    ordered += [name for name in seen if name not in BOOKKEEPING and name not in COSTS]
    ordered += [name for name in COSTS if name in seen]
    return list(dict.fromkeys(ordered))[: max(limit, 0)]


def format_metric(name: str, value: Any) -> str:
    """``value`` of metric ``name`` for a table: 4 decimals (``0.9123``); counts as ``1,234,567``; very
    large or very small values in 4 significant digits (``1.235e+07``); a missing one as a dash."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if name in COUNTS:
        return f"{number:,.0f}"
    if number != 0 and not 1e-3 <= abs(number) < 1e6:
        return f"{number:.4g}"
    return f"{number:.4f}"
