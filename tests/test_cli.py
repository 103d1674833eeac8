from __future__ import annotations

import json

import pytest

from archsearch.cli import main


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


TOY = [
    "--space",
    "toy",
    "--set",
    "evaluator.name=toy",
    "--set",
    "evaluator.params={}",
    "--executor",
    "inline",
]


def test_search_then_status_best_and_resume(tmp_path, toy_registry, capsys):
    out = str(tmp_path / "s")
    assert run_cli("search", "--out", out, "--trials", "6", "--quiet", *TOY) == 0
    assert run_cli("status", out) == 0
    assert "6/6 trials started" in capsys.readouterr().out
    assert run_cli("best", out, "--json") == 0
    best = json.loads(capsys.readouterr().out)
    assert best["reward"] > 0 and "architecture" in best
    assert run_cli("resume", out, "--trials", "9", "--quiet") == 0
    assert run_cli("status", out) == 0
    assert "9/9 trials started" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--bogus"], "No such option: --bogus"),
        (["search", "--strategy", "nope"], "unknown strategy 'nope'"),
        (["search", "--trials", "0"], "n_trials"),
        (["search", "--trials", "many"], "--trials"),
        (["search", "--set", "strategy.params.lrr=3"], "unknown option 'lrr'"),
        (["search", "--set", "novalue"], "key=value"),
        (["search", "--config", "missing.yaml"], "does not exist"),
        (["status", "nowhere"], "no archsearch run in nowhere"),
        (["search", "--dataset", "imagenet"], "imagenet"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code = run_cli(*args)
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert message in lines[0] and "Traceback" not in captured.err


def test_config_file_and_flags_combine(tmp_path, toy_registry, capsys):
    config = tmp_path / "study.yaml"
    config.write_text(
        "n_trials: 3\nexecutor: inline\nspace: {name: toy}\nevaluator: {name: toy}\n"
        "strategy: {name: random}\n"
    )
    out = str(tmp_path / "s")
    assert run_cli("search", "--config", str(config), "--out", out, "--seed", "5", "--quiet") == 0
    from archsearch.study import Study

    study = Study.load(out)
    assert study.config.seed == 5 and study.config.strategy.name == "random" and study.store.count() == 3
    study.close()


def test_bad_yaml_config_is_rejected(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("n_trials: [1,\n")
    assert run_cli("search", "--config", str(config)) == 2
    assert "not valid YAML" in capsys.readouterr().err
    config.write_text("n_trials: 3\nsurprise: 1\n")
    assert run_cli("search", "--config", str(config)) == 2
    assert "surprise" in capsys.readouterr().err


def test_tabular_study_on_nb201_stops_at_the_simulated_budget(tmp_path, capsys):
    out = str(tmp_path / "nb")
    args = ["search", "--space", "nb201", "--set", "evaluator.name=tabular", "--set", "clock=cost",
            "--max-time", "12000", "--trials", "100000", "--strategy", "evolution", "--executor", "inline",
            "--out", out, "--quiet"]  # fmt: skip
    assert run_cli(*args) == 0
    from archsearch.study import Study

    study = Study.load(out)
    trials = study.store.trials()
    study.close()
    spent = sum(t.cost_s for t in trials)
    assert 80 < len(trials) < 140 and 12_000 <= spent < 12_000 + max(t.cost_s for t in trials)
    assert all(t.status == "ok" and 0.3 < t.metrics["test_acc"] < 0.95 for t in trials)


def test_choosing_nb201_brings_its_table_and_simulated_clock(tmp_path):
    from archsearch.cli import build_config

    config = build_config(None, {"space.name": "nb201", "seed": 4}, [])
    assert config.evaluator.name == "tabular" and config.evaluator.params == {}
    assert config.clock == "cost" and config.max_time_s == 12_000
    explicit = build_config(
        None, {"space.name": "nb201"}, ["evaluator.params.dataset=cifar100", "clock=wall"]
    )
    assert explicit.evaluator.params == {"dataset": "cifar100"} and explicit.clock == "wall"


def test_progress_shows_running_queued_and_children_per_hour():
    from rich.console import Console

    from archsearch.core import TrialRecord
    from archsearch.report.progress import RichProgress

    progress = RichProgress(10, console=Console(quiet=True))
    progress.executor_ready(workers=2, max_concurrent=3)
    records = [TrialRecord(n, None, str(n), n, "running", ask_event=n, started_at=0.0) for n in range(3)]
    for record in records:
        progress.trial_started(record)
    assert (progress.running, progress.queued) == (2, 1)
    assert "running 2/2 | queued 1 | - children/h" in progress._status()
    progress._started -= 1800.0  # half an hour ago
    records[0].status, records[0].error = "failed", "x"
    progress.trial_finished(records[0])
    assert (progress.running, progress.queued) == (2, 0)
    assert 1.9 < progress.children_per_hour() <= 2.0
