"""Reports of a user's study: its own metrics in every table, choices per decision, learning curves and
its decision values instead of a drawing, from a space and an evaluator archsearch does not know."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from archsearch.cli import main
from archsearch.core import Architecture, TrialRecord
from archsearch.report.columns import format_metric, metric_columns
from archsearch.report.html import CURVES_PNG, decision_values, write_report
from archsearch.report.plots import choice_frequencies, reward_axis
from archsearch.report.progress import RichProgress
from archsearch.study import best_trial
from user_study import BLOCKS, DICT_CHOICES, FAILURE, UserSpace, run_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[list[TrialRecord], Path]:
    """One user study of 24 trials and its report, shared by the tests that only read them."""
    directory = tmp_path_factory.mktemp("user") / "study"
    trials = run_study(directory)
    return trials, write_report(directory)


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def header(page: str, heading: str) -> list[str]:
    """The column names of the first table after ``heading``."""
    table = page[page.index(heading) :].split("</tr>")[0]
    return re.findall(r"<th>([^<]*)</th>", table)


def test_report_tables_show_the_metrics_the_trials_report_reward_metric_first(report):
    trials, index = report
    page = index.read_text(encoding="utf-8")

    assert header(page, "<h2>Top 10") == [
        "#",
        "Trial",
        "Reward",
        "f1",
        "rmse",
        "params",
        "Cost",
        "Architecture",
    ]
    assert "val_acc" not in page and "test_acc" not in page
    best = best_trial(trials)
    assert best is not None
    best_section = page[page.index("<h2>Best trial") : page.index("<h2>Plots")]
    assert f"<tr><th>params</th><td>{best.metrics['params']:,.0f}</td></tr>" in best_section
    assert f"<tr><th>rmse</th><td>{best.metrics['rmse']:.4f}</td></tr>" in best_section
    assert FAILURE in page


def test_report_of_a_user_space_lists_the_best_decisions_and_draws_curves_instead_of_a_drawing(report):
    trials, index = report
    page = index.read_text(encoding="utf-8")
    best = best_trial(trials)
    assert best is not None

    act, width, dropout, cell = best.arch.values
    assert "<p>Its decisions:</p>" in page
    for name, value in (("act", act), ("width", width), ("dropout", dropout), ("cell", cell)):
        assert f"<tr><th>{name}</th><td><code>{value}</code></td></tr>" in page
    pngs = sorted(p.name for p in index.parent.glob("*.png"))
    assert pngs == ["best_so_far.png", "choices.png", CURVES_PNG, "rewards.png"]
    for name in pngs:
        data = (index.parent / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000
    assert "Best reward and best f1 (highest) found so far." in page


def test_choices_over_time_has_one_table_per_decision_with_a_row_per_value(report):
    trials, index = report
    page = index.read_text(encoding="utf-8")
    section = page[page.index("<h2>Choices over time") : page.index("<h2>Failed trials")]

    assert re.findall(r"<summary><code>([^<]*)</code></summary>", section) == [
        "act",
        "width",
        "dropout",
        "cell",
    ]
    cell_table = section[section.index("<code>cell</code>") :].split("</table>")[0]
    assert [f"<td><code>{block}</code></td>" in cell_table for block in BLOCKS] == [True] * len(BLOCKS)
    # 24 finished trials in windows of 3: 8 columns whose shares of each decision sum to 100%.
    act_table = section[section.index("<code>act</code>") :].split("</table>")[0]
    assert header(act_table, "<table>") == ["Value", *(f"trials {k}\u2013{k + 2}" for k in range(0, 24, 3))]
    shares = np.array(
        [[int(p) for p in re.findall(r">(\d+)%<", row)] for row in act_table.split("</tr>")[1:4]]
    )
    assert shares.shape == (3, 8) and set(np.abs(shares.sum(axis=0) - 100)) <= {0, 1}  # rounding


def test_choice_frequencies_per_decision_count_each_decision_by_its_name():
    space = UserSpace()
    archs = [
        Architecture(space.name, ("relu", 16, 0.0, "block0")),
        Architecture(space.name, ("gelu", 16, 0.5, "block11")),
        Architecture(space.name, ("gelu", 64, 0.5, "block11")),
    ]

    freq = choice_frequencies(space, archs, window=2, per_decision=True)

    assert list(freq.fractions) == ["act", "width", "dropout", "cell"]
    np.testing.assert_allclose(freq.fractions["act"], [[0.5, 0.5, 0], [0, 1, 0]])
    np.testing.assert_allclose(freq.fractions["width"], [[1, 0, 0], [0, 0, 1]])
    assert freq.fractions["cell"].shape == (2, 12) and freq.fractions["cell"][1, 11] == 1
    assert len(freq.mean_links) == 0


def test_a_study_without_curves_has_no_learning_curve_plot(tmp_path):
    run_study(
        tmp_path / "s",
        n_trials=4,
        evaluator={"name": "user_study:UserMetricsEvaluator", "params": {"curves": False}},
    )

    index = write_report(tmp_path / "s")

    assert not (index.parent / CURVES_PNG).exists()
    assert CURVES_PNG not in index.read_text(encoding="utf-8")


def test_decision_values_of_a_space_whose_code_changed_fall_back_on_positions():
    class Renamed(UserSpace):
        def values(self, arch):
            raise KeyError("act")  # the user renamed a label since the search

        def decisions(self, prefix):
            if len(prefix) == 2:
                raise ValueError("no decision 'dropout' any more")
            return super().decisions(prefix)

    arch = Architecture("user-space", ("relu", 32, 0.25, "block3"))

    assert decision_values(Renamed(), arch) == [
        ("act", "relu"),
        ("width", 32),
        ("#2", 0.25),
        ("#3", "block3"),
    ]
    assert decision_values(UserSpace(), arch)[3] == ("cell", "block3")


def test_status_and_best_print_the_study_metrics(report, capsys):
    trials, index = report
    directory = index.parent.parent
    best = best_trial(trials)
    assert best is not None
    capsys.readouterr()

    assert run_cli("status", str(directory)) == 0
    text = capsys.readouterr().out
    assert "24/24 trials started" in text
    rows = re.findall(r"│ (\w+) +│ ([^│]+?) +│", text)
    assert [name for name, _ in rows] == ["trial", "architecture", "reward", "f1", "rmse", "params"]
    assert dict(rows)["params"] == f"{best.metrics['params']:,.0f}"
    assert run_cli("best", str(directory), "--json") == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == best.metrics


def test_progress_lines_show_the_study_metrics_first_ones_first():
    console = Console(record=True, width=200, force_terminal=False)
    progress = RichProgress(3, console=console, metrics=["rmse"])
    arch = Architecture("user-space", ("relu", 16, 0.0, "block0"))
    record = TrialRecord(0, arch, "act=relu", 0, "running", ask_event=0, started_at=0.0)
    progress.trial_started(record)
    record.status, record.reward, record.cost_s = "ok", 0.5, 0.2
    record.metrics = {"epochs": 4.0, "f1": 0.5, "params": 16007.0, "rmse": 0.25, "auc": 0.7}

    progress.trial_finished(record)

    line = console.export_text()
    assert "act=relu  rmse 0.2500 f1 0.5000 auc 0.7000 reward 0.5000  (0.2s)" in line


def test_metric_columns_and_formats():
    reported = [{"epochs": 4.0, "auc": 0.7, "f1": 0.5}, {"val_acc": 0.9, "params": 10.0, "rmse": 0.1}]

    assert metric_columns(reported, ["rmse", "missing"]) == ["rmse", "val_acc", "auc", "f1", "params"]
    assert metric_columns(reported, ["epochs"], limit=2) == ["epochs", "val_acc"]
    assert metric_columns([]) == []
    assert [format_metric("params", 1234567.0), format_metric("f1", 0.91234)] == ["1,234,567", "0.9123"]
    assert [format_metric("mse", 12345678.0), format_metric("lr", 1e-5)] == ["1.235e+07", "1e-05"]
    assert [format_metric("f1", None), format_metric("f1", float("nan"))] == ["\u2014", "nan"]
    assert html.escape(format_metric("label", "<b>")) == "&lt;b&gt;"


def test_built_in_spaces_keep_choices_by_kind():
    from archsearch.spaces.nasrl_cnn import NasRLCNNSpace

    space = NasRLCNNSpace(num_layers=3)
    archs = [space.sample(np.random.default_rng(k)) for k in range(4)]
    by_kind = choice_frequencies(space, archs)
    by_name = choice_frequencies(space, archs, per_decision=True)

    assert list(by_kind.fractions) == ["filter_h", "filter_w", "num_filters"]
    assert "layer2.num_filters" in by_name.fractions


def test_report_of_a_dict_space_searched_with_a_function(tmp_path):
    space = {"name": "dict", "params": {"choices": DICT_CHOICES}}
    evaluator = {"name": "user_study:dict_objective"}  # a function: made a FunctionEvaluator
    trials = run_study(tmp_path / "s", n_trials=12, space=space, evaluator=evaluator)
    assert {t.status for t in trials} == {"ok", "failed"}

    index = write_report(tmp_path / "s")
    page = index.read_text(encoding="utf-8")

    assert header(page, "<h2>Top 10")[3:5] == ["f1", "params"]
    section = page[page.index("<h2>Choices over time") :]
    assert re.findall(r"<summary><code>([^<]*)</code></summary>", section) == ["depth", "width", "act"]
    assert "<tr><th>depth</th><td><code>" in page and "depth 3 with gelu diverged" in page
    assert (index.parent / CURVES_PNG).read_bytes()[:8] == PNG_MAGIC


def test_failed_rewards_far_below_the_others_leave_the_reward_axis_to_the_successful_ones():
    assert reward_axis([0.2, 0.8], [0.0, 0.0]) is None  # the built-in rewards: failures at 0 fit the axis
    low, high = reward_axis([0.2, 0.8], [-1e6, 0.0])
    assert low == pytest.approx(-0.064) and high == pytest.approx(0.864)
    assert reward_axis([], [-1e6]) is None


def test_best_so_far_of_a_minimised_metric_is_the_running_minimum():
    from archsearch.report.plots import best_so_far

    np.testing.assert_allclose(best_so_far([None, 0.5, 0.7, 0.2], "min"), [np.nan, 0.5, 0.5, 0.2])


def test_a_study_minimising_rmse_plots_the_lowest_rmse_so_far(tmp_path):
    run_study(
        tmp_path / "s", n_trials=4, reward={"name": "metric", "params": {"metric": "rmse", "mode": "min"}}
    )

    page = write_report(tmp_path / "s").read_text(encoding="utf-8")

    assert "Best reward and best rmse (lowest) found so far." in page
    assert header(page, "<h2>Top 10")[3:6] == ["rmse", "f1", "params"]


def test_report_of_a_model_space_lists_its_labels(tmp_path):
    space = {"name": "modelspace.user_spaces:SmallCNN"}
    evaluator = {"name": "user_study:model_objective"}
    reward = {"name": "metric", "params": {"metric": "acc"}}
    trials = run_study(tmp_path / "s", n_trials=6, space=space, evaluator=evaluator, reward=reward)
    assert all(t.status == "ok" for t in trials)

    index = write_report(tmp_path / "s")
    page = index.read_text(encoding="utf-8")

    labels = ["width", "conv", "act", "depth", "skip", "dropout"]
    section = page[page.index("<h2>Choices over time") :]
    assert re.findall(r"<summary><code>([^<]*)</code></summary>", section) == labels
    assert "<td><code>sep3x3</code></td>" in section and "<td><code>conv3x3</code></td>" in section
    best = best_trial(trials)
    assert best is not None and f"<tr><th>conv</th><td><code>{best.arch.values[1]}</code></td></tr>" in page
    assert header(page, "<h2>Top 10")[3] == "acc"
    assert not (index.parent / "best_architecture.png").exists()
