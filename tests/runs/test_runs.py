"""archsearch.runs: one Run protocol over a study of trials, a one-shot run and an AutoML-Zero run, picked by
open_run from the kind stored in the run's database; their trials, epochs and progress as data frames."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas
import pytest

from archsearch.core import Architecture, Decision, TrialRecord
from archsearch.errors import ConfigError, StoreError
from archsearch.frames import TRIAL_COLUMNS, decision_values, trials_frame
from archsearch.runs import Run, open_run
from archsearch.spaces.dict_space import DictSpace
from archsearch.study import Study, best_trial
from user_study import FAILURE

TESTS = Path(__file__).parents[1]


def test_open_run_gives_the_run_of_the_stored_kind(run_dir) -> None:
    with open_run(run_dir, read_only=True) as run:
        assert isinstance(run, Run)
        assert run.kind == run_dir.name and run.directory == run_dir


def test_status_counts_the_kinds_own_unit(study_dir, oneshot_dir, zero_dir) -> None:
    with open_run(study_dir, read_only=True) as run:
        state = run.status()
    assert (state.unit, state.done, state.total, state.finished) == ("trials", 8, 8, True)
    assert state.counts == {"ok": 7, "failed": 1}
    with open_run(oneshot_dir, read_only=True) as run:
        state = run.status()
    assert (state.unit, state.done, state.total, state.finished) == ("epochs", 2, 2, True)
    with open_run(zero_dir, read_only=True) as run:
        state = run.status()
    assert (state.unit, state.done, state.total, state.finished) == ("individuals", 200, 200, True)


def test_best_is_the_best_trial_the_derived_cell_and_the_selected_program(
    study_dir, oneshot_dir, zero_dir
) -> None:
    study = Study.load(study_dir, read_only=True)
    expected = best_trial(study.store.trials())
    study.close()
    assert expected is not None
    with open_run(study_dir, read_only=True) as run:
        best = run.best()
    assert best is not None and best.number == expected.number and best.score == expected.reward
    assert best.to_json()["values"] == expected.arch.to_dict()["values"]

    with open_run(oneshot_dir, read_only=True) as run:
        best = run.best()
        summary = run.summary()  # type: ignore[attr-defined]
    assert best is not None and summary is not None
    assert best.label == summary["arch_str"] and best.score == summary["estimate_valid_acc"]

    from archsearch.zero.experiment import Experiment

    experiment = Experiment.load(zero_dir, read_only=True)
    final = experiment.final()
    experiment.close()
    with open_run(zero_dir, read_only=True) as run:
        best = run.best()
    assert final is not None and best is not None
    assert best.label == final.program.pretty() and best.score == final.final_fitness
    assert json.loads(json.dumps(best.to_json()))["program"] == final.program.pretty()


def test_reading_a_study_imports_no_torch_and_builds_no_study(study_dir) -> None:
    code = (
        "import sys\n"
        "from archsearch.runs import open_run\n"
        f"with open_run({str(study_dir)!r}, read_only=True) as run:\n"
        "    run.status(); run.best(); run.leading_metrics(); frame = run.trials_dataframe()\n"
        "    assert run._study is None\n"
        "print(len(frame), sorted(m for m in ('torch', 'numba', 'ray') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["8", "[]"]


def test_trials_dataframe_has_a_row_per_trial_with_metrics_decisions_status_and_times(study_dir) -> None:
    with open_run(study_dir, read_only=True) as run:
        frame = run.trials_dataframe()
        trials = run.trials()  # type: ignore[attr-defined]
    assert list(frame["number"]) == [t.number for t in trials]
    assert list(frame.columns[: len(TRIAL_COLUMNS)]) == list(TRIAL_COLUMNS)
    assert {"metric_f1", "metric_rmse", "metric_params"} <= set(frame.columns)
    assert {"decision_act", "decision_width", "decision_dropout", "decision_cell"} <= set(frame.columns)
    failed = frame[frame["status"] == "failed"]
    assert (
        len(failed) == 1 and FAILURE in failed["error"].iloc[0] and pandas.isna(failed["metric_f1"].iloc[0])
    )
    ok = frame[frame["status"] == "ok"]
    assert ok["error"].isna().all() and (ok["reward"] == ok["metric_f1"]).all()
    assert str(frame["started_at"].dtype) == "datetime64[ns, UTC]"
    assert (frame["finished_at"] >= frame["started_at"]).all() and (frame["duration_s"] >= 0).all()
    first = trials[0]
    assert frame.loc[0, "decision_width"] == first.arch.values[1] and frame.loc[0, "seed"] == first.seed


def test_study_trials_dataframe_delegates_to_trials_frame(study_dir) -> None:
    study = Study.load(study_dir, read_only=True)
    try:
        if not hasattr(study, "trials_dataframe"):
            pytest.skip("Study.trials_dataframe not there yet")
        frame = study.trials_dataframe()
        expected = trials_frame(study.store.trials(), study.space)
    finally:
        study.close()
    pandas.testing.assert_frame_equal(frame, expected)


def test_a_one_shot_runs_rows_are_its_epochs_and_a_zero_runs_its_progress_rounds(
    oneshot_dir, zero_dir
) -> None:
    with open_run(oneshot_dir, read_only=True) as run:
        frame = run.trials_dataframe()
        epochs = run.epochs()  # type: ignore[attr-defined]
    assert list(frame["epoch"]) == [0, 1] and list(frame["architecture"]) == [e.arch_str for e in epochs]
    assert {"metric_train_loss", "metric_valid_acc", "decision_edge_1_0"} <= set(frame.columns)
    with open_run(zero_dir, read_only=True) as run:
        frame = run.trials_dataframe()
        progress = run.experiment.progress()  # type: ignore[attr-defined]
    assert len(frame) == len(progress) >= 1 and frame["individuals"].iloc[-1] == 200
    assert list(frame.columns[:3]) == ["round", "individuals", "elapsed_s"]


def test_trials_frame_of_running_trials_and_links_decisions() -> None:
    now = time.time()
    arch = Architecture("space", ("relu", [0, 1]))
    running = TrialRecord(
        number=0, arch=arch, arch_str="a", seed=1, status="running", ask_event=0, started_at=now
    )
    done = TrialRecord(
        number=1, arch=arch, arch_str="a", seed=2, status="ok", ask_event=1, started_at=now, reward=0.5,
        metrics={"val_acc": 0.5}, finished_at=now + 2.0, info={"baseline": 0.1},
    )  # fmt: skip
    frame = trials_frame([running, done])
    assert list(frame["status"]) == ["running", "ok"]
    assert pandas.isna(frame.loc[0, "reward"]) and pandas.isna(frame.loc[0, "finished_at"])
    assert frame.loc[1, "duration_s"] == pytest.approx(2.0) and frame.loc[1, "info_baseline"] == 0.1
    assert frame.loc[0, "decision_0"] == "relu" and frame.loc[1, "decision_1"] == [0, 1]  # by position
    assert trials_frame([]).columns.tolist() == list(TRIAL_COLUMNS)


def test_decision_columns_are_named_by_the_space_or_by_position() -> None:
    space = DictSpace({"depth": [1, 2], "act": ["relu", "gelu"]})
    arch = Architecture(space.name, (2, "gelu"))
    assert decision_values(arch, space) == {"decision_depth": 2, "decision_act": "gelu"}
    other = Architecture("other", (1, 2, 3))  # not one of the space's: positions
    assert decision_values(other, space) == {"decision_0": 1, "decision_1": 2, "decision_2": 3}
    twice = DictSpace({"a": [1]})
    twice.decisions = lambda prefix: Decision("a", "a", (1,)) if len(prefix) < 2 else None  # type: ignore[method-assign]
    assert decision_values(Architecture(twice.name, (1, 1)), twice) == {"decision_a": 1, "decision_a_": 1}


def test_set_budget_raises_a_studys_trials_and_the_run_continues_to_them(study_dir, tmp_path) -> None:
    directory = tmp_path / "study"
    shutil.copytree(study_dir, directory)
    with open_run(directory, lock=True) as run:
        with pytest.raises(ConfigError, match="below the 8 trials already started"):
            run.set_budget(5)
        run.set_budget(11)
        run.run()
        assert run.status().done == 11 and run.status().total == 11
    with open_run(directory, read_only=True) as run:
        assert run.status().done == 11


def test_set_budget_of_a_zero_run_and_the_one_shot_refusal(zero_dir, oneshot_dir, tmp_path) -> None:
    directory = tmp_path / "zero"
    shutil.copytree(zero_dir, directory)
    with open_run(directory, lock=True) as run:
        run.set_budget(300)
        assert run.status().total == 300
    with open_run(oneshot_dir, read_only=True) as run, pytest.raises(ConfigError, match="cannot be raised"):
        run.set_budget(5)


def test_export_writes_each_kinds_best(run_dir, tmp_path) -> None:
    with open_run(run_dir, read_only=True) as run:
        done = run.export(tmp_path / "out")
    if run_dir.name == "zero":
        assert done.target == tmp_path / "out" and "class Algorithm" in done.target.read_text()
        (tmp_path / "folder").mkdir()
        with open_run(run_dir) as run:  # an existing folder, as the other kinds take: algorithm.py inside
            assert run.export(tmp_path / "folder").target == tmp_path / "folder" / "algorithm.py"
        return
    assert done.target == tmp_path / "out" and "architecture.json" in done.files
    for name in done.files:
        assert (done.target / name.split(" ")[0]).is_file()


def test_report_writes_an_html_page_for_each_kind(run_dir, tmp_path) -> None:
    with open_run(run_dir, read_only=True) as run:
        index = run.report(tmp_path / "report")
    assert index.name == "index.html" and index.stat().st_size > 0


def test_a_run_closes_its_database_when_its_block_ends(study_dir) -> None:
    with open_run(study_dir, read_only=True) as run:
        store = run.store  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="closed"):
        store.trials()


def test_a_directory_without_a_run_is_one_line(tmp_path) -> None:
    with pytest.raises(StoreError, match="no archsearch run in"):
        open_run(tmp_path / "nowhere")
    with pytest.raises(StoreError, match="no AutoML-Zero run in"):
        open_run(tmp_path / "nowhere", kind="zero")


def test_a_zero_or_one_shot_run_opened_as_another_kind_says_what_it_is(study_dir, oneshot_dir) -> None:
    with pytest.raises(StoreError, match="holds a study of trials, not an AutoML-Zero run"):
        open_run(study_dir, kind="zero")
    with pytest.raises(StoreError, match="holds a study of trials, not a one-shot run"):
        open_run(study_dir, kind="oneshot")
    with pytest.raises(StoreError, match="holds a one-shot run, not an AutoML-Zero run"):
        open_run(oneshot_dir, kind="zero")


def test_a_zero_resume_of_another_kind_is_refused_before_its_database_is_written(study_dir, tmp_path) -> None:
    from archsearch.zero.experiment import Experiment

    directory = tmp_path / "study"
    shutil.copytree(study_dir, directory)
    before = (directory / "study.db").read_bytes()
    with pytest.raises(StoreError, match="holds a study of trials, not an AutoML-Zero run"):
        Experiment.load(directory, lock=True)
    assert (directory / "study.db").read_bytes() == before


def copy_without_meta(source: Path, directory: Path, key: str) -> Path:
    """A copy of the run in ``source`` without its meta ``key`` (a run stopped before it was recorded)."""
    from archsearch.store.sqlite import Store

    shutil.copytree(source, directory)
    store = Store(directory)
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    store.close()
    return directory


def test_an_unfinished_runs_best_is_its_latest_cell_or_fittest_program(
    oneshot_dir, zero_dir, tmp_path
) -> None:
    directory = copy_without_meta(oneshot_dir, tmp_path / "oneshot", "summary")
    with open_run(directory, read_only=True) as run:
        best, state = run.best(), run.status()
        latest = run.epochs()[-1]  # type: ignore[attr-defined]
    assert best is not None and not best.finished and not state.finished
    assert best.label == latest.arch_str and best.number == 2 and best.metrics == latest.metrics
    directory = copy_without_meta(zero_dir, tmp_path / "zero", "zero_final")
    with open_run(directory, read_only=True) as run:
        best, state = run.best(), run.status()
        fittest = run.experiment.best()  # type: ignore[attr-defined]
    assert best is not None and not best.finished and not state.finished and fittest is not None
    assert (best.number, best.score, best.label) == (fittest[0], fittest[1], fittest[2].pretty())


def test_create_run_starts_a_study_with_the_users_space_object_and_it_runs_like_a_loaded_one(
    tmp_path,
) -> None:
    from archsearch.runs import create_run
    from user_study import UserSpace, user_config

    with create_run(user_config(n_trials=5), tmp_path / "s", space=UserSpace()) as run:
        assert run.kind == "study" and run.status().done == 0
        run.run()
        status, best = run.status(), run.best()
    assert (status.done, status.total, status.finished) == (5, 5, True)
    with open_run(tmp_path / "s", read_only=True) as reopened:
        assert reopened.best() == best  # the same best trial read back from the database


def test_create_run_refuses_what_is_not_a_run_config(tmp_path) -> None:
    from archsearch.runs import create_run
    from archsearch.zero.config import make_config

    with pytest.raises(ConfigError, match="StudyConfig, OneShotConfig or ZeroConfig, got dict"):
        create_run({"n_trials": 3}, tmp_path / "x")
    with pytest.raises(ConfigError, match="takes no objects; drop space"):
        create_run(make_config("linear", budget=100), tmp_path / "z", space=object())
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


def test_open_run_reads_without_writing_a_byte_unless_told_to_write(study_dir, zero_dir, tmp_path) -> None:
    for source in (study_dir, zero_dir):
        directory = tmp_path / source.name
        shutil.copytree(source, directory)
        before = (directory / "study.db").read_bytes()
        with open_run(directory) as run:
            run.status(), run.best(), run.trials_dataframe()
            with pytest.raises(StoreError):  # read-only: raising the budget needs lock=True
                run.set_budget(10_000)
        assert (directory / "study.db").read_bytes() == before


def test_each_kind_of_run_keeps_only_its_own_tables(study_dir, oneshot_dir, zero_dir) -> None:
    import sqlite3

    def tables(directory: Path) -> set[str]:
        conn = sqlite3.connect(f"file:{directory / 'study.db'}?mode=ro", uri=True)
        try:
            return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()

    study, oneshot, zero = tables(study_dir), tables(oneshot_dir), tables(zero_dir)
    assert {"trials", "weights", "checkpoints"} <= study and "epochs" not in study
    assert {"epochs", "checkpoints"} <= oneshot and not {"trials", "weights"} & oneshot
    assert "zero_progress" in zero and not {"trials", "weights", "epochs", "checkpoints"} & zero
