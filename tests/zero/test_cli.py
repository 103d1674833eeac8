from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.zero.program import Instruction, MemoryConfig, Program

SMALL_FLAGS = ["--budget", "400", "--population", "40", "--seed", "2", "--quiet"]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["zero", "--task", "quadratic"], "unknown task 'quadratic'"),
        (["zero", "--population", "0"], "population_size"),
        (["zero", "--strategy", "annealing"], "strategy"),
        (["zero", "--dataset", "digits"], "apply to projected-binary tasks"),
        (["zero", "--engine", "gpu"], "engine"),
        (["zero", "--restart-every", "0"], "experiment_individuals"),
        (["zero", "--checkpoint-every", "-1"], "--checkpoint-every"),
        (["zero", "--checkpoint-every", "nan"], "--checkpoint-every"),
        (["zero", "report", "no/such/run"], "no AutoML-Zero run in no/such/run"),
        (["zero", "export", "no/such/run"], "no AutoML-Zero run in no/such/run"),
        (["zero", "resume", "no/such/run"], "no AutoML-Zero run in no/such/run"),
    ],
)
def test_bad_input_is_one_red_line_and_exit_code_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code = run_cli(*args)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "runs").exists()  # nothing was written


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_module_is_standalone_and_reproduces_the_fitness(tmp_path):
    from archsearch.zero.export import export_source
    from archsearch.zero.interpreter import evaluate_each
    from archsearch.zero.tasks import make_tasks

    memory = MemoryConfig(5, 4, 2, 4)
    program = Program(  # SGD plus matrix, statistics and random ops, so that most templates run
        setup=(
            Instruction(56, out=2, data=(0.15, 0.0)),
            Instruction(64, out=1, data=(0.0, 0.1)),
            Instruction(60, out=3, data=(-0.5, 0.5)),
            Instruction(58, 1, 2, 0, data=(0.7, 0.0)),
        ),
        predict=(Instruction(27, 0, 1, 1), Instruction(31, 1, 3, 2), Instruction(54, 2, 0, 4)),
        learn=(
            Instruction(2, 0, 1, 3),
            Instruction(3, 2, 3, 3),
            Instruction(18, 3, 0, 2),
            Instruction(23, 1, 2, 1),
            Instruction(28, 0, 2, 0),
            Instruction(37, 0, 0, 1),
            Instruction(53, 1, 0, 3),
        ),
    )
    tasks = make_tasks("linear", 3, 4, 30, 20, seed=4)
    path = tmp_path / "exported_algorithm.py"
    path.write_text(export_source(program, memory, "test export", module=path.stem))
    code_lines = path.read_text().splitlines()
    assert not [line for line in code_lines if line.startswith(("import archsearch", "from archsearch"))]
    module = _load(path)
    expected = evaluate_each(program, tasks, memory, rng_seed=5)
    got = [
        module.fitness(t.x_train, t.y_train, t.x_valid, t.y_valid, seed=module.task_seed(5, i))
        for i, t in enumerate(tasks)
    ]
    assert got == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
    assert expected.max() > 0.9  # the SGD part really learns


@pytest.mark.slow
def test_run_report_export_round_trip(tmp_path, capsys):
    from archsearch.zero.run import Experiment, task_split

    run = tmp_path / "run"
    assert run_cli("zero", *SMALL_FLAGS, "--baseline", "--out", str(run)) == 0
    printed = capsys.readouterr().out
    assert "final fitness" in printed and "def predict()" in printed
    assert run_cli("zero", "status", str(run)) == 0
    assert run_cli("zero", "report", str(run)) == 0
    for name in ("progress.png", "report.md", "index.html"):
        assert (run / "report" / name).stat().st_size > 0
    assert "random" in (run / "report" / "report.md").read_text()  # the baseline is in the report
    assert run_cli("zero", "export", str(run), "--out", str(tmp_path / "best_algorithm.py")) == 0
    module = _load(tmp_path / "best_algorithm.py")
    experiment = Experiment.load(run)
    final = experiment.final()
    split = task_split(experiment.config)
    experiment.close()
    assert final is not None
    fitness = [
        module.fitness(t.x_train, t.y_train, t.x_valid, t.y_valid, seed=module.task_seed(2, i))
        for i, t in enumerate(split.final)
    ]
    assert fitness == pytest.approx(final.final_per_task, rel=1e-9, abs=1e-12)


def test_restarts_on_the_command_line_show_in_status(tmp_path, capsys):
    run = tmp_path / "run"
    flags = ["--budget", "600", "--population", "40", "--seed", "2", "--quiet", "--restart-every", "200"]
    assert run_cli("zero", *flags, "--engine", "python", "--out", str(run)) == 0
    capsys.readouterr()
    assert run_cli("zero", "status", str(run)) == 0
    printed = capsys.readouterr().out
    assert "experiment 0: ended at 200 individuals" in printed
    assert "experiment 1: ended at 400 individuals" in printed and "experiment 2:" not in printed


def test_the_checkpoint_interval_is_a_flag_kept_with_the_run(tmp_path, capsys):
    from archsearch.zero.run import Experiment

    run = tmp_path / "run"
    assert run_cli("zero", *SMALL_FLAGS, "--checkpoint-every", "0.5", "--out", str(run)) == 0
    experiment = Experiment.load(run, read_only=True)
    try:
        assert experiment.config.checkpoint_every_s == 0.5
    finally:
        experiment.close()
