"""Run directories (issue 14): archsearch removes only what it made (a failed start, --overwrite), a kill -9
while a run is created leaves a directory that starts again with --out, and one process drives a run."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.errors import StoreError
from archsearch.oneshot.base import METHODS
from archsearch.store.rundir import STAGING_PREFIX, check_created, new_run
from archsearch.store.runlock import LOCK_NAME, RunInUseError, RunLock, lock_holder
from archsearch.store.sqlite import Store
from archsearch.store.trials import StudyStore
from oneshot.test_run import GreedyCategorical

USER_FILES = {"notes.txt": "my notes\n", "sub/data.csv": "1,2\n"}
MISSING = "/nonexistent/archsearch-data"
SEARCH = ["--space", "nb201", "--executor", "inline", "--trials", "3", "--quiet"]
ONESHOT = [
    "--dataset", "digits", "--train-limit", "160", "--batch-size", "32", "--threads", "1", "--epochs", "1",
    "--set", "supernet.channels=2", "--set", "supernet.cells_per_stage=1", "--quiet",
]  # fmt: skip
ZERO = ["--budget", "400", "--population", "40", "--seed", "2", "--quiet"]
TIMEOUT_S = 120


def run_cli(*args: str) -> int:
    """``archsearch ARGS`` in this process: its exit code (130 for a Ctrl-C that escapes main)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:
        return 130
    return 0


def user_directory(path: Path) -> Path:
    """A directory holding a user's own files (a file and a subfolder with a file)."""
    for name, text in USER_FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


def contents(path: Path) -> dict[str, bytes | None]:
    """Every entry under ``path``: a file's bytes, None for a folder."""
    return {
        str(entry.relative_to(path)): entry.read_bytes() if entry.is_file() else None
        for entry in sorted(path.rglob("*"))
    }


def user_files_intact(path: Path) -> bool:
    return all((path / name).read_text() == text for name, text in USER_FILES.items())


