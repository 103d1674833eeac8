"""Databases written before the store was split by kind (issue 16) open: the DDL below is the schema as
archsearch wrote it then (schema_version 1, no table versions, with or without meta.kind)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from archsearch.core import Architecture
from archsearch.errors import StoreError
from archsearch.store import RunStore, Tables, run_kind
from archsearch.store.codec import encode_state
from archsearch.store.sqlite import Store

OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number      INTEGER PRIMARY KEY,
    arch        TEXT NOT NULL,
    arch_str    TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reward      REAL,
    metrics     TEXT NOT NULL DEFAULT '{}',
    curve       TEXT NOT NULL DEFAULT '{}',
    cost_s      REAL,
    error       TEXT,
    info        TEXT NOT NULL DEFAULT '{}',
    ask_event   INTEGER NOT NULL,
    tell_event  INTEGER,
    started_at  REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event      INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS weights (
    number     INTEGER PRIMARY KEY,
    reward     REAL NOT NULL,
    created_at REAL NOT NULL,
    state      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    epoch         INTEGER PRIMARY KEY,
    metrics       TEXT NOT NULL,
    probabilities TEXT NOT NULL,
    arch          TEXT NOT NULL,
    arch_str      TEXT NOT NULL,
    wall_s        REAL NOT NULL,
    finished_at   REAL NOT NULL
);
"""

OLD_ZERO_TABLES = """
CREATE TABLE IF NOT EXISTS zero_progress (
    round INTEGER PRIMARY KEY, individuals INTEGER NOT NULL, elapsed_s REAL NOT NULL,
    best_fitness REAL, population_mean REAL, fec_hit_rate REAL, full_evaluations INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_best (
    round INTEGER PRIMARY KEY, individuals INTEGER NOT NULL, fitness REAL NOT NULL, program TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_experiments (
    experiment INTEGER PRIMARY KEY, round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    search_fitness REAL NOT NULL, select_fitness REAL NOT NULL, program TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    elapsed_s REAL NOT NULL, state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS zero_checkpoint_previous (
    id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL, individuals INTEGER NOT NULL,
    elapsed_s REAL NOT NULL, state BLOB NOT NULL
);
"""

ARCH = Architecture("toy", ((), 3, 3, (0,), 5, 1))


def old_database(directory: Path, kind: str | None = None, zero_tables: bool = False) -> Path:
    """A run database as archsearch wrote it before issue 16: one finished trial and its checkpoint (a
    study), or an epoch (oneshot), or a progress row (zero); meta.kind only when given."""
    directory.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(directory / "study.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(OLD_SCHEMA + (OLD_ZERO_TABLES if zero_tables else ""))
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (json.dumps(1),))
    if kind is not None:
        conn.execute("INSERT INTO meta VALUES ('kind', ?)", (json.dumps(kind),))
    conn.execute(
        "INSERT INTO trials (number, arch, arch_str, seed, status, reward, metrics, ask_event, tell_event,"
        " started_at, finished_at) VALUES (0, ?, 'a', 7, 'ok', 0.5, '{\"val_acc\": 0.5}', 0, 1, 1.0, 2.0)",
        (ARCH.to_json(),),
    )
    conn.execute(
        "INSERT INTO checkpoints (event, created_at, state) VALUES (1, 2.0, ?)", (encode_state({"n": 1}),)
    )
    conn.execute(
        "INSERT INTO epochs VALUES (0, '{\"loss\": 1.0}', '[[0.5, 0.5]]', ?, 'a', 3.0, 4.0)",
        (ARCH.to_json(),),
    )
    if zero_tables:
        conn.execute("INSERT INTO zero_progress VALUES (0, 10, 1.5, 0.9, 0.5, 0.0, 10)")
    conn.close()  # the last connection checkpoints the WAL into the file and removes it
    return directory


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_an_old_study_database_opens_read_only_unchanged(tmp_path):
    old_database(tmp_path)
    before = snapshot(tmp_path)
    with Store(tmp_path, read_only=True) as store:
        assert store.kind == "study" and store.table_versions() == {}
        (trial,) = store.trials()
        assert trial.arch == ARCH and trial.reward == 0.5 and trial.metrics == {"val_acc": 0.5}
        assert store.latest_checkpoint() == (1, {"n": 1})
    assert snapshot(tmp_path) == before
    assert run_kind(tmp_path) == "study" and snapshot(tmp_path) == before


