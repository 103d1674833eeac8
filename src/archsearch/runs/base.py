"""The lifecycle every kind of run shares: a trial study, a one-shot run and an AutoML-Zero run.

``Run`` is the protocol the command line drives (``archsearch status|resume|report|export|best|trials
DIR``); each kind has an adapter (runs/study.py, runs/oneshot.py, runs/zero.py) and ``open_run`` picks it
from the kind stored in the run's database. Reading a run (status, best, trials) opens only its database
and stored config; the search itself (a study's strategy and evaluator, a supernet and its data) is built
only to run or export it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import pandas

RunKind = Literal["study", "oneshot", "zero"]
RUN_KINDS: tuple[RunKind, ...] = ("study", "oneshot", "zero")
"""The kinds of run: a search of trials (``Study``), a one-shot search (``OneShotRun``) and an
AutoML-Zero search (``zero.Experiment``)."""


@dataclass(frozen=True)
class RunStatus:
    """How far a run is: ``done`` of ``total`` ``unit`` (trials started, epochs finished, individuals
    evaluated); ``counts`` are a study's trials by status (empty for the other kinds)."""

    kind: RunKind
    directory: Path
    unit: str
    done: int
    total: int
    finished: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Best:
    """The best a run has found: a study's best trial, a one-shot run's derived cell, an AutoML-Zero run's
    best program.

    ``label`` is its text (the architecture's encoding, the program's listing), ``values`` its decision
    values, ``score`` its ``score_name`` (reward, one-shot estimate, fitness), ``number`` the trial, epoch
    or individuals it was found at and ``source`` the kind's own record (a TrialRecord, the one-shot
    summary or last epoch, a zero FinalResult or (individuals, fitness, program)); ``status`` a study
    trial's ("ok", or "pruned" when pruned trials were asked for)."""

    kind: RunKind
    label: str
    score_name: str
    score: float | None
    number: int | None = None
    values: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    finished: bool = True
    status: str | None = None
    source: Any = None

    def to_json(self) -> dict[str, Any]:
        """A JSON object: a study's keeps the keys of ``archsearch best --json`` (number, architecture,
        values, reward, metrics, status); the other kinds name their score as they do (fitness, estimate)."""
        label_key = "program" if self.kind == "zero" else "architecture"
        status = {} if self.status is None else {"status": self.status}
        return {
            "kind": self.kind,
            "number": self.number,
            label_key: self.label,
            "values": self.values,
            self.score_name: self.score,
            "metrics": dict(self.metrics),
            "finished": self.finished,
            **status,
        }


@dataclass(frozen=True)
class Exported:
    """What ``Run.export`` wrote: ``files`` in ``target`` (a folder, or the file itself when ``files`` is
    empty) for ``subject`` ("trial 3 (...)", "the best program"); ``notes`` say what was left out and why."""

    target: Path
    subject: str
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class Run(Protocol):
    """One run in a directory, whatever its kind (``open_run`` gives one); close it, or use it in a
    ``with`` block."""

    kind: RunKind
    directory: Path

    def run(self, listeners: Sequence[Any] = ()) -> Any:
        """Run or continue it where it stopped (listeners of the kind's own type: StudyListener,
        EpochListener, zero progress callables); needs ``open_run(..., lock=True)`` or takes the lock."""
        ...

    def set_budget(self, budget: int) -> None:
        """Raise its budget (trials of a study, individuals of a zero run); never below what is done."""
        ...

    def status(self) -> RunStatus: ...

    def best(self) -> Best | None:
        """The best found so far; None before anything was found."""
        ...

    def report(self, out: Path | None = None) -> Path:
        """Write its HTML report (default DIR/report); the path of index.html."""
        ...

    def export(self, out: Path | None = None) -> Exported:
        """Write its best architecture or program (default DIR/export, a zero run DIR/algorithm.py)."""
        ...

    def trials_dataframe(self) -> pandas.DataFrame:
        """One row per trial (per epoch of a one-shot run, per progress round of a zero run)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class RunAdapter:
    """What the adapters share: the context manager around ``close``."""

    kind: RunKind
    directory: Path

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
