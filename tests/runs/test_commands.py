"""``archsearch status|resume|best|report|export|trials DIR`` on every kind of run (a study of trials, a
one-shot run, an AutoML-Zero run), ``archsearch zero status|resume|export`` as aliases, and the flags
that do not fit a kind as one red line with exit code 2."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas
import pytest

from archsearch.cli import main
from archsearch.store.sqlite import Store


def run_cli(*args: str | Path) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in args])
    return int(exit_info.value.code or 0)


def one_error_line(capsys, code: int) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), captured.err
    return lines[0]


STATUS = {
    "study": ["8/8 trials started; 1 failed, 7 ok", "best of 8 trials"],
    "oneshot": ["one-shot asng run, 2/2 epochs finished", "derived cell", "collapse check"],
    "zero": ["200/200 individuals", "final fitness", "def predict()"],
}


def test_status_on_every_kind(run_dir, capsys) -> None:
    assert run_cli("status", run_dir) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{run_dir}: ")
    for text in STATUS[run_dir.name]:
        assert text in printed


def test_zero_status_is_the_same_as_status(zero_dir, capsys) -> None:
    assert run_cli("status", zero_dir) == 0
    plain = capsys.readouterr().out
    assert run_cli("zero", "status", zero_dir) == 0
    assert capsys.readouterr().out == plain


def test_best_on_every_kind_as_text_and_json(run_dir, capsys) -> None:
    assert run_cli("best", run_dir) == 0
    text = capsys.readouterr().out
    assert run_cli("best", run_dir, "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert found["kind"] == run_dir.name and found["finished"] is True
    if run_dir.name == "study":
        assert {"number", "architecture", "values", "reward", "metrics"} <= set(found)
        assert found["architecture"] in text and found["metrics"]["f1"] == found["reward"]
    elif run_dir.name == "oneshot":  # the derived cell
        store = Store(run_dir, read_only=True)
        summary = store.get_meta("summary")
        store.close()
        assert found["architecture"] == summary["arch_str"] and "derived cell" in text
        assert found["values"] == summary["arch"]["values"]
        assert found["estimate_valid_acc"] == summary["estimate_valid_acc"]
    else:  # the selected program
        assert found["program"].startswith("def setup():") and "def predict()" in text
        assert found["final_fitness"] == found["metrics"]["final_fitness"]


@pytest.mark.parametrize("kind", ["oneshot", "zero"])
def test_picking_flags_of_best_belong_to_studies(kind, request, capsys) -> None:
    directory = request.getfixturevalue(f"{kind}_dir")
    line = one_error_line(
        capsys, run_cli("best", directory, "--objective", "val_acc", "--constraint", "a <= 1")
    )
    assert "--objective, --constraint pick among the trials of a study" in line


def test_report_on_every_kind(run_dir, tmp_path, capsys) -> None:
    assert run_cli("report", run_dir, "--out", tmp_path / "report") == 0
    assert capsys.readouterr().out.strip() == f"report: {tmp_path / 'report' / 'index.html'}"
    assert (tmp_path / "report" / "index.html").stat().st_size > 0


EXPORTED = {
    "study": ("exported trial ", ["architecture.json", "values.json"]),
    "oneshot": ("exported the architecture of the finished search (", ["architecture.json", "model.py"]),
    "zero": ("exported the best program to ", []),
}


def test_export_on_every_kind(run_dir, tmp_path, capsys) -> None:
    target = tmp_path / ("algorithm.py" if run_dir.name == "zero" else "export")
    assert run_cli("export", run_dir, "--out", target) == 0
    printed = capsys.readouterr().out
    start, files = EXPORTED[run_dir.name]
    assert printed.startswith(start) and str(target) in printed
    for name in files:
        assert (target / name).is_file()
    if run_dir.name == "zero":
        assert "class Algorithm" in target.read_text()


def test_zero_export_and_export_write_the_same_module(zero_dir, tmp_path, capsys) -> None:
    assert run_cli("export", zero_dir, "--out", tmp_path / "a.py") == 0
    assert run_cli("zero", "export", zero_dir, "--out", tmp_path / "b.py") == 0
    assert capsys.readouterr().out.count("exported the best program to") == 2
    first, second = (tmp_path / "a.py").read_text(), (tmp_path / "b.py").read_text()
    assert first.replace("from a import", "from b import") == second  # the module imports itself by name


@pytest.mark.parametrize(("kind", "unit"), [("oneshot", "epochs"), ("zero", "individuals")])
def test_export_of_a_trial_belongs_to_studies(kind, unit, request, capsys) -> None:
    directory = request.getfixturevalue(f"{kind}_dir")
    line = one_error_line(capsys, run_cli("export", directory, "--trial", "1"))
    assert f"it has {unit}, not trials; drop --trial" in line


ROWS = {"study": ("number", 8), "oneshot": ("epoch", 2), "zero": ("round", None)}


@pytest.mark.parametrize("form", ["csv", "json", "table"])
def test_trials_on_every_kind(run_dir, form, capsys) -> None:
    assert run_cli("trials", run_dir, "--format", form) == 0
    printed = capsys.readouterr().out
    first, rows = ROWS[run_dir.name]
    if form == "table":
        assert first in printed and f"{run_dir}:" in printed
        return
    frame = pandas.read_csv(io.StringIO(printed)) if form == "csv" else pandas.DataFrame(json.loads(printed))
    assert frame.columns[0] == first and (rows is None or len(frame) == rows)
    if run_dir.name == "study":
        assert {"status", "reward", "error", "started_at", "metric_f1", "decision_width"} <= set(
            frame.columns
        )
        assert sorted(frame["status"].unique()) == ["failed", "ok"]
    if run_dir.name == "zero":
        assert frame["individuals"].iloc[-1] == 200


def test_trials_prints_csv_by_default(study_dir, capsys) -> None:
    assert run_cli("trials", study_dir) == 0
    assert capsys.readouterr().out.startswith("number,status,reward,architecture,")


def test_trials_refuses_an_unknown_format(study_dir, capsys) -> None:
    line = one_error_line(capsys, run_cli("trials", study_dir, "--format", "xml"))
    assert "--format expects one of csv, json, table, got 'xml'" in line


def test_resume_raises_a_studys_trials(study_dir, tmp_path, capsys) -> None:
    directory = tmp_path / "study"
    shutil.copytree(study_dir, directory)
    assert run_cli("resume", directory, "--trials", "10", "--quiet") == 0
    assert run_cli("status", directory) == 0
    assert "10/10 trials started" in capsys.readouterr().out
    assert run_cli("resume", directory, "--budget", "11", "--quiet") == 0
    assert run_cli("status", directory) == 0
    assert "11/11 trials started" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["resume"], ["zero", "resume"]])
def test_resume_raises_a_zero_runs_individuals(command, zero_dir, tmp_path, capsys) -> None:
    directory = tmp_path / "zero"
    shutil.copytree(zero_dir, directory)
    assert run_cli(*command, directory, "--budget", "300", "--quiet") == 0
    capsys.readouterr()
    assert run_cli("status", directory) == 0
    assert "300/300 individuals" in capsys.readouterr().out


def test_resume_of_a_finished_one_shot_run_prints_its_summary(
    oneshot_dir, tmp_path, monkeypatch, capsys
) -> None:
    from archsearch.oneshot.base import METHODS
    from oneshot.test_run import GreedyCategorical

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    directory = tmp_path / "oneshot"
    shutil.copytree(oneshot_dir, directory)
    assert run_cli("resume", directory, "--quiet") == 0
    assert "derived cell" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kind", "flags", "message"),
    [
        ("zero", ["--trials", "5"], "counts individuals, not trials; use --budget"),
        ("oneshot", ["--budget", "5"], "it has epochs, not trials; drop --budget"),
        ("study", ["--max-time", "5"], "--max-time pauses an AutoML-Zero run"),
        ("study", ["--trials", "5"], "a budget of 5 trials is below the 8 trials already started"),
    ],
)
def test_resume_flags_that_do_not_fit_the_kind_are_one_line(kind, flags, message, request, capsys) -> None:
    directory = request.getfixturevalue(f"{kind}_dir")
    assert message in one_error_line(capsys, run_cli("resume", directory, *flags))


@pytest.mark.parametrize("command", ["status", "best", "report", "export", "trials", "resume"])
def test_a_directory_without_a_run_is_one_line(command, tmp_path, capsys) -> None:
    assert "no archsearch run in" in one_error_line(capsys, run_cli(command, tmp_path / "nowhere"))


def test_best_and_export_of_an_unfinished_one_shot_run_use_its_latest_epoch(
    oneshot_dir, tmp_path, capsys
) -> None:
    from runs.test_runs import copy_without_meta

    directory = copy_without_meta(oneshot_dir, tmp_path / "oneshot", "summary")
    assert run_cli("best", directory) == 0
    assert "derived after epoch 2 of 2 (the run is unfinished)" in capsys.readouterr().out
    assert run_cli("status", directory) == 0
    assert "after epoch 2:" in capsys.readouterr().out
    assert run_cli("export", directory, "--out", tmp_path / "export") == 0
    assert "exported the architecture of epoch 2 (the run is unfinished)" in capsys.readouterr().out
