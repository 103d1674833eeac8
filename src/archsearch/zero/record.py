"""The record of an AutoML-Zero run: its tables in the run's database and what they hold.

Each round adds a progress snapshot, the best program when it improved and, now and then, a checkpoint
(every island's state, in the state format of ``store/codec.py``: reading one runs no code); a finished
experiment of a run with restarts adds its winner. The tables are the ``zero`` part of the store
(``store.base.Tables``, version 1: the tables of runs written before parts had versions); every statement
goes through the store's public ``query`` and ``transaction``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archsearch.errors import StoreError
from archsearch.store.base import Tables
from archsearch.store.codec import LegacyStateError, StateFormatError, decode_state, encode_state
from archsearch.zero.program import Program

if TYPE_CHECKING:
    from archsearch.store.base import RunStore

ZERO_TABLES = Tables(
    part="zero",
    version=1,
    ddl="""
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
""",
)
"""zero_checkpoint_previous holds the checkpoint before the newest: resume falls back to it when the newest
cannot be read."""
_ROUND_TABLES = ("zero_progress", "zero_best", "zero_experiments")


@dataclass(frozen=True)
class Snapshot:
    """Progress after one round."""

    round: int
    individuals: int
    elapsed_s: float
    best_fitness: float | None
    population_mean: float | None
    fec_hit_rate: float | None
    full_evaluations: int
    individuals_per_s: float = 0.0


@dataclass
class FinalResult:
    """The selected program and its numbers on the select and final (held-out) tasks."""

    program: Program
    search_fitness: float
    select_fitness: float
    final_fitness: float
    final_per_task: list[float]
    candidates: int
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "program": self.program.to_json(),
            "search_fitness": self.search_fitness,
            "select_fitness": self.select_fitness,
            "final_fitness": self.final_fitness,
            "final_per_task": self.final_per_task,
            "candidates": self.candidates,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinalResult:
        return cls(
            Program.from_json(data["program"]),
            float(data["search_fitness"]),
            float(data["select_fitness"]),
            float(data["final_fitness"]),
            [float(x) for x in data["final_per_task"]],
            int(data["candidates"]),
            {k: float(v) for k, v in data["metrics"].items()},
        )


@dataclass(frozen=True)
class RunState:
    """Where a run stands: its experiment, the individuals and full evaluations of the experiments before
    it, and the islands' state (None: the experiment starts fresh). Stored in the state format of
    ``store/codec.py`` (data only: reading a checkpoint runs no code)."""

    experiment: int = 0
    before: int = 0
    full_before: int = 0
    islands: bytes | None = None

    def next(self, individuals: int, full_evaluations: int) -> RunState:
        """The state that starts the next experiment after ``individuals`` more in this one."""
        return RunState(self.experiment + 1, self.before + individuals, full_evaluations, None)

    def to_blob(self) -> bytes:
        return encode_state(
            {
                "experiment": self.experiment,
                "before": self.before,
                "full_before": self.full_before,
                "islands": self.islands,
            }
        )

    @classmethod
    def from_blob(cls, blob: bytes) -> RunState:
        try:
            state = decode_state(blob)
        except LegacyStateError:
            raise LegacyStateError(
                "the run's checkpoint was pickled by an earlier archsearch and is never unpickled (it could"
                " run code); start the run again in a new directory, or finish it with the archsearch"
                " version that wrote it"
            ) from None
        except StateFormatError as exc:
            raise StateFormatError(
                f"the run's checkpoint cannot be read: {exc}; start the run again"
            ) from None
        fields = {"experiment": int, "before": int, "full_before": int, "islands": bytes | None}
        if not isinstance(state, dict) or set(state) != set(fields):
            raise StoreError("the run's checkpoint is not an AutoML-Zero checkpoint")
        for name, kind in fields.items():
            if isinstance(state[name], bool) or not isinstance(state[name], kind):
                raise StoreError(f"the run's checkpoint has a malformed {name!r}")
        return cls(**state)


@dataclass(frozen=True)
class ExperimentResult:
    """A finished experiment of a run with restarts: its winner by search fitness, and that winner's
    fitness on the select tasks."""

    experiment: int
    individuals: int
    search_fitness: float
    select_fitness: float
    program: Program


def start_record(store: RunStore, config: dict[str, Any]) -> None:
    """Mark a new run's database as an AutoML-Zero run with its config (its tables exist already)."""
    store.set_meta("kind", "zero")
    store.set_meta("zero_config", config)


