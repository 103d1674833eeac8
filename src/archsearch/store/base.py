"""The run database itself: opening ``DIR/study.db`` (also read-only, also on read-only media), its
transactions, its meta table, the kind of run it holds, and the versions and migrations of the tables each
kind of run declares.

A kind of run declares its tables as ``Tables`` (a part: its DDL, its version, the steps from older
versions). The version of each part is kept in the meta table (``table_versions``); a database written
before parts had versions holds version 1 of every part whose tables it has. ``schema_version`` is the
version of this base (the meta table and the way parts are versioned). This module imports neither torch
nor numpy: reading the kind of a run stays cheap.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from archsearch.errors import StoreError

log = logging.getLogger(__name__)

DB_NAME = "study.db"
SCHEMA_VERSION = 1
"""The version of the base: the meta table and ``table_versions``."""
KINDS = ("study", "oneshot", "zero")
"""The kinds of run (meta ``kind``); a database without one holds a study of trials."""
TABLE_VERSIONS_KEY = "table_versions"
"""The meta key holding the version of each part's tables, ``{part: version}``."""
LEGACY_TABLE_VERSION = 1
"""The version of a part whose tables a database has without ``table_versions`` naming it."""

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SQLITE_HEADER = b"SQLite format 3\x00"

Migration = str | Callable[[sqlite3.Connection], None]
"""One step from a part's version v to v + 1: SQL statements separated by ``;`` or a function of the
connection, run inside the transaction that records the new version."""


@dataclass(frozen=True)
class Tables:
    """The tables one part of a run owns (``trials``, ``epochs``, ``zero``...): ``ddl`` (CREATE TABLE IF
    NOT EXISTS statements) at ``version``, and ``migrations[v]``, the step from version v to v + 1.

    Tables the DDL gains without a new version (CREATE IF NOT EXISTS adds them to older databases) need
    no migration; a changed column does."""

    part: str
    version: int
    ddl: str
    migrations: Mapping[int, Migration] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"tables {self.part}: a version starts at 1, not {self.version}")
        if not table_statements(self.ddl):
            raise ValueError(f"tables {self.part}: no CREATE TABLE IF NOT EXISTS statement in its DDL")


def table_statements(ddl: str) -> dict[str, str]:
    """The CREATE TABLE IF NOT EXISTS statements of ``ddl`` by table name."""
    statements = {}
    for statement in ddl.split(";"):
        words = statement.split()
        if words[:5] == ["CREATE", "TABLE", "IF", "NOT", "EXISTS"]:
            statements[words[5].split("(")[0]] = statement.strip()
    return statements


