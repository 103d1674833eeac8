"""Objectives and constraints as data: a metric of a Result with a direction, or with a bound.

An ``Objective`` names any metric an evaluator reports (``val_acc``, ``latency_ms``, ``params``,
``flops_m``, ...) and whether it is minimised or maximised; a ``Constraint`` bounds one (``latency_ms <= 5``).
Both are declared in the study config (``objectives: [val_acc:max, latency_ms:min]``,
``constraints: ["latency_ms <= 5"]``) and turned into loss vectors (every objective minimised) and
constraint violations here, which the Pareto machinery (``pareto.py``) and the multi-objective strategies use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from archsearch.errors import ConfigError

if TYPE_CHECKING:  # numpy is imported where vectors are made, not by the command line's start-up
    import numpy as np

Direction = Literal["min", "max"]
DIRECTIONS = ("min", "max")
# Metrics that are costs or errors, so an objective on them is minimised unless the user says otherwise
# (the supervised evaluators' val_rmse and val_mae among them).
_COST_PREFIXES = ("latency", "params", "flops", "train_time", "loss", "error", "rmse", "mse", "mae", "ppl")
_COST_SUFFIXES = ("_ppl", "_loss", "_error", "_ms", "_s", "_rmse", "_mse", "_mae")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(<=|>=)\s*(\S+)\s*$")


def default_direction(metric: str) -> Direction:
    """``min`` for costs and errors (latency, params, FLOPs, perplexity, loss, times, RMSE, MSE, MAE),
    ``max`` otherwise."""
    if metric.startswith(_COST_PREFIXES) or metric.endswith(_COST_SUFFIXES):
        return "min"
    return "max"


def _parse_objective_text(text: str) -> dict[str, Any]:
    metric, sep, direction = text.strip().partition(":")
    metric, direction = metric.strip(), direction.strip()
    if not metric or (sep and direction not in DIRECTIONS):
        raise ConfigError(f"objective {text!r} must be METRIC or METRIC:min or METRIC:max, e.g. val_acc:max")
    return {"metric": metric, "direction": direction or default_direction(metric)}


class Objective(BaseModel):
    """A metric of a Result to minimise or maximise; written ``"val_acc:max"`` or ``{metric, direction}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    direction: Direction = "max"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return _parse_objective_text(data) if isinstance(data, str) else data

    def __str__(self) -> str:
        return f"{self.metric}:{self.direction}"

    def loss(self, value: float) -> float:
        """The value as a quantity to minimise (maximised metrics are negated)."""
        return -float(value) if self.direction == "max" else float(value)


def _parse_constraint_text(text: str) -> dict[str, Any]:
    match = _CONSTRAINT.match(text)
    if match is None:
        raise ConfigError(
            f"constraint {text!r} must read METRIC <= BOUND or METRIC >= BOUND, e.g. latency_ms <= 5"
        )
    metric, op, bound = match.groups()
    try:
        value = float(bound)
    except ValueError:
        raise ConfigError(f"constraint {text!r}: bound {bound!r} is not a number") from None
    return {"metric": metric, "op": op, "bound": value}


class Constraint(BaseModel):
    """A bound on a metric; written ``"latency_ms <= 5"`` or ``{metric, op, bound}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    op: Literal["<=", ">="] = "<="
    bound: float

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return _parse_constraint_text(data) if isinstance(data, str) else data

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def violation(self, value: float) -> float:
        """How far ``value`` is outside the bound, relative to the bound (0 when satisfied)."""
        excess = float(value) - self.bound if self.op == "<=" else self.bound - float(value)
        return max(0.0, excess) / max(abs(self.bound), 1e-12)


def parse_objectives(items: Sequence[str | Objective | Mapping[str, Any]]) -> list[Objective]:
    """Objectives from config items or flag strings; a malformed one is a one-line ConfigError."""
    try:
        return [item if isinstance(item, Objective) else Objective.model_validate(item) for item in items]
    except ValueError as exc:  # pydantic's ValidationError; our ConfigError passes through untouched
        raise ConfigError(f"bad objective: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]


def parse_constraints(items: Sequence[str | Constraint | Mapping[str, Any]]) -> list[Constraint]:
    """Constraints from config items or flag strings; a malformed one is a one-line ConfigError."""
    try:
        return [item if isinstance(item, Constraint) else Constraint.model_validate(item) for item in items]
    except ValueError as exc:
        raise ConfigError(f"bad constraint: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]


def _value(metrics: Mapping[str, float], metric: str, what: str) -> float:
    if metric not in metrics:
        raise ConfigError(
            f"{what} metric {metric!r} is not reported by the evaluator; its metrics: {', '.join(sorted(metrics))}"
        )
    return float(metrics[metric])


def loss_vector(objectives: Sequence[Objective], metrics: Mapping[str, float]) -> np.ndarray:
    """The objectives of one result as a vector to minimise, shape (M,)."""
    import numpy as np

    return np.array([o.loss(_value(metrics, o.metric, "objective")) for o in objectives], dtype=np.float64)


def total_violation(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> float:
    """Summed relative violation of ``constraints`` (0 = feasible); Deb's constrained domination uses it."""
    return float(sum(c.violation(_value(metrics, c.metric, "constraint")) for c in constraints))


def feasible(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> bool:
    return total_violation(constraints, metrics) == 0.0
