"""What ``archsearch status|best|trials DIR`` say of a study whose pruner stopped trials: pruned trials
counted and marked where they stopped, running trials' live curves from the reports table, the rungs as
the store tells them, and a best trial that is never a pruned one unless ``--include-pruned``.

The study is written straight through its store (``pruned_study``): no pruner runs here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas
import pytest

from archsearch.cli import main
from archsearch.frames import Stop, reached, stops, trials_frame
from archsearch.objectives import parse_objectives
from archsearch.runs import open_run
from pruned_study import REASON, make_pruned_study

TESTS = Path(__file__).resolve().parents[1]


def run_cli(*args: str | Path) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in args])
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def pruned_dir(tmp_path_factory) -> Path:
    return make_pruned_study(tmp_path_factory.mktemp("pruned") / "study")


def rows_of(printed: str) -> dict[str, list[str]]:
    """The rows of the curves table by trial number: its cells (trial, status, reached, curve)."""
    rows = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[cells[0]] = cells
    return rows


def test_status_counts_pruned_trials_and_marks_where_each_stopped(pruned_dir, capsys) -> None:
    assert run_cli("status", pruned_dir) == 0
    printed = capsys.readouterr().out
    assert f"{pruned_dir}: 6/8 trials started; 1 failed, 2 ok, 2 pruned, 1 running" in printed
    # the rungs as the store tells them: every trial reached 1 epoch (the running one too), 4 reached 2
    # (two trained to the end, trial 2 stopped there, trial 5 running), 2 reached the end
    assert (
        "stopped early (resource: trials that reached it, pruned there): "
        "1: 6 reached, 1 pruned | 2: 4 reached, 1 pruned | 4: 2 reached"
    ) in printed
    rows = rows_of(printed)
    assert rows["0"] == ["0", "ok", "4", "0.3 0.45 0.55 0.6"]
    assert rows["1"] == ["1", "pruned", "stopped at 1", "0.1 x"]
    assert rows["2"] == ["2", "pruned", "stopped at 2", "0.9 0.95 x"]
    assert rows["5"] == ["5", "running", "2 so far", "0.35 0.5"]  # its live curve, from the reports
    assert "curves of f1" in printed
    best = printed.split("best of 6 trials")[1]
    assert "act=gelu,width=64,dropout=0.0,cell=block11" in best and "pruned" not in best  # trial 4


def test_a_running_trial_shows_each_report_as_it_arrives(tmp_path, capsys) -> None:
    from archsearch.reporting import Report
    from archsearch.store.trials import StudyStore

    directory = make_pruned_study(tmp_path / "study")
    with StudyStore(directory, read_only=False) as store:
        store.add_reports([Report(5, 3, 3.0, {"f1": 0.625, "loss": 0.3}, time=200.0)])
        arch = store.trials()[0].arch
        store.add_trial(6, arch, "just started", seed=6, ask_event=11)  # nothing reported yet
    assert run_cli("status", directory) == 0
    rows = rows_of(capsys.readouterr().out)
    assert rows["5"] == ["5", "running", "3 so far", "0.35 0.5 0.625"]
    assert rows["6"] == ["6", "running", "-", "-"]


def test_best_never_picks_a_pruned_trial_unless_asked(pruned_dir, capsys) -> None:
    # trial 2 was stopped at 2 epochs with f1 0.95, above every trial trained to the end
    assert run_cli("best", pruned_dir, "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["number"], found["reward"], found["status"]) == (4, 0.8, "ok")
    assert run_cli("best", pruned_dir, "--json", "--include-pruned") == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["number"], found["reward"], found["status"]) == (2, 0.95, "pruned")
    assert found["metrics"]["resource"] == 2.0
    assert run_cli("best", pruned_dir, "--include-pruned") == 0
    text = capsys.readouterr().out
    assert "pruned at 2: stopped early, its metrics are what it reached" in text
    assert "act=relu,width=32,dropout=0.0,cell=block2" in text
    # a pick off the front by a metric as well: rmse lowest is trial 2's (0.05) only when asked
    assert run_cli("best", pruned_dir, "--json", "--objective", "rmse:min") == 0
    assert json.loads(capsys.readouterr().out)["number"] == 4
    assert run_cli("best", pruned_dir, "--json", "--objective", "rmse:min", "--include-pruned") == 0
    assert json.loads(capsys.readouterr().out)["number"] == 2
    with open_run(pruned_dir, read_only=True) as run:
        assert run.best().number == 4  # type: ignore[union-attr]
        assert run.best(include_pruned=True).number == 2  # type: ignore[attr-defined]
        picked = run.pick(parse_objectives(["params:max"])[0], include_pruned=True)  # type: ignore[attr-defined]
        assert picked.number == 4 and picked.status == "ok"


def test_a_study_whose_every_finished_trial_was_pruned_has_no_best_but_says_how_to_see_them(
    tmp_path, capsys
) -> None:
    directory = make_pruned_study(tmp_path / "study", {0: "pruned", 4: "pruned"})
    assert run_cli("best", directory) == 0
    hint = f"4 pruned: archsearch best {directory} --include-pruned"
    assert capsys.readouterr().out.strip() == f"no successful trial yet ({hint})"
    assert run_cli("best", directory, "--json") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"has no successful trial yet ({hint})" in err
    assert run_cli("best", directory, "--include-pruned", "--json") == 0
    assert json.loads(capsys.readouterr().out)["number"] == 2
    assert run_cli("status", directory) == 0
    assert f"no successful trial yet ({hint})" in capsys.readouterr().out


def test_include_pruned_belongs_to_studies(tmp_path, capsys) -> None:
    from archsearch.runs.base import Best
    from archsearch.runs.zero import ZeroRun

    # the flag is refused for the other kinds with the other study-only flags (checked before any
    # reading of the run: a zero run stand-in is enough)
    class Fake(ZeroRun):
        def __init__(self) -> None:
            self.kind, self.directory = "zero", tmp_path

        def best(self) -> Best | None:
            return None

        def close(self) -> None:
            pass

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("archsearch.runs.open_run", lambda *a, **k: Fake())
        assert run_cli("best", tmp_path, "--include-pruned") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--include-pruned pick among the trials of a study; drop them" in err


def test_trials_show_status_pruned_and_the_resource_each_reached(pruned_dir, capsys) -> None:
    assert run_cli("trials", pruned_dir, "--format", "json") == 0
    rows = {row["number"]: row for row in json.loads(capsys.readouterr().out)}
    assert [rows[n]["status"] for n in range(6)] == ["ok", "pruned", "pruned", "failed", "ok", "running"]
    assert [rows[n]["resource"] for n in range(6)] == [4.0, 1.0, 2.0, 1.0, 4.0, 2.0]
    assert rows[2]["error"] == REASON.format(r=2)
    with open_run(pruned_dir, read_only=True) as run:
        frame = run.trials_dataframe()
    trained = frame[frame.status != "pruned"]
    assert list(trained["number"]) == [0, 3, 4, 5]
    assert frame["resource"].dtype == "float64"
    # without the reports, a trial's resource comes from its result: a pruned one's recorded resource,
    # else its curve's length; a running trial has none yet
    with open_run(pruned_dir, read_only=True) as run:
        plain = trials_frame(run.trials())  # type: ignore[attr-defined]
    assert [plain.loc[n, "resource"] for n in (0, 1, 2, 4)] == [4.0, 1.0, 2.0, 4.0]
    assert pandas.isna(plain.loc[3, "resource"]) and pandas.isna(plain.loc[5, "resource"])


def test_stops_are_the_resources_where_trials_were_pruned(pruned_dir) -> None:
    with open_run(pruned_dir, read_only=True) as run:
        trials, reports = run.trials(), run.reports()  # type: ignore[attr-defined]
    assert stops(trials, reports) == [Stop(1.0, 6, 1), Stop(2.0, 4, 1), Stop(4.0, 2, 0)]
    assert stops([t for t in trials if t.status != "pruned"], reports) == []
    running = next(t for t in trials if t.status == "running")
    assert reached(running) is None
    assert reached(running, [r for r in reports if r.number == running.number]) == 2.0


def test_status_of_a_pruned_study_imports_no_pandas(pruned_dir) -> None:
    code = (
        "import sys\n"
        "from archsearch.cli import main\n"
        "try:\n"
        f"    main(['status', {str(pruned_dir)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('HEAVY', sorted(m for m in ('pandas', 'matplotlib', 'torch') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "stopped at 2" in done.stdout and done.stdout.strip().endswith("HEAVY []")


def test_export_writes_the_best_trial_trained_to_the_end(pruned_dir, tmp_path, capsys) -> None:
    assert run_cli("export", pruned_dir, "--out", tmp_path / "export") == 0
    assert "exported trial 4 (act=gelu,width=64,dropout=0.0,cell=block11)" in capsys.readouterr().out