@functools.cache
def _columns_of(ddl: str) -> dict[str, frozenset[str]]:
    """The columns of each table of ``ddl``, read off an in-memory database built from it."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(ddl)
        return {
            name: frozenset(c for (c,) in conn.execute("SELECT name FROM pragma_table_info(?)", (name,)))
            for name in table_statements(ddl)
        }
    finally:
        conn.close()


def error_name(exc: sqlite3.Error) -> str:
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


def _uri(path: Path, query: str) -> str:
    return "file:" + urllib.parse.quote(str(path.absolute())) + "?" + query


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class RunStore:
    """The database of the run in ``directory`` (``directory/study.db``), with the tables of ``TABLES``
    (a kind's store class sets them) and of ``tables``.

    ``create`` makes it (and its directory) when missing. ``read_only`` opens an existing one without
    changing a byte of it, also on read-only media: no schema, no WAL switch, no meta writes; tables it
    lacks read as empty, and tables of an older version are upgraded in a private copy. Every open first
    checks that the file is an archsearch run database and refuses any other file untouched; failures to
    open or commit (disk full, read-only place, another or a newer schema) are one-line StoreErrors.
    """

    TABLES: ClassVar[tuple[Tables, ...]] = ()

    def __init__(
        self,
        directory: str | Path,
        create: bool = False,
        read_only: bool = False,
        tables: Sequence[Tables] = (),
    ) -> None:
        if create and read_only:
            raise ValueError("a store cannot be created read-only")
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.read_only = read_only
        self._closed = False
        self._new = create  # a store being made: a failure means starting again, not resuming
        self._copy: Path | None = None  # a private copy read instead of the database
        self._tables = _distinct((*self.TABLES, *tables))
        try:
            exists = self.path.is_file()
        except OSError as exc:
            raise StoreError(f"cannot reach {self.path}: {exc.strerror}") from exc
        if not exists and (not create or self.path.exists()):
            if self.path.exists():
                raise StoreError(f"{self.path} is not a file, so not an archsearch run database")
            raise StoreError(
                f"no archsearch run in {self.directory} (expected {self.path}); start one with `archsearch "
                "search` (or `archsearch oneshot`, `archsearch zero`)"
            )
        if read_only:
            self._check_header(new=False)
            self._conn = self._connect_read_only()
            try:
                self._check_run_database(self._conn, new=False)
                self._prepare_read_only(self._tables)
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

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the kind of run ----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """The kind of run the database holds (meta ``kind``): "study", "oneshot" or "zero"; "study" when
        the database names none (studies were written without one)."""
        kind = self.get_meta("kind")
        return "study" if kind is None else str(kind)

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
        an archsearch run database whose base and tables this archsearch reads. ``new`` accepts an empty
        database."""
        try:
            tables = _present_tables(conn)
            if not tables and new:
                return None
            if not {"key", "value"} <= tables.get("meta", frozenset()):
                raise StoreError(f"{self.path} is not an archsearch run database")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            versions_row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (TABLE_VERSIONS_KEY,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable study database: {exc}") from exc
        version = None if row is None else _json_or_text(row[0])
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
        stored = _versions(None if versions_row is None else _json_or_text(versions_row[0]), self.path)
        for part in self._tables:
            self._check_part(part, _part_version(part, stored, tables), tables)
        return int(version)

    def _check_part(self, part: Tables, version: int | None, tables: Mapping[str, frozenset[str]]) -> None:
        """Refuse tables of a newer version than ``part``'s, or of its version but lacking its columns."""
        if version is None or version < part.version:
            return  # new or upgraded: created or migrated when opened
        if version > part.version:
            raise StoreError(
                f"{self.path} was written by a newer archsearch (its {part.part} tables have version "
                f"{version}; this one reads {part.version}): upgrade archsearch to open it"
            )
        for name, columns in _columns_of(part.ddl).items():
            missing = sorted(columns - tables[name]) if name in tables else []
            if missing:
                raise StoreError(
                    f"{self.path} is a database of another schema: its table {name} has no column {missing[0]}"
                )

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
                conn = self._open(self._copy_database(), "mode=ro")
            else:
                try:
                    conn = self._open(self.path, "mode=ro")
                except sqlite3.OperationalError as exc:
                    if error_name(exc) != "SQLITE_CANTOPEN":
                        raise
                    conn = self._open(self._copy_database(), "mode=ro")
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

    def _copy_database(self) -> Path:
        """A private copy of the database and its WAL (when it has one), read instead of it."""
        wal = self.path.with_name(DB_NAME + "-wal")
        try:
            self._copy = Path(tempfile.mkdtemp(prefix="archsearch-read-"))
            shutil.copyfile(self.path, self._copy / DB_NAME)
            if wal.exists():
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
                conn.execute(_META_DDL)
                if version is None:  # a new database: its schema and version in one commit
                    conn.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        (json.dumps(SCHEMA_VERSION),),
                    )
                self._upgrade(conn, self._tables)
        except sqlite3.Error as exc:
            self.close()
            raise self._failure(exc) from exc
        except BaseException:
            self.close()
            raise
        return self._conn

    def _failure(self, exc: sqlite3.Error) -> StoreError:
        """The one-line error for a failure to open or write the database."""
        name = error_name(exc)
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
    def ensure_tables(self, tables: Tables | str) -> None:
        """Add the tables of ``tables`` that the database lacks, upgrading them first when they are of an
        older version (a newer one is refused). A plain DDL string is tables without a version.

        A read-only store adds missing tables as empty temporary tables (a run written before they existed
        reads as having none of their rows) and upgrades older ones in a private copy: its file is left as
        it is."""
        if isinstance(tables, str):
            statements = table_statements(tables)
            if not self.read_only:
                with self.transaction() as conn:
                    for statement in statements.values():
                        conn.execute(statement)
            else:
                self._add_temporary(statements)
            return
        present = _present_tables(self._conn)
        self._check_part(tables, _part_version(tables, self.table_versions(), present), present)
        if tables not in self._tables:
            self._tables = (*self._tables, tables)
        if self.read_only:
            self._prepare_read_only((tables,))
            return
        with self.transaction() as conn:
            self._upgrade(conn, (tables,))

    def table_versions(self) -> dict[str, int]:
        """The version of each part's tables, as recorded (parts of a database written before versions
        were recorded are missing)."""
        return _versions(self.get_meta(TABLE_VERSIONS_KEY), self.path)

    def _upgrade(self, conn: sqlite3.Connection, parts: Sequence[Tables]) -> None:
        """Within the open transaction: migrate each part to its version, add the tables it lacks and
        record the versions."""
        recorded = _versions(_meta_value(conn, TABLE_VERSIONS_KEY), self.path)
        versions = dict(recorded)
        present = _present_tables(conn)
        for part in parts:
            version = _part_version(part, recorded, present)
            if version is not None and version > part.version:  # another process wrote it meanwhile
                self._check_part(part, version, present)
            for step in range(version or part.version, part.version):
                migration = part.migrations.get(step)
                if migration is None:
                    raise StoreError(
                        f"{self.path}: its {part.part} tables have version {version}, which this archsearch "
                        f"cannot upgrade to {part.version}; open it with the archsearch that wrote it"
                    )
                log.info("%s: upgrading the %s tables from version %d", self.path, part.part, step)
                if isinstance(migration, str):
                    for statement in _statements(migration):
                        conn.execute(statement)
                else:
                    migration(conn)
            for statement in table_statements(part.ddl).values():
                conn.execute(statement)
            versions[part.part] = part.version
        if versions != recorded:
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (TABLE_VERSIONS_KEY, json.dumps(versions))
            )

    def _prepare_read_only(self, parts: Sequence[Tables]) -> None:
        """Make ``parts`` readable without writing the database: upgrade older tables in a private copy,
        add missing ones as empty temporary tables."""
        recorded = self.table_versions()
        present = _present_tables(self._conn)
        older = [p for p in parts if (v := _part_version(p, recorded, present)) is not None and v < p.version]
        if older:
            self._read_upgraded_copy(older)
            present = _present_tables(self._conn)
        for part in parts:
            self._add_temporary({n: s for n, s in table_statements(part.ddl).items() if n not in present})

    def _read_upgraded_copy(self, parts: Sequence[Tables]) -> None:
        """Read, from now on, a private copy of the database with ``parts`` upgraded in it."""
        if self._copy is None:
            self._conn.close()
            source = self._copy_database()
        else:  # already reading a copy (of a WAL database): upgrade it in place
            self._conn.close()
            source = self._copy / DB_NAME
        try:
            conn = sqlite3.connect(source, isolation_level=None, timeout=30)
            self._conn = conn
            with self._writing_copy():
                with self.transaction() as transaction:
                    self._upgrade(transaction, parts)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} cannot be upgraded to be read: {exc}") from exc

    @contextmanager
    def _writing_copy(self) -> Iterator[None]:
        self.read_only = False
        try:
            yield
        finally:
            self.read_only = True

    def _add_temporary(self, statements: Mapping[str, str]) -> None:
        present = _present_tables(self._conn)
        missing = {n: s for n, s in statements.items() if n not in present}
        if not missing:
            return
        self._conn.execute("PRAGMA query_only = 0")  # temporary tables live in memory, not in the file
        try:
            for statement in missing.values():
                self._conn.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        finally:
            self._conn.execute("PRAGMA query_only = 1")

    # -- reading and writing ------------------------------------------------------------------------
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
        except AttributeError:  # never connected
            pass
        finally:
            self._drop_copy()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back when it raises. A failure of the
        database itself (disk full, read-only place, lock) becomes a StoreError after the rollback. Inside
        another transaction's block it joins that transaction."""
        if self._conn.in_transaction:
            yield self._conn
            return
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

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one SELECT (one statement reads one consistent snapshot)."""
        try:
            return [tuple(row) for row in self._conn.execute(sql, tuple(args)).fetchall()]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                raise self._failure(exc) from exc
            raise

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one writing statement in its own transaction (or in the one open); the rows it changed."""
        with self.transaction() as conn:
            return int(conn.execute(sql, tuple(args)).rowcount)

    # -- metadata ---------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        value = _meta_value(self._conn, key)
        return default if value is None else value


