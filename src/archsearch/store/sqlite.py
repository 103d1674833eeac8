"""The store every kind of run opened before the store was split by kind: one class with the trial
study's and the one-shot run's tables and methods, so that any run database opens with it.

Runs open the store of their kind (``trials.StudyStore``, ``epochs.OneShotStore``, or ``RunStore`` with
the kind's ``Tables``); this class opens any run database with both, for tools and tests.
"""

from __future__ import annotations

from typing import ClassVar

from archsearch.store.base import DB_NAME, SCHEMA_VERSION, RunStore, Tables
from archsearch.store.checkpoints import CHECKPOINT_TABLES, state_from_bytes, state_to_bytes
from archsearch.store.epochs import EPOCH_TABLES, EpochRecord, OneShotStore
from archsearch.store.trials import TRIAL_TABLES, StudyStore

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "EpochRecord",
    "RunStore",
    "Store",
    "state_from_bytes",
    "state_to_bytes",
]


class Store(StudyStore, OneShotStore):
    """A run database with the tables of a study of trials and of a one-shot run (``RunStore`` for the
    opening rules)."""

    TABLES: ClassVar[tuple[Tables, ...]] = (CHECKPOINT_TABLES, TRIAL_TABLES, EPOCH_TABLES)
