"""What the command line prints: its version, the registry's names in the help, error lines and trial lines
exactly as written (no Rich markup read into them), one trial per line in a log."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from archsearch import __version__, registry
from archsearch.cli import main
from archsearch.core import Architecture, TrialRecord
from archsearch.report.progress import RichProgress

NB201_TABULAR = ["--space", "nb201", "--evaluator", "tabular", "--set", "clock=cost", "--executor", "inline"]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def test_version_prints_the_package_version(capsys):
    assert run_cli("--version") == 0
    assert capsys.readouterr().out.strip() == f"archsearch {__version__}"


@pytest.mark.parametrize("kind", ["space", "strategy", "evaluator"])
def test_search_help_names_every_registered_space_strategy_and_evaluator(monkeypatch, capsys, kind):
    monkeypatch.setenv("COLUMNS", "400")
    assert run_cli("search", "--help") == 0
    text = capsys.readouterr().out
    for target in set(registry.registered(kind).values()):  # each class by one of its spellings
        spellings = [name for name, where in registry.registered(kind).items() if where == target]
        assert any(name in text for name in spellings), f"{kind} {target} not in search --help"


def test_error_lines_keep_square_brackets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("search", *NB201_TABULAR, "--strategy", "nsga2", "--out", "mo") == 2
    assert "objectives: [val_acc:max, latency_ms:min]" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert run_cli("search", *NB201_TABULAR, "--executor", "ray", "--quiet", "--out", "ray") == 2
    assert "pip install archsearch[ray]" in capsys.readouterr().err


def test_a_trial_line_in_a_log_is_one_line_with_its_error_as_written():
    log = io.StringIO()
    console = Console(file=log, width=80)  # no terminal: a log file, CI, a pipe
    assert not console.is_terminal
    arch_str = " ".join(f"op{n}:[conv]" for n in range(20))
    record = TrialRecord(7, Architecture("toy", ()), arch_str, 7, "failed", ask_event=7, started_at=0.0)
    record.error = "the ray executor needs Ray: pip install archsearch[ray]"
    with RichProgress(10, console=console) as progress:
        progress.trial_started(record)
        progress.trial_finished(record)
    lines = [line for line in log.getvalue().splitlines() if line.startswith("trial")]
    assert len(lines) == 1 and len(lines[0]) > 80
    assert (
        arch_str in lines[0] and "failed: the ray executor needs Ray: pip install archsearch[ray]" in lines[0]
    )


def test_a_finished_trial_line_prints_metric_names_as_written():
    log = io.StringIO()
    record = TrialRecord(3, Architecture("toy", ()), "[conv]", 3, "ok", ask_event=3, started_at=0.0)
    record.reward, record.metrics = 0.5, {"acc[top1]": 0.9}
    with RichProgress(10, console=Console(file=log, width=80), metrics=["acc[top1]"]) as progress:
        progress.trial_finished(record)
    assert "trial    3  [conv]  acc[top1] 0.9000 reward 0.5000" in log.getvalue()