class ZeroRecord:
    """The zero tables and meta entries of one run's store."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def config(self) -> dict[str, Any] | None:
        return self.store.get_meta("zero_config")  # type: ignore[no-any-return]

    def save_config(self, config: dict[str, Any]) -> None:
        self.store.set_meta("zero_config", config)

    def final(self) -> FinalResult | None:
        data = self.store.get_meta("zero_final")
        return None if data is None else FinalResult.from_json(data)

    def save_final(self, result: FinalResult) -> None:
        self.store.set_meta("zero_final", result.to_json())

    def progress(self) -> list[Snapshot]:
        rows = self.store.query(
            "SELECT round, individuals, elapsed_s, best_fitness, population_mean, fec_hit_rate, full_evaluations"
            " FROM zero_progress ORDER BY round"
        )
        return [Snapshot(*row) for row in rows]

    def best_history(self) -> list[tuple[int, float, Program]]:
        """(individuals, fitness, program) of each improvement of the best program, oldest first."""
        rows = self.store.query("SELECT individuals, fitness, program FROM zero_best ORDER BY round")
        return [(int(n), float(f), Program.from_json(json.loads(p))) for n, f, p in rows]

    def individuals(self) -> int:
        rows = self.store.query("SELECT MAX(individuals) FROM zero_progress")
        return int(rows[0][0] or 0)

    def experiments(self) -> list[ExperimentResult]:
        rows = self.store.query(
            "SELECT experiment, individuals, search_fitness, select_fitness, program"
            " FROM zero_experiments ORDER BY experiment"
        )
        return [
            ExperimentResult(int(k), int(n), float(f), float(sf), Program.from_json(json.loads(p)))
            for k, n, f, sf, p in rows
        ]

    def checkpoints(self) -> list[tuple[int, float, bytes]]:
        """(round, elapsed seconds, state blob) of the newest checkpoint, then of the one before it."""
        found = []
        for table in ("zero_checkpoint", "zero_checkpoint_previous"):
            found += self.store.query(f"SELECT round, elapsed_s, state FROM {table} WHERE id = 0")  # noqa: S608
        return [(int(r), float(e), bytes(b)) for r, e, b in found]

    def forget_after(self, round_index: int) -> None:
        """Drop the rows of the rounds after ``round_index`` (a resumed run redoes them)."""
        with self.store.transaction() as conn:
            for table in _ROUND_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE round > ?", (round_index,))  # noqa: S608

    def write_round(
        self,
        snapshot: Snapshot,
        improved: tuple[float, Program] | None,
        blob: bytes | None,
        experiment: tuple[int, float, float, Program] | None = None,
    ) -> None:
        """One transaction: the snapshot, a new best (fitness, program), a checkpoint, a finished
        experiment's winner (index, search fitness, select fitness, program) with the checkpoint that
        starts the next one, so that a kill between them cannot lose it."""
        with self.store.transaction() as conn:
            if experiment is not None:
                index, search, select, program = experiment
                conn.execute(
                    "INSERT OR REPLACE INTO zero_experiments VALUES (?, ?, ?, ?, ?, ?)",
                    (index, snapshot.round, snapshot.individuals, search, select, _json(program)),
                )
            conn.execute(
                "INSERT OR REPLACE INTO zero_progress VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    snapshot.round,
                    snapshot.individuals,
                    snapshot.elapsed_s,
                    snapshot.best_fitness,
                    snapshot.population_mean,
                    snapshot.fec_hit_rate,
                    snapshot.full_evaluations,
                ),
            )
            if improved is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO zero_best VALUES (?, ?, ?, ?)",
                    (snapshot.round, snapshot.individuals, improved[0], _json(improved[1])),
                )
            if blob is not None:
                conn.execute("INSERT OR REPLACE INTO zero_checkpoint_previous SELECT * FROM zero_checkpoint")
                conn.execute(
                    "INSERT OR REPLACE INTO zero_checkpoint VALUES (0, ?, ?, ?, ?)",
                    (snapshot.round, snapshot.individuals, snapshot.elapsed_s, blob),
                )


def _json(program: Program) -> str:
    return json.dumps(program.to_json())
