from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from archsearch.errors import ConfigError, StoreError
from archsearch.zero.run import (
    TASK_DEFAULTS,
    Experiment,
    fitness_from_rmse,
    make_config,
    program_space,
    rmse_from_fitness,
    select_fitness,
)

SMALL = {
    "budget": 800,
    "population_size": 50,
    "round_size": 200,
    "checkpoint_every_s": 0.0,
    "search_tasks": 3,
    "select_tasks": 3,
    "final_tasks": 3,
    "n_train": 20,
    "n_valid": 20,
    "target_rmse": None,
    "sufficient_fitness": None,
}


def trajectory(experiment: Experiment) -> tuple:
    progress = [
        (s.round, s.individuals, s.best_fitness, s.fec_hit_rate, s.full_evaluations)
        for s in experiment.progress()
    ]
    final = experiment.final()
    return progress, experiment.best_history(), None if final is None else final.to_json()


def test_task_defaults_are_the_papers_and_flags_override_them():
    linear = make_config("linear")
    assert (linear.population_size, linear.tournament_size, linear.mutate_prob) == (1000, 10, 0.9)
    assert (linear.memory.scalars, linear.memory.vectors, linear.memory.matrices, linear.memory.dim) == (
        4,
        3,
        1,
        4,
    )
    assert linear.initial == "random" and linear.combine == "mean"
    assert make_config("nonlinear").mutate_prob == 1.0
    assert make_config("projected-binary").population_size == 100
    assert make_config("linear", population_size=None, seed=7).seed == 7  # unset flags keep defaults
    for task in TASK_DEFAULTS:
        program_space(make_config(task))  # every default names valid ops and size bounds


def test_bad_config_is_one_line_config_error():
    with pytest.raises(ConfigError, match="unknown task 'quadratic'"):
        make_config("quadratic")
    with pytest.raises(ConfigError, match="tournament_size"):
        make_config("linear", tournament_size=0)
    with pytest.raises(ConfigError, match="unknown mutation type 'swap'"):
        make_config("linear", mutations=["swap"])
    with pytest.raises(ConfigError, match="setup size bounds"):
        program_space(make_config("linear", max_sizes={"setup": 1, "predict": 2, "learn": 8}))


def test_rmse_and_fitness_invert_each_other():
    for rmse in (0.0, 1e-3, 0.5, 7.0):
        assert rmse_from_fitness(fitness_from_rmse(rmse)) == pytest.approx(rmse, abs=1e-12)
    assert np.isinf(rmse_from_fitness(0.0)) or rmse_from_fitness(0.0) > 1e15


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_paused_and_resumed_run_equals_uninterrupted(tmp_path, engine):
    config = make_config("linear", engine=engine, **SMALL)
    whole = Experiment.create(config, tmp_path / "whole")
    whole.run()
    paused = Experiment.create(config, tmp_path / "paused")
    assert paused.run(max_time_s=0.0) is None  # pauses before the first round
    paused.close()
    resumed = Experiment.load(tmp_path / "paused")
    resumed.run()
    assert trajectory(resumed) == trajectory(whole)
    assert resumed.individuals() == 800 and whole.final() is not None
    whole.close()
    resumed.close()


def test_existing_run_is_kept_unless_overwritten_and_budget_only_rises(tmp_path):
    config = make_config("linear", **SMALL)
    Experiment.create(config, tmp_path).close()
    with pytest.raises(ConfigError, match="already holds a run"):
        Experiment.create(config, tmp_path)
    with pytest.raises(StoreError, match="no AutoML-Zero run"):
        Experiment.load(tmp_path / "nothing")
    experiment = Experiment.create(config, tmp_path, overwrite=True)
    experiment.set_budget(2000)
    assert Experiment.load(tmp_path).config.budget == 2000
    experiment.close()


_CHILD = """
import sys
from archsearch.zero.run import Experiment, make_config
config = make_config("linear", **{small!r})
Experiment.create(config, sys.argv[1]).run()
"""


@pytest.mark.slow
def test_resume_after_kill_9_equals_uninterrupted(tmp_path):
    small = {**SMALL, "budget": 1600, "engine": "python"}  # slow enough to be killed mid-run
    directory = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(small=small), str(directory)],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if _rounds(directory) >= 2:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the run ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert 2 <= _rounds(directory) < 8
    resumed = Experiment.load(directory)
    resumed.run()
    whole = Experiment.create(make_config("linear", **small), tmp_path / "whole")
    whole.run()
    assert trajectory(resumed) == trajectory(whole)
    resumed.close()
    whole.close()


def _rounds(directory: Path) -> int:
    try:
        with sqlite3.connect(directory / "study.db", timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM zero_checkpoint").fetchone()[0]) and int(
                conn.execute("SELECT MAX(round) FROM zero_progress").fetchone()[0] or 0
            )
    except sqlite3.Error:
        return 0


RESTARTS = {**SMALL, "budget": 1200, "experiment_individuals": 400}


class _Crash(Exception):
    pass


