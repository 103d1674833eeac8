"""Multi-objective search on a user's metrics: objectives and constraints on ``f1``, ``params`` and
``rmse`` from a user's evaluator, through `front`, `status`, `best` and the report's Pareto plot; a
metric the evaluator never reports is one line naming it and what it does report."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.core import TrialRecord
from archsearch.errors import ConfigError
from archsearch.front import front
from archsearch.objectives import parse_constraints, parse_objectives
from archsearch.report.html import PARETO_PNG, write_report
from user_study import DICT_CHOICES, run_study

OBJECTIVES = ["f1:max", "params:min"]
CONSTRAINTS = ["rmse <= 0.4"]


@pytest.fixture(scope="module")
def nsga2_study(tmp_path_factory) -> tuple[Path, list[TrialRecord]]:
    """NSGA-II on the user's f1 and params under a bound on its rmse."""
    directory = tmp_path_factory.mktemp("mo-user") / "s"
    trials = run_study(
        directory,
        n_trials=24,
        strategy={"name": "nsga2", "params": {"population_size": 6}},
        objectives=OBJECTIVES,
        constraints=CONSTRAINTS,
    )
    return directory, trials


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def test_front_of_user_metrics_lists_the_feasible_non_dominated_trials(nsga2_study, capsys):
    directory, trials = nsga2_study
    members = front(trials, parse_objectives(OBJECTIVES), parse_constraints(CONSTRAINTS))
    assert len(members) >= 2 and all(t.metrics["rmse"] <= 0.4 for t in members)
    ok = [t for t in trials if t.status == "ok"]
    assert any(t.metrics["rmse"] > 0.4 for t in ok)  # the constraint removed some

    assert run_cli("front", str(directory)) == 0
    text = capsys.readouterr().out

    assert "f1:max" in text and "params:min" in text and "constraints: rmse <= 0.4" in text
    for t in members:
        assert t.arch_str in text and f"{t.metrics['params']:,.0f}" in text
    assert f"{len(members)} trials" in text


def test_status_reports_the_front_and_best_picks_by_a_user_metric(nsga2_study, capsys):
    directory, trials = nsga2_study
    capsys.readouterr()

    assert run_cli("status", str(directory)) == 0
    text = capsys.readouterr().out
    members = front(trials, parse_objectives(OBJECTIVES), parse_constraints(CONSTRAINTS))
    assert f"Pareto front (f1:max, params:min) under rmse <= 0.4: {len(members)} trials" in text

    assert run_cli("best", str(directory), "--objective", "params:min", "--json") == 0
    picked = json.loads(capsys.readouterr().out)
    feasible = [t for t in trials if t.status == "ok" and t.metrics["rmse"] <= 0.4]
    assert picked["metrics"]["params"] == min(t.metrics["params"] for t in feasible)


def test_report_draws_the_pareto_front_of_user_metrics(nsga2_study):
    directory, trials = nsga2_study
    index = write_report(directory)
    page = index.read_text(encoding="utf-8")

    assert (index.parent / PARETO_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<h2>Pareto front</h2>" in page and "Constraints: rmse &lt;= 0.4" in page
    assert "<th>f1:max</th><th>params:min</th>" in page


def test_a_metric_the_evaluator_never_reports_is_named_by_front_status_and_the_report(tmp_path, capsys):
    """A single-objective strategy runs the whole search; what shows the front says what went wrong."""
    directory = tmp_path / "s"
    run_study(directory, n_trials=6, strategy={"name": "evolution", "params": {"population_size": 4,
              "sample_size": 2}}, objectives=["auc:max", "params:min"])  # fmt: skip
    expected = "objective metric 'auc' is not reported by this study's trials; they report: f1, params, rmse"

    assert run_cli("front", str(directory)) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
    assert run_cli("status", str(directory)) == 0
    assert expected in capsys.readouterr().out
    page = write_report(directory).read_text(encoding="utf-8")
    assert "<h2>Pareto front</h2>" in page and html.escape(expected.capitalize()) in page
    assert not (directory / "report" / PARETO_PNG).exists()
    assert run_cli("front", str(directory), "--objectives", "f1:max,rmse:min") == 0  # named by hand


def test_a_multi_objective_strategy_stops_at_the_first_trial_missing_an_objective(tmp_path):
    with pytest.raises(
        ConfigError, match="objective metric 'auc' is not reported by the evaluator; its metrics: f1"
    ):
        run_study(
            tmp_path / "s",
            n_trials=6,
            strategy={"name": "nsga2", "params": {"population_size": 4}},
            objectives=["auc:max", "params:min"],
        )


def test_front_of_a_study_without_objectives_suggests_the_metrics_it_reports(tmp_path, capsys):
    run_study(tmp_path / "s", n_trials=4)

    assert run_cli("front", str(tmp_path / "s")) == 2
    assert "pass e.g. --objectives f1:max,rmse:min" in capsys.readouterr().err
    assert run_cli("front", str(tmp_path / "s"), "--objectives", "f1:max,params:min,rmse:min") == 0


def test_an_objective_on_an_error_metric_is_minimised_unless_told_otherwise():
    goals = parse_objectives(["rmse", "val_mae", "mse", "f1", "val_rmse:max"])

    assert [g.direction for g in goals] == ["min", "min", "min", "max", "max"]


def test_a_function_s_metrics_on_a_dict_space_make_the_front(tmp_path, capsys):
    """The plain-user route: a dict of choices, a function returning f1 and params, NSGA-II on both."""
    directory = tmp_path / "s"
    trials = run_study(
        directory,
        n_trials=12,
        space={"name": "dict", "params": {"choices": DICT_CHOICES}},
        evaluator={"name": "user_study:dict_objective"},
        strategy={"name": "nsga2", "params": {"population_size": 4}},
        objectives=OBJECTIVES,
        constraints=["params <= 400"],
    )
    members = front(trials, parse_objectives(OBJECTIVES), parse_constraints(["params <= 400"]))
    assert members and all(t.metrics["params"] <= 400 for t in members)

    assert run_cli("front", str(directory)) == 0
    text = capsys.readouterr().out
    assert all(t.arch_str in text for t in members)
    index = write_report(directory)
    assert (index.parent / PARETO_PNG).exists() and "Constraints: params &lt;= 400" in index.read_text()
