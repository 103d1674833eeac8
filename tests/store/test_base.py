"""The run database's base: the kind of run, reading and writing through the store, and the versioned
tables each kind declares."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archsearch.errors import StoreError
from archsearch.store import KINDS, RunStore, Tables, run_kind

NOTES = Tables("notes", 1, "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);")
NOTES_V2 = Tables(
    "notes",
    2,
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, author TEXT);",
    migrations={1: "ALTER TABLE notes ADD COLUMN author TEXT"},
)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def notes_run(directory: Path, kind: str | None = None) -> Path:
    with RunStore(directory, create=True, tables=(NOTES,)) as store:
        if kind is not None:
            store.set_meta("kind", kind)
        store.execute("INSERT INTO notes (text) VALUES (?)", ("first",))
    return directory


def test_a_run_without_a_kind_is_a_study_and_a_kind_is_read_from_meta(tmp_path):
    with RunStore(tmp_path / "a", create=True) as store:
        assert store.kind == "study"
    assert run_kind(tmp_path / "a") == "study"
    for kind in KINDS:
        notes_run(tmp_path / kind, kind)
        assert run_kind(tmp_path / kind) == kind


def test_run_kind_of_a_directory_without_a_run_is_one_line(tmp_path):
    with pytest.raises(StoreError, match="no archsearch run in") as err:
        run_kind(tmp_path / "nothing")
    assert "\n" not in str(err.value)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "study.db").write_text("notes\n" * 100)
    with pytest.raises(StoreError, match="not a readable study database"):
        run_kind(tmp_path / "text")


def test_run_kind_names_a_creation_that_did_not_finish(tmp_path):
    (tmp_path / ".archsearch-new-zero-x1").mkdir()
    with pytest.raises(StoreError, match="did not finish.*archsearch zero --out"):
        run_kind(tmp_path)


def test_run_kind_refuses_a_kind_it_does_not_know(tmp_path):
    notes_run(tmp_path, "quantum")
    with pytest.raises(StoreError, match="kind 'quantum'.*upgrade archsearch"):
        run_kind(tmp_path)


def test_run_kind_imports_neither_torch_nor_the_trial_store(tmp_path):
    notes_run(tmp_path, "zero")
    code = (
        "import sys\n"
        "from archsearch.store import run_kind\n"
        "print(run_kind(sys.argv[1]))\n"
        "print(sorted(m for m in ('torch', 'numba', 'ray', 'pandas', 'archsearch.store.sqlite',"
        " 'archsearch.store.trials') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.split("\n")[:2] == ["zero", "[]"]


def test_query_and_execute_read_and_write_rows(tmp_path):
    with RunStore(tmp_path, create=True, tables=(NOTES,)) as store:
        assert store.execute("INSERT INTO notes (text) VALUES (?)", ("a",)) == 1
        store.execute("INSERT INTO notes (text) VALUES (?)", ["b"])
        assert store.query("SELECT text FROM notes ORDER BY id") == [("a",), ("b",)]
        assert store.execute("UPDATE notes SET text = 'c'") == 2


def test_a_transaction_inside_another_joins_it_and_rolls_back_with_it(tmp_path):
    with RunStore(tmp_path, create=True, tables=(NOTES,)) as store:
        with pytest.raises(KeyError):
            with store.transaction():
                store.execute("INSERT INTO notes (text) VALUES ('a')")
                store.set_meta("x", 1)
                raise KeyError("the caller's own error")
        assert store.query("SELECT COUNT(*) FROM notes") == [(0,)] and store.get_meta("x") is None


def test_a_read_only_store_refuses_writes_in_one_line(tmp_path):
    notes_run(tmp_path)
    with RunStore(tmp_path, read_only=True, tables=(NOTES,)) as store:
        assert store.query("SELECT text FROM notes") == [("first",)]
        with pytest.raises(StoreError, match="cannot be written"):
            store.execute("INSERT INTO notes (text) VALUES ('b')")


def test_a_new_database_records_the_version_of_each_part(tmp_path):
    with RunStore(tmp_path, create=True, tables=(NOTES,)) as store:
        assert store.table_versions() == {"notes": 1} and store.get_meta("schema_version") == 1


def test_tables_added_to_an_open_store_are_versioned_and_a_read_only_one_reads_them_empty(tmp_path):
    with RunStore(tmp_path, create=True) as store:
        store.ensure_tables(NOTES)
        assert store.table_versions() == {"notes": 1}
    with RunStore(tmp_path / "b", create=True):
        pass
    before = snapshot(tmp_path / "b")
    with RunStore(tmp_path / "b", read_only=True) as store:
        store.ensure_tables(NOTES)
        assert store.query("SELECT * FROM notes") == []
    assert snapshot(tmp_path / "b") == before


def test_older_tables_are_migrated_when_opened_to_write(tmp_path):
    notes_run(tmp_path)
    with RunStore(tmp_path, tables=(NOTES_V2,)) as store:
        assert store.table_versions() == {"notes": 2}
        assert store.query("SELECT text, author FROM notes") == [("first", None)]
    with RunStore(tmp_path, tables=(NOTES_V2,)) as store:  # once only
        store.execute("INSERT INTO notes (text, author) VALUES ('b', 'me')")


def test_older_tables_are_read_upgraded_without_changing_the_file(tmp_path):
    notes_run(tmp_path)
    before = snapshot(tmp_path)
    with RunStore(tmp_path, read_only=True, tables=(NOTES_V2,)) as store:
        assert store.query("SELECT text, author FROM notes") == [("first", None)]
        assert store.table_versions() == {"notes": 2}
    assert snapshot(tmp_path) == before
    with RunStore(tmp_path, read_only=True) as store:
        store.ensure_tables(NOTES_V2)  # declared after opening
        assert store.query("SELECT author FROM notes") == [(None,)]
    assert snapshot(tmp_path) == before


def test_a_migration_may_be_a_function_of_the_connection(tmp_path):
    def fill_author(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE notes ADD COLUMN author TEXT")
        conn.execute("UPDATE notes SET author = 'unknown'")

    notes_run(tmp_path)
    tables = Tables("notes", 2, NOTES_V2.ddl, migrations={1: fill_author})
    with RunStore(tmp_path, tables=(tables,)) as store:
        assert store.query("SELECT author FROM notes") == [("unknown",)]


def test_tables_of_a_newer_version_are_refused_untouched_with_upgrade_advice(tmp_path):
    with RunStore(tmp_path, create=True, tables=(NOTES_V2,)):
        pass
    before = snapshot(tmp_path)
    for mode in ({}, {"read_only": True}):
        with pytest.raises(
            StoreError, match=r"newer archsearch \(its notes tables have version 2.*upgrade"
        ) as err:
            RunStore(tmp_path, tables=(NOTES,), **mode)
        assert "\n" not in str(err.value)
    assert snapshot(tmp_path) == before


def test_an_older_version_without_a_migration_step_is_refused(tmp_path):
    notes_run(tmp_path)
    tables = Tables("notes", 3, NOTES_V2.ddl, migrations={2: "SELECT 1"})
    with pytest.raises(StoreError, match="version 1, which this archsearch cannot upgrade to 3"):
        RunStore(tmp_path, tables=(tables,))
    with RunStore(tmp_path, read_only=True) as store:  # the failed upgrade was rolled back
        assert store.table_versions() == {"notes": 1}


def test_tables_of_the_current_version_with_another_schema_are_refused(tmp_path):
    notes_run(tmp_path)
    other = Tables("notes", 1, "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, title TEXT);")
    with pytest.raises(StoreError, match="another schema: its table notes has no column title"):
        RunStore(tmp_path, read_only=True, tables=(other,))


def test_a_declaration_of_tables_is_checked(tmp_path):
    with pytest.raises(ValueError, match="starts at 1"):
        Tables("notes", 0, NOTES.ddl)
    with pytest.raises(ValueError, match="no CREATE TABLE"):
        Tables("notes", 1, "CREATE INDEX x ON notes (text)")
    with pytest.raises(ValueError, match="two different declarations of the notes tables"):
        RunStore(tmp_path, create=True, tables=(NOTES, NOTES_V2))


def test_a_corrupt_table_versions_entry_is_one_line(tmp_path):
    notes_run(tmp_path)
    conn = sqlite3.connect(tmp_path / "study.db", isolation_level=None)
    conn.execute("UPDATE meta SET value = '\"x\"' WHERE key = 'table_versions'")
    conn.close()
    with pytest.raises(StoreError, match="its table_versions is 'x'"):
        RunStore(tmp_path, read_only=True)


def test_older_tables_of_a_killed_run_are_read_upgraded_with_its_wal(tmp_path):
    notes_run(tmp_path / "live")
    writer = sqlite3.connect(tmp_path / "live" / "study.db", isolation_level=None)
    writer.execute("INSERT INTO notes (text) VALUES ('in the wal')")
    killed = tmp_path / "killed"  # the files as a kill -9 leaves them, without the -shm
    killed.mkdir()
    for name in ("study.db", "study.db-wal"):
        (killed / name).write_bytes((tmp_path / "live" / name).read_bytes())
    writer.close()
    before = snapshot(killed)
    with RunStore(killed, read_only=True, tables=(NOTES_V2,)) as store:
        assert store.query("SELECT text, author FROM notes ORDER BY id") == [
            ("first", None),
            ("in the wal", None),
        ]
    assert snapshot(killed) == before