def _crash_at(round_index: int):
    def listener(snapshot):
        if snapshot.round == round_index:
            raise _Crash  # after the round's transaction, as a kill -9 right after it

    return listener


def test_restarts_draw_new_search_tasks_and_keep_each_experiments_winner(tmp_path):
    from archsearch.zero.run import task_split

    config = make_config("linear", **RESTARTS)
    first, second = task_split(config, 0), task_split(config, 1)
    assert not np.array_equal(first.search[0].x_train, second.search[0].x_train)
    assert np.array_equal(first.select[0].x_train, second.select[0].x_train)
    assert np.array_equal(first.final[0].x_valid, second.final[0].x_valid)
    experiment = Experiment.create(config, tmp_path)
    result = experiment.run()
    finished = experiment.experiments()
    assert [(e.experiment, e.individuals) for e in finished] == [(0, 400), (1, 800)]
    assert [s.individuals for s in experiment.progress()] == [200, 400, 600, 800, 1000, 1200]
    for e in finished:  # each winner's select fitness is its fitness on the select tasks
        assert e.select_fitness == pytest.approx(select_fitness(config, e.program))
    assert result is not None and result.select_fitness >= max(e.select_fitness for e in finished)
    experiment.close()


@pytest.mark.parametrize(
    ("crash_round", "checkpoint_every_s", "engine"),
    [
        (1, 0.0, "compiled"),
        (2, 0.0, "compiled"),
        (3, 0.0, "compiled"),
        (3, 1e9, "compiled"),
        (5, 1e9, "python"),
    ],
)
def test_run_with_restarts_resumed_after_a_crash_equals_uninterrupted(
    tmp_path, crash_round, checkpoint_every_s, engine
):
    config = make_config("linear", engine=engine, **{**RESTARTS, "checkpoint_every_s": checkpoint_every_s})
    whole = Experiment.create(config, tmp_path / "whole")
    whole.run()
    crashed = Experiment.create(config, tmp_path / "crashed")
    with pytest.raises(_Crash):
        crashed.run([_crash_at(crash_round)])
    crashed.close()
    resumed = Experiment.load(tmp_path / "crashed")
    resumed.run()
    assert trajectory(resumed) == trajectory(whole)
    assert resumed.experiments() == whole.experiments() and len(whole.experiments()) == 2
    whole.close()
    resumed.close()


# Runs written before issue 16 (the zero tables without a recorded version; the Python engine on
# random.Random): config as FIXTURE, paused after 100 of 200 individuals (tests/zero/data, gzipped).
FIXTURE = {
    "budget": 200,
    "population_size": 20,
    "round_size": 50,
    "checkpoint_every_s": 0.0,
    "search_tasks": 2,
    "select_tasks": 2,
    "final_tasks": 2,
    "n_train": 10,
    "n_valid": 10,
    "target_rmse": None,
    "sufficient_fitness": None,
    "fec_capacity": 50,
    "seed": 3,
}


def _old_run(tmp_path: Path, engine: str) -> Path:
    import gzip

    directory = tmp_path / f"old_{engine}"
    directory.mkdir()
    packed = Path(__file__).parent / "data" / f"zero_{engine}_before_issue16.db.gz"
    (directory / "study.db").write_bytes(gzip.decompress(packed.read_bytes()))
    return directory


def test_a_compiled_run_written_before_the_split_resumes_to_the_uninterrupted_trajectory(tmp_path):
    old = Experiment.load(_old_run(tmp_path, "compiled"))
    assert old.store.kind == "zero" and old.individuals() == 100 and old.config.budget == 200
    old.run()
    whole = Experiment.create(make_config("linear", engine="compiled", **FIXTURE), tmp_path / "whole")
    whole.run()
    assert trajectory(old) == trajectory(whole)
    assert old.individuals() == 200 and old.store.kind == whole.store.kind == "zero"
    assert old.store.table_versions()["zero"] == whole.store.table_versions()["zero"] == 1
    old.close()
    whole.close()


def test_a_python_engine_run_written_before_the_one_stream_reads_and_refuses_to_resume(tmp_path):
    directory = _old_run(tmp_path, "python")
    old = Experiment.load(directory, read_only=True)
    assert old.individuals() == 100 and old.best() is not None and old.final() is not None
    old.close()
    old = Experiment.load(directory)
    with pytest.raises(
        ConfigError, match="earlier archsearch, whose random stream differs; start the run again"
    ):
        old.run()
    old.close()


def test_a_finished_run_written_before_the_one_stream_resumes_to_its_result(tmp_path):
    """Resuming a finished run (its budget spent) gives its result without reading its checkpoint, so an
    old Python-engine run, whose checkpoint cannot continue, still resumes as it did."""
    directory = _old_run(tmp_path, "python")
    old = Experiment.load(directory, read_only=True)
    final, done = old.final(), old.individuals()
    old.close()
    old = Experiment.load(directory)
    old.config = old.config.model_copy(update={"budget": done})  # as if its budget were spent
    assert old.run() == final
    old.close()
