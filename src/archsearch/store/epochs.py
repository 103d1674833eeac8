"""The tables of a one-shot run: one row per finished epoch, beside the method's checkpoints."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from archsearch.core import Architecture
from archsearch.store.base import Tables
from archsearch.store.checkpoints import CHECKPOINT_TABLES, CheckpointStore, state_to_bytes, store_checkpoint

EPOCH_TABLES = Tables(
    part="epochs",
    version=1,
    ddl="""
CREATE TABLE IF NOT EXISTS epochs (
    epoch         INTEGER PRIMARY KEY,
    metrics       TEXT NOT NULL,
    probabilities TEXT NOT NULL,
    arch          TEXT NOT NULL,
    arch_str      TEXT NOT NULL,
    wall_s        REAL NOT NULL,
    finished_at   REAL NOT NULL
);
""",
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


class OneShotStore(CheckpointStore):
    """The database of a one-shot run: its epochs and the method's checkpoints."""

    TABLES: ClassVar[tuple[Tables, ...]] = (CHECKPOINT_TABLES, EPOCH_TABLES)

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
            store_checkpoint(conn, record.epoch, now, blob, keep=2)
        record.finished_at = now

    def epochs(self) -> list[EpochRecord]:
        rows = self.query(
            "SELECT epoch, metrics, probabilities, arch, arch_str, wall_s, finished_at FROM epochs ORDER BY epoch"
        )
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

    def discard_epochs_after(self, epoch: int) -> None:
        """Delete the epochs after ``epoch``: a run resumed from an older checkpoint redoes them."""
        self.execute("DELETE FROM epochs WHERE epoch > ?", (epoch,))