@pytest.fixture
def stand_in_asng(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small stand-in one-shot method under the name "asng", so that a one-shot run costs little."""
    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)


def interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def interrupt_search(monkeypatch: pytest.MonkeyPatch) -> None:
    from archsearch.evaluators.tabular import TabularEvaluator

    monkeypatch.setattr(TabularEvaluator, "prepare", interrupt)


def interrupt_oneshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archsearch.oneshot.run.load_search_data", interrupt)


def interrupt_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archsearch.zero.experiment.start_record", interrupt)


FAILED_STARTS = [
    pytest.param(["search", *SEARCH, "--set", "strategy.params.no_such_option=1"], None, id="search-bad-set"),
    pytest.param(
        ["search", "--dataset", "mnist", "--data-dir", MISSING, "--executor", "inline", "--quiet"],
        None,
        id="search-missing-data",
    ),
    pytest.param(["search", *SEARCH, "--strategy", "no_such_strategy"], None, id="search-unknown-strategy"),
    pytest.param(["search", *SEARCH], interrupt_search, id="search-ctrl-c"),
    pytest.param(["oneshot", *ONESHOT, "--set", "hyper.no_such_option=1"], None, id="oneshot-bad-set"),
    pytest.param(
        ["oneshot", "--dataset", "mnist", "--data-dir", MISSING, "--quiet"], None, id="oneshot-missing-data"
    ),
    pytest.param(["oneshot", *ONESHOT, "--method", "no_such_method"], None, id="oneshot-unknown-method"),
    pytest.param(["oneshot", *ONESHOT], interrupt_oneshot, id="oneshot-ctrl-c"),
    pytest.param(["zero", *ZERO, "--population", "0"], None, id="zero-bad-option"),
    pytest.param(
        ["zero", *ZERO, "--task", "projected-binary", "--dataset", "mnist", "--data-dir", MISSING],
        None,
        id="zero-missing-data",
    ),
    pytest.param(["zero", *ZERO, "--strategy", "no_such_strategy"], None, id="zero-unknown-strategy"),
    pytest.param(["zero", *ZERO], interrupt_zero, id="zero-ctrl-c"),
]


@pytest.mark.parametrize(("args", "fault"), FAILED_STARTS)
def test_failed_start_leaves_the_users_directory_unchanged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    fault: Callable[[pytest.MonkeyPatch], None] | None,
) -> None:
    directory = user_directory(tmp_path / "mine")
    before = contents(directory)
    if fault is not None:
        fault(monkeypatch)
    assert run_cli(*args, "--out", str(directory)) in (2, 130)
    assert contents(directory) == before


@pytest.mark.parametrize(("args", "fault"), FAILED_STARTS)
def test_failed_start_removes_the_directory_it_made(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    fault: Callable[[pytest.MonkeyPatch], None] | None,
) -> None:
    if fault is not None:
        fault(monkeypatch)
    assert run_cli(*args, "--out", str(tmp_path / "new" / "run")) in (2, 130)
    assert list(tmp_path.iterdir()) == []


def test_search_overwrite_replaces_the_run_and_keeps_the_users_files(tmp_path: Path) -> None:
    directory = user_directory(tmp_path / "mine")
    assert run_cli("search", *SEARCH, "--out", str(directory)) == 0
    assert (
        run_cli("search", *SEARCH, "--trials", "2", "--seed", "5", "--out", str(directory), "--overwrite")
        == 0
    )
    assert user_files_intact(directory)
    store = Store(directory)
    assert store.count() == 2 and store.get_meta("config")["seed"] == 5
    store.close()
    # an overwrite that fails keeps the run it would have replaced
    bad = ["--set", "strategy.params.no_such_option=1", "--overwrite"]
    assert run_cli("search", *SEARCH, *bad, "--out", str(directory)) == 2
    store = Store(directory)
    assert store.count() == 2
    store.close()
    assert user_files_intact(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt", "study.db", LOCK_NAME, "sub"]


def test_oneshot_overwrite_replaces_the_run_and_keeps_the_users_files(tmp_path: Path, stand_in_asng) -> None:
    directory = user_directory(tmp_path / "mine")
    assert run_cli("oneshot", *ONESHOT, "--out", str(directory)) == 0
    assert run_cli("oneshot", *ONESHOT, "--seed", "3", "--out", str(directory), "--overwrite") == 0
    assert user_files_intact(directory)
    store = Store(directory)
    assert store.get_meta("oneshot_config")["seed"] == 3 and len(store.epochs()) == 1
    store.close()


def test_zero_overwrite_replaces_the_run_and_its_baseline_and_keeps_the_users_files(tmp_path: Path) -> None:
    directory = user_directory(tmp_path / "mine")
    assert run_cli("zero", *ZERO, "--baseline", "--out", str(directory)) == 0
    assert (directory / "random" / "study.db").exists()
    assert run_cli("zero", *ZERO, "--seed", "4", "--out", str(directory), "--overwrite") == 0
    assert user_files_intact(directory)
    assert not (directory / "random").exists()  # the old baseline would stand in the new run's report
    store = Store(directory)
    assert store.get_meta("zero_config")["seed"] == 4
    store.close()


def test_overwrite_keeps_a_user_file_inside_the_baseline_folder(tmp_path: Path) -> None:
    directory = tmp_path / "run"
    assert run_cli("zero", *ZERO, "--baseline", "--out", str(directory)) == 0
    (directory / "random" / "mine.txt").write_text("keep")
    assert run_cli("zero", *ZERO, "--out", str(directory), "--overwrite") == 0
    assert sorted(p.name for p in (directory / "random").iterdir()) == ["mine.txt"]


# -- kill -9 during creation ----------------------------------------------------------------------


def killed_start(directory: Path, kind: str) -> None:
    """What a start killed before it finished leaves: the staging folder with a database holding only
    the schema (no run config), and the directory's lock file."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f"{STAGING_PREFIX}{kind}-x1y2"
    Store(staging, create=True).close()
    RunLock.acquire(directory).release()


@pytest.mark.parametrize(
    ("kind", "resume"),
    [
        ("search", ["resume"]),
        ("oneshot", ["oneshot", "--resume"]),
        ("oneshot", ["resume"]),
        ("zero", ["zero", "resume"]),
    ],
)
def test_resume_of_a_start_killed_during_creation_says_to_start_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, resume: list[str]
) -> None:
    directory = user_directory(tmp_path / "mine")
    killed_start(directory, kind)
    assert run_cli(*resume, str(directory)) == 2
    message = capsys.readouterr().err.strip()
    assert "creation of the run in" in message and "did not finish" in message
    assert f"archsearch {kind} --out {directory}" in " ".join(message.split())
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(("kind", "args"), [("search", SEARCH), ("oneshot", ONESHOT), ("zero", ZERO)])
def test_out_starts_again_after_a_start_killed_during_creation(
    tmp_path: Path, stand_in_asng, kind: str, args: list[str]
) -> None:
    directory = user_directory(tmp_path / "mine")
    killed_start(directory, kind)
    assert run_cli(*([kind] if kind != "search" else ["search"]), *args, "--out", str(directory)) == 0
    assert not list(directory.glob(f"{STAGING_PREFIX}*"))
    assert user_files_intact(directory)
    check_created(directory)  # a complete run: nothing to explain


