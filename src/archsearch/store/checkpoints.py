"""Checkpoints: the state of a study's strategy or a one-shot method, kept with the step it was taken at.

A run resumes from its newest checkpoint that can be read; the few before it are kept for when the newest
cannot (DESIGN.md, "Resume"). States are stored in the data-only format of ``store/codec.py``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any, ClassVar

from archsearch.store.base import RunStore, Tables
from archsearch.store.codec import LegacyStateError, StateFormatError, decode_state, encode_state

log = logging.getLogger(__name__)

CHECKPOINT_TABLES = Tables(
    part="checkpoints",
    version=1,
    ddl="""
CREATE TABLE IF NOT EXISTS checkpoints (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event      INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state      BLOB NOT NULL
);
""",
)


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


def store_checkpoint(conn: sqlite3.Connection, event: int, created_at: float, blob: bytes, keep: int) -> None:
    """Within a transaction, add a checkpoint and keep only the newest ``keep``: resume needs the latest,
    or one before it when the latest cannot be read."""
    conn.execute(
        "INSERT INTO checkpoints (event, created_at, state) VALUES (?, ?, ?)", (event, created_at, blob)
    )
    conn.execute(
        "DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT ?)",
        (keep,),
    )


class CheckpointStore(RunStore):
    """A run database with checkpoints (the base of the study's and the one-shot run's stores)."""

    TABLES: ClassVar[tuple[Tables, ...]] = (CHECKPOINT_TABLES,)

    def add_checkpoint(self, event: int, state: dict[str, Any]) -> None:
        blob = state_to_bytes(state)
        with self.transaction() as conn:
            store_checkpoint(conn, event, time.time(), blob, keep=3)

    def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        """(event, state) of the newest checkpoint that decodes, None when there is none.

        A corrupt newest checkpoint is skipped with a warning and the one before it is returned (the
        caller redoes what came after it). LegacyStateError when the newest readable one was pickled by
        an earlier archsearch (never unpickled); StateFormatError when every checkpoint is corrupt."""
        ids = [row_id for (row_id,) in self.query("SELECT id FROM checkpoints ORDER BY id DESC")]
        rows = (  # one blob at a time: a run with many checkpoints loads only what it needs
            self.query("SELECT id, event, state FROM checkpoints WHERE id = ?", (row_id,))[0]
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
