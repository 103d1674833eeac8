"""SQLite experiment database: one file per study directory, the single source of truth for resume.

Every trial row is written before its evaluation starts (status ``running``) and updated when it ends,
together with the strategy checkpoint, in one transaction. Trials carry the event numbers of their
``ask`` and ``tell`` so that a resumed study can replay, in order, what happened after its last
checkpoint (DESIGN.md, "Resume").
"""

from __future__ import annotations

import functools
import json
import logging
import math
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.core import Architecture, Result, TrialRecord
from archsearch.errors import StoreError
from archsearch.store.codec import LegacyStateError, StateFormatError, decode_state, encode_state

log = logging.getLogger(__name__)

DB_NAME = "study.db"
SCHEMA_VERSION = 1

_SCHEMA = """
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
# ``epochs`` holds the per-epoch records of one-shot searches (oneshot/run.py); a study of trials leaves it
# empty. ``weights`` holds the trained state_dicts (torch.save bytes, read only with weights_only=True) of
# the best trials, at most ``keep_weights`` of them. CREATE IF NOT EXISTS adds both to older databases (a
# read-only open adds them as empty temporary tables), so the schema version stays 1.


@dataclass
class EpochRecord:
    """One epoch of a one-shot search: its metrics, the distribution over ops ([edges][ops]) at its end,
    the architecture derived from it and the epoch's wall time."""

    epoch: int
    metrics: dict[str, float]
    probabilities: list[list[float]]
    arch: Architecture
    arch_str: str
    wall_s: float
    finished_at: float = 0.0


def state_to_bytes(state: dict[str, Any]) -> bytes:
    """A checkpoint in the stored state format (``store/codec.py``): data only, never a pickle."""
    return encode_state(state)


def state_from_bytes(blob: bytes) -> dict[str, Any]:
    """The checkpoint ``state_to_bytes`` wrote; decoding runs no code. StateFormatError when it is corrupt,
    LegacyStateError when an earlier archsearch pickled it."""
    state = decode_state(blob)
    if not isinstance(state, dict):
        raise StateFormatError("the checkpoint is not a state dictionary")
    return state


_SQLITE_HEADER = b"SQLite format 3\x00"


def _table_statements(ddl: str) -> dict[str, str]:
    """The CREATE TABLE statements of ``ddl`` by table name."""
    statements = {}
    for statement in ddl.split(";"):
        words = statement.split()
        if words[:5] == ["CREATE", "TABLE", "IF", "NOT", "EXISTS"]:
            statements[words[5].split("(")[0]] = statement.strip()
    return statements


@functools.cache
def _expected_columns() -> dict[str, set[str]]:
    """The columns of each table of the schema, read off an in-memory database built from it."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        return {
            name: {column for (column,) in conn.execute("SELECT name FROM pragma_table_info(?)", (name,))}
            for name in _table_statements(_SCHEMA)
        }
    finally:
        conn.close()


def _error_name(exc: sqlite3.Error) -> str:
    """SQLite's name of the error (SQLITE_FULL, SQLITE_READONLY, ...), from its message before Python 3.11."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        return name
    message = str(exc)
    for fragment, fallback in (
        ("database or disk is full", "SQLITE_FULL"),
        ("readonly database", "SQLITE_READONLY"),
        ("unable to open database file", "SQLITE_CANTOPEN"),
        ("database is locked", "SQLITE_BUSY"),
        ("file is not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
    ):
        if fragment in message:
            return fallback
    return "SQLITE_ERROR"


def _store_checkpoint(
    conn: sqlite3.Connection, event: int, created_at: float, blob: bytes, keep: int
) -> None:
    """Add a checkpoint and keep only the newest ``keep``: resume needs the latest, or one before it when
    the latest cannot be read."""
    conn.execute(
        "INSERT INTO checkpoints (event, created_at, state) VALUES (?, ?, ?)", (event, created_at, blob)
    )
    conn.execute(
        "DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT ?)",
        (keep,),
    )


def _store_weights(
    conn: sqlite3.Connection, number: int, reward: float, created_at: float, blob: bytes, keep: int
) -> bool:
    """Keep ``blob``, trial ``number``'s trained weights, when its ``reward`` is among the best ``keep`` of
    the weights kept, and delete the weights that fall out of the best ``keep``; whether it was kept.

    Ranked as ``best_trial`` ranks trials: higher reward first, the earlier trial first on ties, so the
    best trial's weights are always among those kept."""
    if keep < 1 or math.isnan(reward):
        return False
    if len(blob) > conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH):
        log.warning("trial %d: its weights (%d bytes) are too large for the database", number, len(blob))
        return False
    kept = conn.execute("SELECT number, reward FROM weights WHERE number != ?", (number,)).fetchall()
    ranked = sorted(
        [(n, r) for n, r in kept if isinstance(r, int | float) and not math.isnan(r)] + [(number, reward)],
        key=lambda row: (-row[1], row[0]),
    )
    best = {n for n, _ in ranked[:keep]}
    conn.executemany("DELETE FROM weights WHERE number = ?", [(n,) for n, _ in kept if n not in best])
    if number not in best:
        return False
    conn.execute(
        "INSERT OR REPLACE INTO weights (number, reward, created_at, state) VALUES (?, ?, ?, ?)",
        (number, reward, created_at, blob),
    )
    return True