KILLERS = {
    # the windows of issue 14: while the search's data loads, while the one-shot run loads its data and
    # builds its supernet, while the zero run writes its tables
    "search": "from archsearch.evaluators.tabular import TabularEvaluator as target\ntarget.prepare = die\n",
    "oneshot": "import archsearch.oneshot.run as target\ntarget.load_search_data = die\n",
    "zero": "import archsearch.zero.experiment as target\ntarget.start_record = die\n",
}


@pytest.mark.parametrize(("kind", "args"), [("search", SEARCH), ("oneshot", ONESHOT), ("zero", ZERO)])
def test_kill_9_during_creation_leaves_a_directory_that_starts_again_with_out(
    tmp_path: Path, stand_in_asng, kind: str, args: list[str]
) -> None:
    directory = user_directory(tmp_path / "mine")
    killer = (
        "import os, signal, sys\n"
        "def die(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"{KILLERS[kind]}"
        "from archsearch.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    command = [kind, *args, "--out", str(directory)]
    done = subprocess.run([sys.executable, "-c", killer, *command], capture_output=True, timeout=TIMEOUT_S)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert list(directory.glob(f"{STAGING_PREFIX}{kind}-*")) and not (directory / "study.db").exists()
    with pytest.raises(StoreError, match=f"did not finish.*archsearch {kind} --out"):
        check_created(directory)
    assert run_cli(*command) == 0
    assert user_files_intact(directory) and not list(directory.glob(f"{STAGING_PREFIX}*"))


@pytest.mark.parametrize("resume", [["resume"], ["oneshot", "--resume"], ["zero", "resume"]])
def test_a_database_holding_only_its_schema_is_an_unfinished_creation_that_out_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stand_in_asng, resume: list[str]
) -> None:
    """What a kill -9 during creation left before creation was staged: the schema and nothing else."""
    directory = user_directory(tmp_path / "mine")
    Store(directory, create=True).close()
    assert run_cli(*resume, str(directory)) == 2
    assert "did not finish" in capsys.readouterr().err
    assert run_cli("oneshot", *ONESHOT, "--out", str(directory)) == 0
    assert user_files_intact(directory)


@pytest.mark.parametrize(
    "content", [b"my own notes, not a database\n", b"", None], ids=["text", "empty", "sqlite"]
)
def test_overwrite_never_replaces_a_study_db_that_is_not_archsearchs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    directory = user_directory(tmp_path / "mine")
    if content is None:  # the user's own SQLite database
        conn = sqlite3.connect(directory / "study.db")
        conn.execute("CREATE TABLE birds (name TEXT)")
        conn.commit()
        conn.close()
    else:
        (directory / "study.db").write_bytes(content)
    before = contents(directory)
    assert run_cli("search", *SEARCH, "--out", str(directory), "--overwrite") == 2
    assert "archsearch leaves it alone" in capsys.readouterr().err
    assert contents(directory) == before


# -- one driver per run ---------------------------------------------------------------------------


