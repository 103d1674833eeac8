"""SQLite experiment database: one file per study directory, the single source of truth for resume.

Every trial row is written before its evaluation starts (status ``running``) and updated when it ends,
together with the strategy checkpoint, in one transaction. Trials carry the event numbers of their
``ask`` and ``tell`` so that a resumed study can replay, in order, what happened after its last
checkpoint (DESIGN.md, "Resume").
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from archsearch.errors import StoreError
from archsearch.evaluators.base import Result
from archsearch.spaces.base import Architecture

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
# empty. CREATE IF NOT EXISTS adds it to older databases, so the schema version stays 1.


@dataclass
class TrialRecord:
    """One row of the trials table."""

    number: int
    arch: Architecture
    arch_str: str
    seed: int
    status: str
    ask_event: int
    started_at: float
    reward: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    cost_s: float | None = None
    error: str | None = None
    info: dict[str, float] = field(default_factory=dict)
    tell_event: int | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def result(self) -> Result:
        return Result(
            metrics=dict(self.metrics),
            cost_s=self.cost_s or 0.0,
            status=self.status,  # type: ignore[arg-type]
            error=self.error,
            curve={k: list(v) for k, v in self.curve.items()},
        )


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
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def state_from_bytes(blob: bytes) -> dict[str, Any]:
    return torch.load(io.BytesIO(blob), weights_only=False)  # our own file, written by state_to_bytes


class Store:
    """The study database in ``directory/study.db``."""

    def __init__(self, directory: str | Path, create: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        if not create and not self.path.exists():
            raise StoreError(
                f"no study in {self.directory} (expected {self.path}); start one with `archsearch search`"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable study database: {exc}") from exc
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this archsearch reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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
    ) -> None:
        """Record a trial's result and, in the same transaction, the strategy state after its tell."""
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
                conn.execute(
                    "INSERT INTO checkpoints (event, created_at, state) VALUES (?, ?, ?)",
                    (tell_event, now, blob),
                )
                # keep the newest few: resume needs only the latest
                conn.execute(
                    "DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT 3)"
                )

    def add_checkpoint(self, event: int, state: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO checkpoints (event, created_at, state) VALUES (?, ?, ?)",
                (event, time.time(), state_to_bytes(state)),
            )

    def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        row = self._conn.execute("SELECT event, state FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), state_from_bytes(row[1]))

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
            conn.execute(
                "INSERT INTO checkpoints (event, created_at, state) VALUES (?, ?, ?)",
                (record.epoch, now, blob),
            )
            conn.execute(
                "DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT 2)"
            )
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