def _uri(path: Path, query: str) -> str:
    return "file:" + urllib.parse.quote(str(path.absolute())) + "?" + query


class Store:
    """The study database in ``directory/study.db``.

    ``create`` makes it (and its directory) when missing. ``read_only`` opens an existing one without
    changing a byte of it, also on read-only media: no schema, no WAL switch, no meta writes. Every open
    first checks that the file is an archsearch run database and refuses any other file untouched; failures
    to open or commit (disk full, read-only place, another schema) are one-line StoreErrors.
    """

    def __init__(self, directory: str | Path, create: bool = False, read_only: bool = False) -> None:
        if create and read_only:
            raise ValueError("a store cannot be created read-only")
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.read_only = read_only
        self._closed = False
        self._new = create  # a store being made: a failure means starting again, not resuming
        self._copy: Path | None = None  # a private copy read instead of a WAL database that cannot be opened
        try:
            exists = self.path.is_file()
        except OSError as exc:
            raise StoreError(f"cannot reach {self.path}: {exc.strerror}") from exc
        if not exists and (not create or self.path.exists()):
            if self.path.exists():
                raise StoreError(f"{self.path} is not a file, so not an archsearch run database")
            raise StoreError(
                f"no study in {self.directory} (expected {self.path}); start one with `archsearch search`"
            )
        if read_only:
            self._check_header(new=False)
            self._conn = self._connect_read_only()
            try:
                self._check_run_database(self._conn, new=False)
                self.ensure_tables(_SCHEMA)  # tables added after a run was written read as empty
            except BaseException:
                self.close()
                raise
            return
        version = None
        if exists and self._check_header(new=create):
            conn = self._connect_read_only()
            try:
                version = self._check_run_database(conn, new=create)
            finally:
                conn.close()
                self._drop_copy()
        self._conn = self._connect_writable(version)

    # -- opening ------------------------------------------------------------------------------------
    def _check_header(self, new: bool) -> bool:
        """False for an empty file (a store being made, when ``new``); refuses a file that is not SQLite."""
        try:
            with self.path.open("rb") as file:
                header = file.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        if not header and new:
            return False
        if header != _SQLITE_HEADER:
            raise StoreError(f"{self.path} is not a readable study database: not an SQLite file")
        return True

    def _check_run_database(self, conn: sqlite3.Connection, new: bool) -> int | None:
        """The schema version of the database, after checking through ``conn``, without writing, that it is
        an archsearch run database of a schema this archsearch reads. ``new`` accepts an empty database."""
        try:
            tables = {
                name: {column for (column,) in conn.execute("SELECT name FROM pragma_table_info(?)", (name,))}
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            }
            if not tables and new:
                return None
            if not {"key", "value"} <= tables.get("meta", set()):
                raise StoreError(f"{self.path} is not an archsearch run database")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable study database: {exc}") from exc
        try:
            version = None if row is None else json.loads(row[0])
        except ValueError:
            version = row[0]
        if version is None:
            if new:
                return None
            raise StoreError(f"{self.path} is not an archsearch run database (it has no schema version)")
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer archsearch (schema version {version}; this one reads "
                f"{SCHEMA_VERSION}): upgrade archsearch to open it"
            )
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this archsearch reads {SCHEMA_VERSION}"
            )
        for name, columns in _expected_columns().items():
            missing = sorted(columns - tables[name]) if name in tables else []
            if missing:
                raise StoreError(
                    f"{self.path} is a database of another schema: its table {name} has no column {missing[0]}"
                )
        return int(version)

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write the database and creates no file beside it.

        Without a WAL file nothing is waiting to be checkpointed and no writer is open, so the file is read
        as it is (``immutable``: no -wal/-shm appear next to it). With one and its -shm (a live or killed
        run) SQLite's read-only mode reads the WAL too; without the -shm, which that mode would have to
        create, or where it cannot open (a read-only medium), a private copy of the database and its WAL is
        read instead."""
        wal = self.path.with_name(DB_NAME + "-wal")
        try:
            wal.stat()  # even an empty one: a writer may hold the database open
            pending = True
        except FileNotFoundError:
            pending = False
        except OSError as exc:
            raise StoreError(f"cannot read {wal}: {exc.strerror}") from exc
        try:
            if not pending:
                conn = self._open(self.path, "mode=ro&immutable=1")
            elif not self.path.with_name(DB_NAME + "-shm").exists():
                conn = self._open(self._copy_with_wal(wal), "mode=ro")
            else:
                try:
                    conn = self._open(self.path, "mode=ro")
                except sqlite3.OperationalError as exc:
                    if _error_name(exc) != "SQLITE_CANTOPEN":
                        raise
                    conn = self._open(self._copy_with_wal(wal), "mode=ro")
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.DatabaseError as exc:
            self._drop_copy()
            raise StoreError(f"{self.path} is not a readable study database: {exc}") from exc
        return conn

    @staticmethod
    def _open(path: Path, query: str) -> sqlite3.Connection:
        conn = sqlite3.connect(_uri(path, query), uri=True, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file (and its WAL) now
        except BaseException:
            conn.close()
            raise
        return conn

    def _copy_with_wal(self, wal: Path) -> Path:
        try:
            self._copy = Path(tempfile.mkdtemp(prefix="archsearch-read-"))
            shutil.copyfile(self.path, self._copy / DB_NAME)
            shutil.copyfile(wal, self._copy / wal.name)
        except OSError as exc:  # the WAL went away meanwhile (its writer closed), or the temp disk is full
            self._drop_copy()
            raise StoreError(f"cannot read {self.path} now ({exc.strerror}); try again") from None
        return self._copy / DB_NAME

    def _drop_copy(self) -> None:
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    def _connect_writable(self, version: int | None) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            raise StoreError(f"{self.directory} is a file, not a directory") from exc
        except NotADirectoryError as exc:
            raise StoreError(f"{self.directory} cannot be made: a part of its path is a file") from exc
        except OSError as exc:
            raise StoreError(f"cannot make the directory {self.directory}: {exc.strerror}") from exc
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            with self.transaction() as conn:
                for statement in _table_statements(_SCHEMA).values():
                    conn.execute(statement)
                if version is None:  # a new database: its schema and version in one commit
                    conn.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        (json.dumps(SCHEMA_VERSION),),
                    )
        except sqlite3.Error as exc:
            self.close()
            raise self._failure(exc) from exc
        except BaseException:
            self.close()
            raise
        return self._conn

    def _failure(self, exc: sqlite3.Error) -> StoreError:
        """The one-line error for a failure to open or write the database."""
        name = _error_name(exc)
        if name.startswith("SQLITE_FULL") and self._new:
            return StoreError(
                f"the disk holding {self.path} is full: free some space, then start the run again"
            )
        if name.startswith("SQLITE_FULL"):
            kind = self._meta_or_none("kind")
            resume = (
                f"archsearch zero resume {self.directory}"
                if kind == "zero"
                else f"archsearch resume {self.directory}"
            )
            return StoreError(
                f"the disk holding {self.path} is full; the last step was rolled back and the database is "
                f"intact: free some space, then continue with `{resume}`"
            )
        if name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN") or name == "SQLITE_PERM":
            return StoreError(
                f"{self.path} cannot be written (read-only file, directory or medium): {exc}; read-only "
                "commands (status, best, report and export with --out elsewhere) still read it"
            )
        if name.startswith("SQLITE_BUSY"):
            return StoreError(f"{self.path} is locked by another process: {exc}")
        return StoreError(f"{self.path}: {exc}")

    def _meta_or_none(self, key: str) -> Any:
        try:
            return self.get_meta(key)
        except (sqlite3.Error, ValueError, AttributeError):  # not open yet, or unreadable: no kind
            return None

    # -- tables -------------------------------------------------------------------------------------
    def ensure_tables(self, ddl: str) -> None:
        """Add the tables of ``ddl`` (CREATE TABLE IF NOT EXISTS statements) that the database lacks. A
        read-only store adds them as empty temporary tables: a run written before they existed reads as
        having none of their rows, and its file is left as it is."""
        statements = _table_statements(ddl)
        if not self.read_only:
            with self.transaction() as conn:
                for statement in statements.values():
                    conn.execute(statement)
            return
        present = {
            row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        self._conn.execute("PRAGMA query_only = 0")  # temporary tables live in memory, not in the file
        try:
            for name, statement in statements.items():
                if name not in present:
                    self._conn.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        finally:
            self._conn.execute("PRAGMA query_only = 1")

    def close(self) -> None:
        """Close the database (twice is harmless); a failure to close is logged, never raised, so it cannot
        hide the error that led to closing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._conn.close()
        except sqlite3.Error as exc:
            log.warning("closing %s: %s", self.path, exc)
        finally:
            self._drop_copy()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back when it raises. A failure of the
        database itself (disk full, read-only place, lock) becomes a StoreError after the rollback."""
        try:
            self._conn.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._failure(exc) from exc
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:  # SQLite may already have rolled back (disk full)
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error as rollback_error:
                    log.warning("rolling back %s: %s", self.path, rollback_error)
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                raise self._failure(exc) from exc
            raise

    # -- metadata ---------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- trials -----------------------------------------------------------------------------------
    def add_trial(self, number: int, arch: Architecture, arch_str: str, seed: int, ask_event: int) -> None:
        """Record a trial before its evaluation starts (status ``running``)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO trials (number, arch, arch_str, seed, status, ask_event, started_at)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (number, arch.to_json(), arch_str, seed, ask_event, time.time()),
            )

    def finish_trial(
        self,
        number: int,
        result: Result,
        reward: float,
        tell_event: int,
        info: dict[str, float] | None = None,
        checkpoint: dict[str, Any] | None = None,
        weights: bytes | None = None,
        keep_weights: int = 0,
    ) -> bool:
        """Record a trial's result and, in the same transaction, the strategy state after its tell and the
        trial's trained ``weights`` (``torch.save`` bytes of its state_dict) when its reward is among the
        best ``keep_weights`` kept (the weights that fall out of them are deleted); whether they were kept."""
        blob = None if checkpoint is None else state_to_bytes(checkpoint)
        now = time.time()
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status=?, reward=?, metrics=?, curve=?, cost_s=?, error=?, info=?,"
                " tell_event=?, finished_at=? WHERE number=? AND status='running'",
                (
                    result.status,
                    reward,
                    json.dumps(result.metrics),
                    json.dumps(result.curve),
                    result.cost_s,
                    result.error,
                    json.dumps(info or {}),
                    tell_event,
                    now,
                    number,
                ),
            )
            if cur.rowcount != 1:
                raise StoreError(f"trial {number} is not running; it cannot be finished twice")
            if blob is not None:
                _store_checkpoint(conn, tell_event, now, blob, keep=3)
            if weights is None or not result.ok:
                return False
            return _store_weights(conn, number, reward, now, weights, keep_weights)

    def weights(self, number: int) -> bytes | None:
        """The trained weights kept for trial ``number`` (``torch.save`` bytes of its state_dict, to be read
        with ``torch.load(..., weights_only=True)`` only); None when they were not kept."""
        row = self._conn.execute("SELECT state FROM weights WHERE number = ?", (number,)).fetchone()
        return None if row is None or not isinstance(row[0], bytes) else row[0]

    def kept_weights(self) -> list[int]:
        """The numbers of the trials whose weights are kept, best first."""
        rows = self._conn.execute("SELECT number FROM weights ORDER BY reward DESC, number").fetchall()
        return [int(n) for (n,) in rows]

    def add_checkpoint(self, event: int, state: dict[str, Any]) -> None:
        blob = state_to_bytes(state)
        with self.transaction() as conn:
            _store_checkpoint(conn, event, time.time(), blob, keep=3)

    def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        """(event, state) of the newest checkpoint that decodes, None when there is none.

        A corrupt newest checkpoint is skipped with a warning and the one before it is returned (the
        caller redoes what came after it). LegacyStateError when the newest readable one was pickled by
        an earlier archsearch (never unpickled); StateFormatError when every checkpoint is corrupt."""
        ids = [row_id for (row_id,) in self._conn.execute("SELECT id FROM checkpoints ORDER BY id DESC")]
        rows = (  # one blob at a time: a run with many checkpoints loads only what it needs
            self._conn.execute("SELECT id, event, state FROM checkpoints WHERE id = ?", (row_id,)).fetchone()
            for row_id in ids
        )
        for row_id, event, blob in rows:
            try:
                if not isinstance(event, int):
                    raise StateFormatError(f"its event is {event!r}, not a number")
                return event, state_from_bytes(blob)
            except LegacyStateError:
                raise LegacyStateError(
                    f"{self.path} holds a checkpoint pickled by an earlier archsearch, which is never"
                    " unpickled (it could run code); start the run again in a new directory, or finish it"
                    " with the archsearch version that wrote it"
                ) from None
            except StateFormatError as exc:
                log.warning("%s: checkpoint %s (event %s) cannot be read, %s", self.path, row_id, event, exc)
        if ids:
            raise StateFormatError(f"no checkpoint in {self.path} can be read")
        return None

    # -- epochs of one-shot searches --------------------------------------------------------------
    def add_epoch(self, record: EpochRecord, checkpoint: dict[str, Any]) -> None:
        """Record a finished epoch and, in the same transaction, the method's state after it."""
        blob = state_to_bytes(checkpoint)
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO epochs (epoch, metrics, probabilities, arch, arch_str, wall_s, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.epoch,
                    json.dumps(record.metrics),
                    json.dumps(record.probabilities),
                    record.arch.to_json(),
                    record.arch_str,
                    record.wall_s,
                    now,
                ),
            )
            _store_checkpoint(conn, record.epoch, now, blob, keep=2)
        record.finished_at = now

    def epochs(self) -> list[EpochRecord]:
        rows = self._conn.execute(
            "SELECT epoch, metrics, probabilities, arch, arch_str, wall_s, finished_at FROM epochs ORDER BY epoch"
        ).fetchall()
        return [
            EpochRecord(
                epoch=int(epoch),
                metrics=json.loads(metrics),
                probabilities=json.loads(probabilities),
                arch=Architecture.from_json(arch),
                arch_str=arch_str,
                wall_s=float(wall_s),
                finished_at=float(finished_at),
            )
            for epoch, metrics, probabilities, arch, arch_str, wall_s, finished_at in rows
        ]

    def trials(self, status: str | None = None) -> list[TrialRecord]:
        query = "SELECT * FROM trials" + (" WHERE status = ?" if status else "") + " ORDER BY number"
        cursor = self._conn.execute(query, (status,) if status else ())
        names = [d[0] for d in cursor.description]
        return [self._record(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def discard_trials_from(self, number: int) -> list[int]:
        """Delete the trials numbered ``number`` and above; their numbers. Only for a driver that resumes
        from a checkpoint older than those trials (its newest could not be read) and runs them again."""
        with self.transaction() as conn:
            found = [
                int(n) for (n,) in conn.execute("SELECT number FROM trials WHERE number >= ?", (number,))
            ]
            conn.execute("DELETE FROM trials WHERE number >= ?", (number,))
            conn.execute("DELETE FROM weights WHERE number >= ?", (number,))
        return found

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        return int(self._conn.execute("SELECT COUNT(*) FROM trials WHERE status=?", (status,)).fetchone()[0])

    @staticmethod
    def _record(row: dict[str, Any]) -> TrialRecord:
        return TrialRecord(
            number=row["number"],
            arch=Architecture.from_json(row["arch"]),
            arch_str=row["arch_str"],
            seed=row["seed"],
            status=row["status"],
            ask_event=row["ask_event"],
            started_at=row["started_at"],
            reward=row["reward"],
            metrics=json.loads(row["metrics"]),
            curve=json.loads(row["curve"]),
            cost_s=row["cost_s"],
            error=row["error"],
            info=json.loads(row["info"]),
            tell_event=row["tell_event"],
            finished_at=row["finished_at"],
        )
