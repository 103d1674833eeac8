"""Objectives and constraints as data: parsing, directions, violations, one-line errors."""

from __future__ import annotations

import pytest

from archsearch.config import parse_config
from archsearch.errors import ConfigError
from archsearch.objectives import (
    Constraint,
    Objective,
    default_direction,
    loss_vector,
    parse_constraints,
    parse_objectives,
    total_violation,
)


def test_objectives_parse_from_text_with_cost_metrics_minimised_by_default():
    goals = parse_objectives(
        ["val_acc", "latency_ms", "params:max", {"metric": "flops_m", "direction": "min"}]
    )
    assert [(g.metric, g.direction) for g in goals] == [
        ("val_acc", "max"),
        ("latency_ms", "min"),
        ("params", "max"),
        ("flops_m", "min"),
    ]
    assert default_direction("val_ppl") == "min" and default_direction("test_acc") == "max"
    assert loss_vector(goals[:2], {"val_acc": 0.9, "latency_ms": 3.0}).tolist() == [-0.9, 3.0]


def test_constraint_violation_is_relative_to_the_bound():
    (upper, lower) = parse_constraints(["latency_ms <= 5", "val_acc >= 0.5"])
    assert upper == Constraint(metric="latency_ms", op="<=", bound=5.0)
    assert upper.violation(4.0) == 0.0 and upper.violation(7.5) == pytest.approx(0.5)
    assert lower.violation(0.25) == pytest.approx(0.5)
    assert total_violation([upper, lower], {"latency_ms": 7.5, "val_acc": 0.25}) == pytest.approx(1.0)


def test_study_config_round_trips_objectives_and_constraints():
    config = parse_config({"objectives": ["val_acc", "latency_ms:min"], "constraints": ["latency_ms <= 5"]})
    again = parse_config(config.model_dump(mode="json"))
    assert again.objectives == [Objective(metric="val_acc"), Objective(metric="latency_ms", direction="min")]
    assert str(again.constraints[0]) == "latency_ms <= 5"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"objectives": ["val_acc:up"]}, "must be METRIC or METRIC:min"),
        ({"constraints": ["latency_ms < 5"]}, "must read METRIC <= BOUND"),
        ({"constraints": ["latency_ms <= fast"]}, "is not a number"),
    ],
)
def test_bad_objectives_and_constraints_are_one_line_config_errors(data, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(data)
    assert "\n" not in str(info.value)


def test_a_metric_the_result_lacks_names_the_metrics_it_has():
    with pytest.raises(ConfigError, match="'latency_ms' is not reported.*val_acc"):
        loss_vector(parse_objectives(["latency_ms"]), {"val_acc": 0.5})
