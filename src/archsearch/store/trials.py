"""The tables of a study of trials: every trial, and the trained weights of the best ones.

Every trial row is written before its evaluation starts (status ``running``) and updated when it ends,
together with the strategy checkpoint, in one transaction. Trials carry the event numbers of their
``ask`` and ``tell`` so that a resumed study can replay, in order, what happened after its last
checkpoint (DESIGN.md, "Resume").
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from archsearch.core import Architecture, Result, TrialRecord
from archsearch.errors import StoreError
from archsearch.reporting import Report
from archsearch.store.base import Tables
from archsearch.store.checkpoints import CHECKPOINT_TABLES, CheckpointStore, state_to_bytes, store_checkpoint

log = logging.getLogger(__name__)

TRIAL_TABLES = Tables(
    part="trials",
    version=1,
    ddl="""
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
CREATE TABLE IF NOT EXISTS reports (
    number   INTEGER NOT NULL,
    step     INTEGER NOT NULL,
    resource REAL NOT NULL,
    vals     TEXT NOT NULL,
    time     REAL NOT NULL,
    PRIMARY KEY (number, step)
);
CREATE TABLE IF NOT EXISTS weights (
    number     INTEGER PRIMARY KEY,
    reward     REAL NOT NULL,
    created_at REAL NOT NULL,
    state      BLOB NOT NULL
);
""",
)
# ``reports`` holds every intermediate report of a trial (``archsearch.reporting``), written while it runs:
# its live curve, and what a resumed study's pruner restores its rungs from. A table added without a new
# version: an older database gains it when opened to write, and reads it as empty before.
# ``weights`` holds the trained state_dicts (torch.save bytes, read only with weights_only=True) of the best
# trials, at most ``keep_weights`` of them.

_TRIAL_COLUMNS = (
    "number, arch, arch_str, seed, status, reward, metrics, curve, cost_s, error, info, ask_event,"
    " tell_event, started_at, finished_at"
)


def store_weights(
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


class StudyStore(CheckpointStore):
    """The database of a study of trials: its trials, the strategy's checkpoints and kept weights."""

    TABLES: ClassVar[tuple[Tables, ...]] = (CHECKPOINT_TABLES, TRIAL_TABLES)

    def add_trial(self, number: int, arch: Architecture, arch_str: str, seed: int, ask_event: int) -> None:
        """Record a trial before its evaluation starts (status ``running``)."""
        self.execute(
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
                store_checkpoint(conn, tell_event, now, blob, keep=3)
            if weights is None or not result.ok:
                return False
            return store_weights(conn, number, reward, now, weights, keep_weights)

    def add_reports(self, reports: Iterable[Report]) -> None:
        """Record intermediate reports (objects with ``number``, ``step``, ``resource``, ``values`` and
        ``time``); the first report of a trial at a step is kept (a trial run again reports the same)."""
        rows = [(r.number, r.step, float(r.resource), json.dumps(r.values), float(r.time)) for r in reports]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO reports (number, step, resource, vals, time) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def reports(self, number: int | None = None) -> list[Report]:
        """The intermediate reports of trial ``number`` (every trial's when None), by trial and step."""
        where, args = (" WHERE number = ?", (number,)) if number is not None else ("", ())
        rows = self.query(
            f"SELECT number, step, resource, vals, time FROM reports{where} ORDER BY number, step",  # noqa: S608
            args,
        )
        return [Report(int(n), int(s), float(r), json.loads(v), float(t)) for n, s, r, v, t in rows]

    def weights(self, number: int) -> bytes | None:
        """The trained weights kept for trial ``number`` (``torch.save`` bytes of its state_dict, to be read
        with ``torch.load(..., weights_only=True)`` only); None when they were not kept."""
        rows = self.query("SELECT state FROM weights WHERE number = ?", (number,))
        return rows[0][0] if rows and isinstance(rows[0][0], bytes) else None

    def kept_weights(self) -> list[int]:
        """The numbers of the trials whose weights are kept, best first."""
        return [int(n) for (n,) in self.query("SELECT number FROM weights ORDER BY reward DESC, number")]

    def trials(self, status: str | None = None) -> list[TrialRecord]:
        where = " WHERE status = ?" if status else ""
        rows = self.query(
            f"SELECT {_TRIAL_COLUMNS} FROM trials{where} ORDER BY number",  # noqa: S608
            (status,) if status else (),
        )
        return [_record(row) for row in rows]

    def discard_trials_from(self, number: int) -> list[int]:
        """Delete the trials numbered ``number`` and above; their numbers. Only for a driver that resumes
        from a checkpoint older than those trials (its newest could not be read) and runs them again."""
        with self.transaction() as conn:
            found = [
                int(n) for (n,) in conn.execute("SELECT number FROM trials WHERE number >= ?", (number,))
            ]
            conn.execute("DELETE FROM trials WHERE number >= ?", (number,))
            conn.execute("DELETE FROM reports WHERE number >= ?", (number,))
            conn.execute("DELETE FROM weights WHERE number >= ?", (number,))
        return found

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.query("SELECT COUNT(*) FROM trials")[0][0])
        return int(self.query("SELECT COUNT(*) FROM trials WHERE status=?", (status,))[0][0])


def _record(row: tuple[Any, ...]) -> TrialRecord:
    (number, arch, arch_str, seed, status, reward, metrics, curve, cost_s, error, info, ask_event,
     tell_event, started_at, finished_at) = row  # fmt: skip
    return TrialRecord(
        number=number,
        arch=Architecture.from_json(arch),
        arch_str=arch_str,
        seed=seed,
        status=status,
        ask_event=ask_event,
        started_at=started_at,
        reward=reward,
        metrics=json.loads(metrics),
        curve=json.loads(curve),
        cost_s=cost_s,
        error=error,
        info=json.loads(info),
        tell_event=tell_event,
        finished_at=finished_at,
    )