def test_an_old_study_database_opened_to_resume_keeps_its_rows_and_records_its_table_versions(tmp_path):
    old_database(tmp_path)
    with Store(tmp_path) as store:
        assert store.table_versions() == {"checkpoints": 1, "trials": 1, "epochs": 1}
        assert [t.number for t in store.trials()] == [0] and store.count() == 1
        store.add_trial(1, ARCH, "b", seed=8, ask_event=2)
        assert store.get_meta("schema_version") == 1
    with Store(tmp_path, read_only=True) as store:
        assert [t.status for t in store.trials()] == ["ok", "running"]


@pytest.mark.parametrize("kind", ["oneshot", "zero"])
def test_an_old_run_database_with_a_kind_reads_as_that_kind(tmp_path, kind):
    old_database(tmp_path, kind, zero_tables=kind == "zero")
    assert run_kind(tmp_path) == kind
    with Store(tmp_path, read_only=True) as store:
        assert store.kind == kind
        assert [e.epoch for e in store.epochs()] == [0]


def test_an_old_zero_database_opens_with_the_zero_tables_declared_as_version_one(tmp_path):
    old_database(tmp_path, "zero", zero_tables=True)
    zero = Tables("zero", 1, OLD_ZERO_TABLES)
    before = snapshot(tmp_path)
    with RunStore(tmp_path, read_only=True, tables=(zero,)) as store:
        assert store.query("SELECT round, individuals FROM zero_progress") == [(0, 10)]
    assert snapshot(tmp_path) == before
    with RunStore(tmp_path, tables=(zero,)) as store:
        assert store.table_versions() == {"zero": 1}
        store.execute("INSERT INTO zero_best VALUES (0, 10, 0.9, 'p')")
        assert store.query("SELECT program FROM zero_best") == [("p",)]


def test_an_old_database_with_its_zero_tables_upgraded_by_a_migration(tmp_path):
    old_database(tmp_path, "zero", zero_tables=True)
    zero_v2 = Tables(
        "zero",
        2,
        OLD_ZERO_TABLES.replace(
            "full_evaluations INTEGER NOT NULL", "full_evaluations INTEGER NOT NULL, note TEXT"
        ),
        migrations={1: "ALTER TABLE zero_progress ADD COLUMN note TEXT"},
    )
    before = snapshot(tmp_path)
    with RunStore(tmp_path, read_only=True, tables=(zero_v2,)) as store:  # upgraded in a private copy
        assert store.query("SELECT round, note FROM zero_progress") == [(0, None)]
    assert snapshot(tmp_path) == before
    with RunStore(tmp_path, tables=(zero_v2,)) as store:
        assert store.table_versions()["zero"] == 2
        assert store.query("SELECT round, note FROM zero_progress") == [(0, None)]


def test_an_old_database_with_a_newer_schema_version_is_refused_with_upgrade_advice(tmp_path):
    old_database(tmp_path)
    conn = sqlite3.connect(tmp_path / "study.db", isolation_level=None)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    before = snapshot(tmp_path)
    for mode in ({}, {"read_only": True}):
        with pytest.raises(
            StoreError, match=r"newer archsearch \(schema version 2.*upgrade archsearch"
        ) as err:
            Store(tmp_path, **mode)
        assert "\n" not in str(err.value)
    with pytest.raises(StoreError, match="upgrade archsearch"):
        run_kind(tmp_path)
    assert snapshot(tmp_path) == before
