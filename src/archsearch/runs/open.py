"""``open_run(DIR)``: the run in DIR as a ``Run``, whatever its kind (read from its database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archsearch.errors import ConfigError
from archsearch.runs.base import RUN_KINDS, Run, RunKind


def open_run(
    directory: str | Path, lock: bool = False, read_only: bool | None = None, kind: RunKind | None = None
) -> Run:
    """The run in ``directory`` as a ``Run`` of its stored kind (``store.run_kind``): a study of trials,
    a one-shot run or an AutoML-Zero run.

    ``lock`` makes this process its one driver at once (to run it; a second is refused naming the first);
    ``read_only`` opens its database without writing a byte (status, best, report, export, trials); by
    default a run opened without ``lock`` is read-only, so reading never changes it (``read_only=False``
    or ``lock=True`` to change it: ``set_budget``, ``run``).
    ``kind`` opens it as that kind without reading the kind first (``archsearch zero status`` opens a zero
    run, and says so when DIR holds something else). A one-line StoreError when DIR holds no run."""
    directory = Path(directory)
    if read_only is None:
        read_only = not lock
    if kind is None:
        from archsearch.store import run_kind

        kind = stored_kind(run_kind(directory))
    if kind == "oneshot":
        from archsearch.runs.oneshot import OneShotRunAdapter

        return OneShotRunAdapter(directory, lock=lock, read_only=read_only)
    if kind == "zero":
        from archsearch.runs.zero import ZeroRun

        return ZeroRun(directory, lock=lock, read_only=read_only)
    from archsearch.runs.study import StudyRun

    return StudyRun(directory, lock=lock, read_only=read_only)


def stored_kind(kind: str) -> RunKind:
    """``kind`` as one of ``RUN_KINDS`` (ValueError for another: ``store.run_kind`` refuses those)."""
    for known in RUN_KINDS:
        if kind == known:
            return known
    raise ValueError(f"unknown kind of run {kind!r}")


def create_run(config: Any, directory: str | Path, overwrite: bool = False, **objects: Any) -> Run:
    """Start a run of ``config``'s kind in ``directory`` and give it as a ``Run``, held by this process:
    a ``StudyConfig`` makes a study of trials (``objects``: ``space=``, ``evaluator=``, ``strategy=``,
    ``reward=`` as ``Study.create`` takes them), a ``OneShotConfig`` a one-shot run (``data=``,
    ``model_space=``), a ``ZeroConfig`` an AutoML-Zero run. ``.run()`` runs it; close it when done."""
    kind = type(config).__name__
    if kind == "StudyConfig":
        from archsearch.runs.study import StudyRun
        from archsearch.study import Study

        return StudyRun.of(Study.create(config, directory, overwrite, **objects))
    if kind == "OneShotConfig":
        from archsearch.oneshot.run import OneShotRun
        from archsearch.runs.oneshot import OneShotRunAdapter

        return OneShotRunAdapter.of(OneShotRun.create(config, directory, overwrite, **objects))
    if kind == "ZeroConfig":
        from archsearch.runs.zero import ZeroRun
        from archsearch.zero.experiment import Experiment

        if objects:
            raise ConfigError(f"an AutoML-Zero run takes no objects; drop {', '.join(sorted(objects))}")
        return ZeroRun.of(Experiment.create(config, directory, overwrite))
    raise ConfigError(
        f"create_run takes a StudyConfig, OneShotConfig or ZeroConfig, got {type(config).__name__}"
    )