def _present_tables(conn: sqlite3.Connection) -> dict[str, frozenset[str]]:
    """The tables of the database (temporary ones included) and their columns."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " UNION SELECT name FROM sqlite_temp_master WHERE type = 'table'"
        ).fetchall()
    ]
    return {
        name: frozenset(c for (c,) in conn.execute("SELECT name FROM pragma_table_info(?)", (name,)))
        for name in names
    }


def _part_version(
    part: Tables, recorded: Mapping[str, int], present: Mapping[str, frozenset[str]]
) -> int | None:
    """The version of ``part``'s tables in the database; None when it has none of them."""
    if part.part in recorded:
        return recorded[part.part]
    if any(name in present for name in table_statements(part.ddl)):
        return LEGACY_TABLE_VERSION  # written before versions were recorded
    return None


def _meta_value(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def _json_or_text(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _versions(value: Any, path: Path) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()
    ):
        raise StoreError(f"{path} is not a readable study database: its {TABLE_VERSIONS_KEY} is {value!r}")
    return dict(value)


def _distinct(parts: Sequence[Tables]) -> tuple[Tables, ...]:
    seen: dict[str, Tables] = {}
    for part in parts:
        if part.part in seen and seen[part.part] != part:
            raise ValueError(f"two different declarations of the {part.part} tables")
        seen[part.part] = part
    return tuple(seen.values())
