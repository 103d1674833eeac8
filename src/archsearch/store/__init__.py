"""The experiment store: every trial and checkpoint of a run, in an embedded database.

``base`` opens the database and versions the tables each kind of run declares (``Tables``); ``trials``,
``epochs`` and ``checkpoints`` are the tables of a study and of a one-shot run; zero runs declare theirs
in ``archsearch.zero``. ``run_kind(directory)`` reads which kind of run a directory holds.
"""

from archsearch.store.base import KINDS, RunStore, Tables
from archsearch.store.rundir import run_kind

__all__ = ["KINDS", "RunStore", "Tables", "run_kind"]
