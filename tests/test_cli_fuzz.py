"""The command line never shows a traceback: seeded random combinations of its real flags with random values
exit 0, 2 or 130 (tests/cli_fuzz.py makes and runs the cases; ``python tests/cli_fuzz.py`` runs many more)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from cli_fuzz import app_commands, build_template, command_of, fuzz, make_cases, run_case

FAST_CASES = 150
FAST_SEED = 14
SLOW_CASES = 300
SLOW_SEED = 1


def test_every_command_of_the_app_is_fuzzed_with_its_own_options():
    commands = {command.path: command for command in app_commands()}
    assert {("search",), ("resume",), ("status",), ("best",), ("report",), ("export",), ("front",)} <= set(
        commands
    )
    assert {("oneshot",), ("zero",), ("zero", "resume"), ("bench", "nb201"), ("bench", "nb201-mo")} <= set(
        commands
    )
    assert "--set" in {opt for param in commands[("search",)].parameters for opt in param.opts}
    assert set(commands) <= {tuple(command_of(argv).split()) for argv in make_cases(0, 400)}


def _raise(exc: BaseException):
    def command(argv: list[str]) -> None:
        raise exc

    return command


def _print_traceback(argv: list[str]) -> None:
    print("Traceback (most recent call last):\n  boom", file=sys.stderr)
    sys.exit(2)


def _remove_user_file(argv: list[str]) -> None:
    Path("userdir/notes.txt").unlink()
    sys.exit(0)


def _sleep(argv: list[str]) -> None:
    time.sleep(5)


def _leave_sigint_ignored(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (_raise(RuntimeError("x")), "RuntimeError escapes main()"),
        (_raise(SystemExit(1)), "exit 1"),
        (_raise(SystemExit("a message")), "exit 1"),
        (_print_traceback, "traceback printed"),
        (_remove_user_file, "a user's file was removed or changed"),
        (_sleep, "no exit within the time limit"),
        (_leave_sigint_ignored, "left the process changed: SIGINT handler"),
    ],
)
def test_each_kind_of_failure_is_caught_and_the_process_put_back(tmp_path, monkeypatch, command, kind):
    import archsearch.cli

    case = build_template(tmp_path / "case", runs=False)
    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(archsearch.cli, "main", command)
    outcome = run_case(["status"], case, limit_s=0.5)
    assert outcome.failure is not None and outcome.failure.startswith(kind)
    assert Path.cwd() != case and signal.getsignal(signal.SIGINT) == handler


def test_random_flags_and_values_never_give_a_traceback_or_an_unexpected_exit_code(tmp_path: Path):
    report = fuzz(FAST_SEED, FAST_CASES, tmp_path, limit_s=30.0, max_total_s=150.0)
    assert report.cases >= 50, report.summary()
    assert not report.kinds, report.summary()


@pytest.mark.slow
def test_many_more_random_command_lines_never_give_a_traceback(tmp_path: Path):
    report = fuzz(SLOW_SEED, SLOW_CASES, tmp_path, limit_s=30.0, max_total_s=300.0)
    assert report.cases >= 100, report.summary()
    assert not report.kinds, report.summary()
