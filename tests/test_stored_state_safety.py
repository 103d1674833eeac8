"""Opening a run directory never runs code stored in it, and a corrupt newest checkpoint falls back.

Each test plants a checkpoint that an earlier archsearch would have unpickled (a pickle and a
``torch.save`` file whose payload creates a file) in a real run of each kind, hands it to the commands
that open that kind of run, and checks the file is never created: a trial study ignores the old
checkpoint and replays its trials (same trajectory), one-shot and AutoML-Zero runs are refused with
one line and exit code 2.
"""

from __future__ import annotations

import io
import logging
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import torch

from archsearch.cli import main
from archsearch.store.sqlite import DB_NAME

NB201 = ["--space", "nb201", "--executor", "inline", "--quiet"]


class _CreateFile:
    """Unpickling it creates ``path`` (what a hostile run directory would do)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (str(self.path), "w"))


def _payloads(target: Path) -> dict[str, bytes]:
    buffer = io.BytesIO()
    torch.save({"state": _CreateFile(target)}, buffer)
    return {"pickle": pickle.dumps({"state": _CreateFile(target)}), "torch": buffer.getvalue()}


def _run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def _set_blobs(db: Path, sql: str, blob: bytes) -> int:
    conn = sqlite3.connect(db)
    try:
        with conn:
            count = conn.execute(sql, (blob,)).rowcount
    finally:
        conn.close()
    assert count > 0
    return count


def _trials(directory: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(directory / DB_NAME)
    try:
        return conn.execute(
            "SELECT number, arch_str, seed, status, reward FROM trials ORDER BY number"
        ).fetchall()
    finally:
        conn.close()


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """The trials of an nb201 study of 6 trials run in one go."""
    out = tmp_path_factory.mktemp("whole") / "s"
    assert _run_cli("search", "--out", str(out), "--trials", "6", *NB201) == 0
    return _trials(out)


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_trial_study_ignores_a_pickled_checkpoint_and_resumes_by_replay(
    tmp_path: Path, kind: str, uninterrupted: list[tuple[Any, ...]], caplog: pytest.LogCaptureFixture, capsys
) -> None:
    out, target = tmp_path / "s", tmp_path / "created-by-payload"
    assert _run_cli("search", "--out", str(out), "--trials", "4", *NB201) == 0
    _set_blobs(out / DB_NAME, "UPDATE checkpoints SET state = ?", _payloads(target)[kind])
    for command in (["status"], ["best"], ["report", "--out", str(tmp_path / "report")]):
        assert _run_cli(*command, str(out)) == 0
    with caplog.at_level(logging.WARNING):
        assert _run_cli("resume", str(out), "--trials", "6", "--quiet") == 0
    assert not target.exists()
    assert "pickled by an earlier archsearch" in caplog.text and "replaying" in caplog.text
    assert _trials(out) == uninterrupted


@pytest.mark.parametrize(
    ("damage", "warning"),
    [
        (  # the newest of the three kept checkpoints (event 7) loses its end: the one before is used
            "UPDATE checkpoints SET state = substr(state, 1, length(state) / 2)"
            " WHERE id = (SELECT max(id) FROM checkpoints)",
            "(event 7) cannot be read",
        ),
        ("UPDATE checkpoints SET state = x'00'", "replaying the study from its first trial"),
    ],
    ids=["newest", "all"],
)
def test_trial_study_falls_back_from_corrupt_checkpoints_to_the_same_trajectory(
    tmp_path: Path,
    uninterrupted: list[tuple[Any, ...]],
    caplog: pytest.LogCaptureFixture,
    damage: str,
    warning: str,
) -> None:
    out = tmp_path / "s"
    assert _run_cli("search", "--out", str(out), "--trials", "4", *NB201) == 0
    conn = sqlite3.connect(out / DB_NAME)
    with conn:
        assert [e for (e,) in conn.execute("SELECT event FROM checkpoints ORDER BY id")] == [3, 5, 7]
        conn.execute(damage)
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert _run_cli("resume", str(out), "--trials", "6", "--quiet") == 0
    assert warning in caplog.text
    assert _trials(out) == uninterrupted


@pytest.fixture
def oneshot_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-shot run of two finished epochs (the loop's stand-in method, so it takes a second)."""
    from archsearch.oneshot.base import METHODS
    from archsearch.oneshot.run import OneShotRun
    from oneshot.test_run import GreedyCategorical, tiny_config

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    run = OneShotRun.create(tiny_config(epochs=2), tmp_path / "oneshot")
    run.run()
    run.close()
    return tmp_path / "oneshot"


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_oneshot_run_with_a_pickled_checkpoint_is_refused_and_runs_nothing(
    tmp_path: Path, oneshot_run: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "created-by-payload"
    _set_blobs(oneshot_run / DB_NAME, "UPDATE checkpoints SET state = ?", _payloads(target)[kind])
    for command in (["resume", str(oneshot_run)], ["oneshot", "--resume", str(oneshot_run)]):
        _one_line_exit_2(capsys, _run_cli(*command, "--quiet"), "earlier archsearch", "start the run again")
    for command in (["status"], ["report", "--out", str(tmp_path / "report")]):
        assert _run_cli(*command, str(oneshot_run)) == 0
    assert not target.exists()


def test_oneshot_run_falls_back_from_a_corrupt_latest_checkpoint_to_the_same_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from archsearch.oneshot.base import METHODS
    from archsearch.oneshot.run import OneShotRun
    from oneshot.test_run import GreedyCategorical, tiny_config, trajectory

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    for name in ("whole", "cut"):
        run = OneShotRun.create(tiny_config(), tmp_path / name)
        run.run()
        run.close()
    conn = sqlite3.connect(tmp_path / "cut" / DB_NAME)
    with conn:  # the run stopped before its summary, and its newest checkpoint (epoch 2) is damaged
        conn.execute("UPDATE checkpoints SET state = substr(state, 1, 200) WHERE event = 2")
        conn.execute("DELETE FROM meta WHERE key = 'summary'")
    conn.close()
    resumed = OneShotRun.load(tmp_path / "cut")
    with caplog.at_level(logging.WARNING):
        resumed.run()
    resumed.close()
    assert "(event 2) cannot be read" in caplog.text and "redoing epochs [2]" in caplog.text
    assert trajectory(tmp_path / "cut") == trajectory(tmp_path / "whole")


def test_oneshot_run_with_every_checkpoint_corrupt_is_one_line(
    oneshot_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_blobs(oneshot_run / DB_NAME, "UPDATE checkpoints SET state = ?", b"\x00 not a state")
    _one_line_exit_2(capsys, _run_cli("resume", str(oneshot_run), "--quiet"), "no checkpoint", "can be read")


ZERO = ["--budget", "400", "--population", "40", "--seed", "2", "--quiet"]


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_zero_run_with_a_pickled_checkpoint_is_refused_and_runs_nothing(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run, target = tmp_path / "zero", tmp_path / "created-by-payload"
    assert _run_cli("zero", *ZERO, "--out", str(run)) == 0
    _set_blobs(run / DB_NAME, "UPDATE zero_checkpoint SET state = ?", _payloads(target)[kind])
    capsys.readouterr()
    code = _run_cli("zero", "resume", str(run), "--budget", "800", "--quiet")  # more: the checkpoint is read
    _one_line_exit_2(capsys, code, "pickled by an earlier archsearch", "start the run again")
    for command in (["status"], ["report"]):
        assert _run_cli("zero", *command, str(run)) == 0
    assert not target.exists()


def test_zero_run_with_a_corrupt_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "zero"
    assert _run_cli("zero", *ZERO, "--engine", "python", "--out", str(run)) == 0
    conn = sqlite3.connect(run / DB_NAME)
    with conn:
        conn.execute("UPDATE zero_checkpoint SET state = substr(state, 1, length(state) - 10)")
    conn.close()
    capsys.readouterr()
    code = _run_cli("zero", "resume", str(run), "--budget", "800", "--quiet")  # more: the checkpoint is read
    _one_line_exit_2(capsys, code, "checkpoint", "cannot be read")


def test_zero_run_falls_back_from_a_corrupt_latest_checkpoint_to_the_same_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from archsearch.zero.run import Experiment, make_config
    from zero.test_run import SMALL, trajectory

    config = make_config("linear", engine="python", **SMALL)  # a checkpoint after each of 4 rounds
    for name in ("whole", "cut"):
        experiment = Experiment.create(config, tmp_path / name)
        experiment.run()
        experiment.close()
    conn = sqlite3.connect(tmp_path / "cut" / DB_NAME)
    with conn:  # the newest checkpoint (round 4) loses its end; the previous one (round 3) is intact
        assert conn.execute("SELECT round FROM zero_checkpoint_previous").fetchall() == [(3,)]
        conn.execute("UPDATE zero_checkpoint SET state = substr(state, 1, length(state) - 10)")
        conn.execute("DELETE FROM meta WHERE key = 'zero_final'")
    conn.close()
    resumed = Experiment.load(tmp_path / "cut")
    with caplog.at_level(logging.WARNING):
        resumed.run()
    assert "the checkpoint of round 4 cannot be read" in caplog.text
    whole = Experiment.load(tmp_path / "whole")
    assert trajectory(resumed) == trajectory(whole)
    resumed.close()
    whole.close()
