"""Read-only commands open the database read-only: they work on read-only media and never change a file
that is not a run of theirs; disk full and unwritable places are one line and exit 2, the database intact."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.core import Architecture, Result
from archsearch.errors import StoreError
from archsearch.store.base import RunStore
from archsearch.store.sqlite import Store

ARCH = Architecture("toy", ((), 3, 3, (0,), 5, 1))
NB201 = ["--space", "nb201", "--executor", "inline", "--quiet"]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``directory``: its content hash and modification time."""
    return {
        str(path.relative_to(directory)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0


@contextmanager
def read_only_media(directory: Path) -> Iterator[str]:
    """``directory`` made read-only as a medium is: a read-only bind mount for root (chmod does not stop
    root), chmod a-w for anyone else. Yields how; skips when neither is possible."""
    if os.geteuid() == 0:
        if not _mount("--bind", str(directory), str(directory)):
            pytest.skip("root, but bind mounts are not permitted here")
        try:
            if not _mount("-o", "remount,bind,ro", str(directory)):
                pytest.skip("root, but a bind mount cannot be made read-only here")
            _assert_unwritable(directory)
            yield "read-only bind mount"
        finally:
            subprocess.run(["umount", str(directory)], capture_output=True, timeout=30, check=True)
        return
    modes = {path: path.stat().st_mode for path in [directory, *directory.rglob("*")]}
    for path in modes:
        path.chmod(modes[path] & ~0o222)
    try:
        _assert_unwritable(directory)
        yield "chmod a-w"
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def _assert_unwritable(directory: Path) -> None:
    with pytest.raises(OSError):
        (directory / "probe").write_text("x")


def foreign_database(directory: Path, journal_mode: str = "delete") -> Path:
    """Another program's SQLite file named study.db, with a table called trials of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "study.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal_mode}")
    conn.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO trials (name) VALUES ('mine')")
    conn.commit()
    conn.close()
    return path


def nb201_study(directory: Path, trials: int = 3) -> Path:
    assert run_cli("search", *NB201, "--trials", str(trials), "--out", str(directory)) == 0
    return directory


# -- foreign and other-schema databases ------------------------------------------------------------------
FOREIGN_COMMANDS = [
    ["status"],
    ["best"],
    ["best", "--json"],
    ["front", "--objectives", "val_acc:max,flops_m:min"],
    ["report", "--out", "{elsewhere}"],
    ["export", "--out", "{elsewhere}"],
    ["resume"],
    ["zero", "status"],
    ["zero", "report", "--out", "{elsewhere}"],
    ["zero", "export", "--out", "{elsewhere}/a.py"],
    ["zero", "resume"],
]


def _command(args: list[str], directory: Path, elsewhere: Path) -> list[str]:
    args = [a.replace("{elsewhere}", str(elsewhere)) for a in args]
    return [*args[: 2 if args[0] == "zero" else 1], str(directory), *args[2 if args[0] == "zero" else 1 :]]


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("args", FOREIGN_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_foreign_sqlite_file_is_refused_in_one_line_and_left_unchanged(
    tmp_path, capsys, args, journal_mode
):
    directory = tmp_path / "theirs"
    foreign_database(directory, journal_mode)
    before = snapshot(directory)
    assert run_cli(*_command(args, directory, tmp_path / "elsewhere")) == 2
    assert "is not an archsearch run database" in one_line_error(capsys)
    after = snapshot(directory)
    assert after == before  # same files, same bytes, same mtimes: no -wal, -shm or tables
    assert not (tmp_path / "elsewhere").exists()


def test_a_database_with_a_trials_table_of_another_schema_is_refused_untouched(tmp_path, capsys):
    directory = tmp_path / "other"
    directory.mkdir()
    conn = sqlite3.connect(directory / "study.db")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, arch TEXT)")  # no column `number`
    conn.commit()
    conn.close()
    before = snapshot(directory)
    for command in (["status"], ["resume"], ["best"]):
        assert run_cli(*command, str(directory)) == 2
        assert "is a database of another schema: its table trials has no column" in one_line_error(capsys)
    assert snapshot(directory) == before


def test_a_database_of_a_newer_archsearch_is_refused_untouched(tmp_path, capsys):
    directory = nb201_study(tmp_path / "s")
    conn = sqlite3.connect(directory / "study.db")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    capsys.readouterr()
    before = snapshot(directory)
    for command in (["status"], ["resume"]):
        assert run_cli(*command, str(directory)) == 2
        assert "written by a newer archsearch (schema version 99" in one_line_error(capsys)
    assert snapshot(directory) == before


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path, capsys):
    directory = tmp_path / "text"
    directory.mkdir()
    (directory / "study.db").write_text("notes, not a database\n" * 50)
    before = snapshot(directory)
    for command in (["status"], ["resume"], ["report"]):
        assert run_cli(*command, str(directory)) == 2
        assert "is not a readable study database" in one_line_error(capsys)
    assert snapshot(directory) == before


# -- a read-only store ------------------------------------------------------------------------------------
def _finished_store(directory: Path, trials: int = 2) -> None:
    store = Store(directory, create=True)
    for n in range(trials):
        store.add_trial(n, ARCH, "a", seed=n, ask_event=2 * n)
        store.finish_trial(n, Result(metrics={"val_acc": 0.5}), 0.5, 2 * n + 1, checkpoint={"n": n})
    store.close()


def test_a_read_only_store_reads_everything_and_creates_or_changes_no_file(tmp_path):
    _finished_store(tmp_path)
    before = snapshot(tmp_path)
    store = Store(tmp_path, read_only=True)
    assert [t.number for t in store.trials()] == [0, 1] and store.epochs() == []
    assert store.get_meta("schema_version") == 1 and store.latest_checkpoint()[1] == {"n": 1}
    with pytest.raises(StoreError, match="cannot be written"):
        store.set_meta("x", 1)
    store.close()
    store.close()  # twice is harmless
    assert snapshot(tmp_path) == before and sorted(before) == ["study.db"]


def test_a_read_only_store_sees_what_a_live_writer_has_committed(tmp_path):
    _finished_store(tmp_path)
    writer = Store(tmp_path)
    writer.set_meta("live", True)  # in the WAL, not yet in the main file
    reader = Store(tmp_path, read_only=True)
    assert reader.get_meta("live") is True
    writer.add_trial(2, ARCH, "a", seed=2, ask_event=4)
    assert reader.count() == 3
    reader.close()
    writer.close()


def test_a_read_only_store_adds_tables_of_newer_versions_as_empty_without_writing(tmp_path):
    _finished_store(tmp_path)
    conn = sqlite3.connect(tmp_path / "study.db")
    conn.execute("DROP TABLE epochs")  # a database written before one-shot runs existed
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    store = Store(tmp_path, read_only=True)
    assert store.epochs() == [] and store.count() == 2
    store.close()
    assert snapshot(tmp_path) == before


def _kill_mid_run(directory: Path) -> None:
    """A process that writes to the run and dies without closing it: the WAL keeps the last commits."""
    code = (
        "import os, sys\n"
        "from archsearch.store.sqlite import Store\n"
        "store = Store(sys.argv[1])\n"
        "store.set_meta('after_kill', 7)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(directory)], check=True, timeout=120)


def test_a_killed_run_without_its_shm_file_is_read_with_its_wal_and_gets_no_new_file(tmp_path):
    _finished_store(tmp_path)
    _kill_mid_run(tmp_path)
    (tmp_path / "study.db-shm").unlink()
    before = snapshot(tmp_path)
    store = Store(tmp_path, read_only=True)
    assert store.get_meta("after_kill") == 7 and store.count() == 2
    store.close()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("keep_shm", [True, False], ids=["with -shm", "without -shm"])
def test_a_killed_run_on_read_only_media_is_read_with_its_wal(tmp_path, keep_shm):
    _finished_store(tmp_path)
    _kill_mid_run(tmp_path)
    assert (tmp_path / "study.db-wal").stat().st_size > 0
    if not keep_shm:
        (tmp_path / "study.db-shm").unlink()
    before = snapshot(tmp_path)
    with read_only_media(tmp_path):
        store = Store(tmp_path, read_only=True)
        assert store.get_meta("after_kill") == 7 and store.count() == 2
        store.close()
    assert snapshot(tmp_path) == before


# -- the commands on read-only media -----------------------------------------------------------------------
def test_read_only_commands_work_on_a_study_on_read_only_media(tmp_path, capsys):
    study = nb201_study(tmp_path / "s")
    capsys.readouterr()
    before = snapshot(study)
    with read_only_media(study):
        assert run_cli("status", str(study)) == 0
        assert "3/3 trials started" in capsys.readouterr().out
        assert run_cli("best", str(study), "--json") == 0
        assert json.loads(capsys.readouterr().out)["number"] in (0, 1, 2)
        assert run_cli("front", str(study), "--objectives", "val_acc:max,flops_m:min") == 0
        assert run_cli("report", str(study), "--out", str(tmp_path / "report")) == 0
        assert run_cli("export", str(study), "--out", str(tmp_path / "export")) == 0
        capsys.readouterr()
        assert run_cli("resume", str(study), "--trials", "4", "--quiet") == 2  # it cannot write there
        assert "cannot" in one_line_error(capsys)
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "export" / "model.py").is_file()
    assert snapshot(study) == before


def test_zero_read_only_commands_work_on_read_only_media(tmp_path, capsys):
    run = tmp_path / "z"
    flags = ["--budget", "60", "--population", "10", "--tournament", "5", "--seed", "1", "--quiet"]
    assert run_cli("zero", *flags, "--engine", "python", "--out", str(run)) == 0
    capsys.readouterr()
    before = snapshot(run)
    with read_only_media(run):
        assert run_cli("zero", "status", str(run)) == 0
        assert "individuals" in capsys.readouterr().out
        assert run_cli("zero", "report", str(run), "--out", str(tmp_path / "report")) == 0
        assert run_cli("zero", "export", str(run), "--out", str(tmp_path / "algorithm.py")) == 0
    assert (tmp_path / "algorithm.py").is_file()
    assert snapshot(run) == before


def test_oneshot_read_only_commands_work_on_read_only_media(tmp_path, capsys, monkeypatch):
    from archsearch.oneshot.base import METHODS
    from oneshot.test_run import (
        GreedyCategorical,
    )  # a stand-in method: the plumbing at a fraction of the cost

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    run = tmp_path / "o"
    tiny = ["--dataset", "digits", "--train-limit", "96", "--batch-size", "32", "--threads", "1", "--quiet"]
    tiny += ["--set", "supernet.channels=2", "--set", "supernet.cells_per_stage=1"]
    assert run_cli("oneshot", "--method", "asng", "--epochs", "1", "--out", str(run), *tiny) == 0
    capsys.readouterr()
    before = snapshot(run)
    with read_only_media(run):
        assert run_cli("status", str(run)) == 0
        assert "1/1 epochs finished" in capsys.readouterr().out
        assert run_cli("report", str(run), "--out", str(tmp_path / "report")) == 0
        assert run_cli("export", str(run), "--out", str(tmp_path / "export")) == 0
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "export" / "model.py").is_file()
    assert snapshot(run) == before


# -- where the store cannot be written ---------------------------------------------------------------------
def _search_into(out: Path) -> list[str]:
    return ["search", *NB201, "--trials", "2", "--out", str(out)]


def test_out_naming_a_file_or_a_path_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("the user's\n")
    for out, message in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "run", "file")):
        assert run_cli(*_search_into(out)) == 2
        assert message in one_line_error(capsys)
    assert (tmp_path / "file").read_text() == "the user's\n"


def test_out_in_a_read_only_directory_is_one_line(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only_media(parent):
        for out in (parent, parent / "run"):
            assert run_cli(*_search_into(out)) == 2
            one_line_error(capsys)
    assert list(parent.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="chattr +i needs root")
def test_out_in_an_immutable_directory_is_one_line(tmp_path, capsys):
    parent = tmp_path / "immutable"
    parent.mkdir()
    if subprocess.run(["chattr", "+i", str(parent)], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    try:
        for out in (parent, parent / "run"):
            assert run_cli(*_search_into(out)) == 2
            one_line_error(capsys)
    finally:
        subprocess.run(["chattr", "-i", str(parent)], check=True, timeout=30)
    assert list(parent.iterdir()) == []


def _integrity(directory: Path) -> str:
    store = Store(directory, read_only=True)
    try:
        return str(store._conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        store.close()


def _finished(directory: Path) -> list[tuple[int, str, float]]:
    store = Store(directory, read_only=True)
    try:
        return [(t.number, t.arch_str, t.reward) for t in store.trials("ok")]
    finally:
        store.close()


def test_a_full_disk_stops_the_search_in_one_line_and_resume_finishes_once_space_is_free(
    tmp_path, capsys, monkeypatch
):
    """SQLite's page limit raises the same SQLITE_FULL a full disk does, for any user."""
    study = nb201_study(tmp_path / "s", trials=3)
    opened = RunStore.__init__

    def small_disk(self: RunStore, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        if not self.read_only:
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            self._conn.execute(f"PRAGMA max_page_count = {pages + 3}")

    monkeypatch.setattr(RunStore, "__init__", small_disk)
    capsys.readouterr()
    assert run_cli("resume", str(study), "--trials", "40", "--quiet") == 2
    message = one_line_error(capsys)
    assert "is full" in message and f"archsearch resume {study}" in message
    kept = _finished(study)
    assert 3 <= len(kept) < 40 and _integrity(study) == "ok"
    monkeypatch.undo()
    assert run_cli("resume", str(study), "--trials", "40", "--quiet") == 0
    finished = _finished(study)
    assert len(finished) == 40 and finished[: len(kept)] == kept and _integrity(study) == "ok"


def test_a_full_disk_stops_a_zero_run_in_one_line_and_resume_finishes(tmp_path, capsys, monkeypatch):
    run = tmp_path / "z"
    opened = RunStore.__init__

    def small_disk(self: RunStore, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        if not self.read_only and not self._new:  # the published run, not its staging copy
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            self._conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    monkeypatch.setattr(RunStore, "__init__", small_disk)
    flags = ["--budget", "1500", "--population", "20", "--tournament", "5", "--seed", "1", "--quiet"]
    assert run_cli("zero", *flags, "--engine", "python", "--out", str(run)) == 2
    message = one_line_error(capsys)
    assert "is full" in message and f"archsearch zero resume {run}" in message
    assert _integrity(run) == "ok"
    monkeypatch.undo()
    assert run_cli("zero", "resume", str(run), "--quiet") == 0
    assert "final" in capsys.readouterr().out and _integrity(run) == "ok"


def test_a_full_disk_stops_a_oneshot_run_in_one_line_and_resume_finishes(tmp_path, capsys, monkeypatch):
    from archsearch.oneshot.base import METHODS
    from oneshot.test_run import GreedyCategorical

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    run = tmp_path / "o"
    opened = RunStore.__init__

    def small_disk(self: RunStore, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        if not self.read_only and not self._new:
            self._conn.execute(
                f"PRAGMA max_page_count = {self._conn.execute('PRAGMA page_count').fetchone()[0]}"
            )

    monkeypatch.setattr(RunStore, "__init__", small_disk)
    tiny = ["--dataset", "digits", "--train-limit", "96", "--batch-size", "32", "--threads", "1", "--quiet"]
    tiny += ["--set", "supernet.channels=2", "--set", "supernet.cells_per_stage=1"]
    assert run_cli("oneshot", "--method", "asng", "--epochs", "2", "--out", str(run), *tiny) == 2
    message = one_line_error(capsys)
    assert "is full" in message and f"archsearch resume {run}" in message and _integrity(run) == "ok"
    monkeypatch.setattr(RunStore, "__init__", opened)
    assert run_cli("resume", str(run), "--quiet") == 0
    assert run_cli("status", str(run)) == 0
    assert "2/2 epochs finished" in capsys.readouterr().out and _integrity(run) == "ok"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_disk_stops_the_search_and_resume_finishes_once_space_is_free(tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)):
        pytest.skip("tmpfs cannot be mounted here")
    try:
        study = nb201_study(disk / "s", trials=3)
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as file:  # fill the disk to the last block
            try:
                while file.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - 512 * 1024))  # room for a trial or two
        capsys.readouterr()
        assert run_cli("resume", str(study), "--trials", "60", "--quiet") == 2
        message = one_line_error(capsys)
        assert "is full" in message and "archsearch resume" in message
        kept = _finished(study)
        assert 3 < len(kept) < 60 and _integrity(study) == "ok"
        filler.unlink()
        assert run_cli("resume", str(study), "--trials", "60", "--quiet") == 0
        finished = _finished(study)
        assert len(finished) == 60 and finished[: len(kept)] == kept and _integrity(study) == "ok"
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=30)