@pytest.fixture
def lock_holder_process(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start a process that takes a run's lock and holds it until killed; waits until it holds it."""
    started: list[subprocess.Popen[str]] = []
    code = (
        "import sys\n"
        "from archsearch.store.runlock import RunLock\n"
        "lock = RunLock.acquire(sys.argv[1])\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )

    def start(directory: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT_S)
        assert ready and process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=TIMEOUT_S)


def make_run(kind: str, directory: Path) -> None:
    """A run of ``kind`` in ``directory``, created and closed (no epochs or rounds for oneshot/zero)."""
    if kind == "search":
        assert run_cli("search", *SEARCH, "--out", str(directory)) == 0
    elif kind == "oneshot":
        from archsearch.oneshot.run import OneShotRun, parse_oneshot_config

        config = {"dataset": "digits", "train_limit": 160, "batch_size": 32, "epochs": 1, "threads": 1}
        supernet = {"channels": 2, "cells_per_stage": 1}
        OneShotRun.create(parse_oneshot_config({**config, "supernet": supernet}), directory).close()
    else:
        from archsearch.zero.run import Experiment, make_config

        Experiment.create(make_config("linear", budget=400, population_size=40), directory).close()


DRIVERS = [
    pytest.param("search", ["resume"], id="search-resume"),
    pytest.param("search", ["search", *SEARCH, "--overwrite", "--out"], id="search-overwrite"),
    pytest.param("oneshot", ["oneshot", "--resume"], id="oneshot-resume"),
    pytest.param("oneshot", ["resume"], id="oneshot-via-resume"),
    pytest.param("oneshot", ["oneshot", *ONESHOT, "--overwrite", "--out"], id="oneshot-overwrite"),
    pytest.param("zero", ["zero", "resume"], id="zero-resume"),
    pytest.param("zero", ["zero", *ZERO, "--overwrite", "--out"], id="zero-overwrite"),
]


@pytest.mark.parametrize(("kind", "command"), DRIVERS)
def test_second_driver_of_a_live_run_is_refused_naming_the_live_process(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stand_in_asng,
    lock_holder_process,
    kind: str,
    command: list[str],
) -> None:
    directory = tmp_path / "run"
    make_run(kind, directory)
    holder = lock_holder_process(directory)
    before = contents(directory)
    capsys.readouterr()
    assert run_cli(*command, str(directory)) == 2
    message = capsys.readouterr().err.strip()
    assert f"pid {holder.pid}" in message and "in use by another archsearch process" in message
    assert len(message.splitlines()) == 1
    assert contents(directory) == before  # refused before it wrote anything


def test_read_only_commands_work_while_a_search_is_live(tmp_path: Path, lock_holder_process) -> None:
    directory = tmp_path / "run"
    make_run("search", directory)
    lock_holder_process(directory)
    assert run_cli("status", str(directory)) == 0
    assert run_cli("best", str(directory)) == 0


def test_resume_works_once_the_holder_is_killed_with_sigkill(
    tmp_path: Path, lock_holder_process, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "run"
    make_run("search", directory)
    holder = lock_holder_process(directory)
    assert run_cli("resume", str(directory), "--trials", "4", "--quiet") == 2
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=TIMEOUT_S)
    assert lock_holder(directory) is None
    assert run_cli("resume", str(directory), "--trials", "4", "--quiet") == 0
    store = Store(directory)
    assert store.count() == 4 and store.count("running") == 0
    store.close()


def test_run_lock_is_exclusive_until_released(tmp_path: Path) -> None:
    first = RunLock.acquire(tmp_path)
    assert lock_holder(tmp_path) is not None and f"pid {os.getpid()}" in str(lock_holder(tmp_path))
    with pytest.raises(RunInUseError, match=f"pid {os.getpid()}"):
        RunLock.acquire(tmp_path)
    first.release()
    assert lock_holder(tmp_path) is None
    RunLock.acquire(tmp_path).release()


def test_a_run_is_published_only_when_complete(tmp_path: Path) -> None:
    """Until ``publish`` the directory has no study.db; an exception before it leaves nothing behind."""
    directory = user_directory(tmp_path / "mine")
    before = contents(directory)
    with (
        pytest.raises(RuntimeError, match="stop"),
        new_run(directory, "search", False, "occupied", store_class=StudyStore) as run,
    ):
        run.store.set_meta("config", {})
        assert not (directory / "study.db").exists()
        raise RuntimeError("stop")
    assert contents(directory) == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_lock_file_that_links_to_a_users_file_is_refused_and_the_file_kept(
    tmp_path: Path, link: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's words")
    run = tmp_path / "run"
    assert run_cli("search", "--out", str(run), *SEARCH) == 0
    (run / LOCK_NAME).unlink()
    (os.symlink if link == "symlink" else os.link)(victim, run / LOCK_NAME)
    assert run_cli("resume", str(run), "--quiet") == 2
    assert victim.read_text() == "the user's words"


def test_a_journal_left_without_its_database_is_not_replayed_onto_a_new_run(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    assert run_cli("search", "--out", str(old), *SEARCH) == 0
    conn = sqlite3.connect(old / "study.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("DROP TABLE meta")  # a change that lives only in the WAL
    new.mkdir()
    (new / "study.db-wal").write_bytes((old / "study.db-wal").read_bytes())  # the user deleted study.db
    conn.close()
    assert run_cli("search", "--out", str(new), *SEARCH) == 0
    assert run_cli("status", str(new)) == 0
