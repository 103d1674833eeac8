"""Creating a run in a directory so that archsearch only ever removes what it made itself.

A new run's database is built in a hidden folder of the run directory (``DIR/.archsearch-new-KIND-*``)
while the run is set up (its data loaded, its config written) and moved to ``DIR/study.db`` in one
rename once complete. So:

- a failed start (a bad option, missing data, Ctrl-C) removes that folder, the lock file if it made it,
  and the directory only if this start created it and it is empty again: never a user's file;
- ``--overwrite`` removes the old run's database files only when the new run is complete, so a failed
  overwrite keeps the old run, and never touches anything else in the directory (reports and exports
  written earlier stay; the next ``report``/``export`` writes over them);
- a kill -9 at any moment leaves either no new database (start again with ``--out``; a later start
  clears the leftover folder) or a complete one (``resume`` continues it); ``--out`` also replaces,
  unasked, a database holding only its schema version (a start killed before staged creation existed);
- a ``study.db`` that is not an archsearch database is never replaced, not even with ``--overwrite``.

Files a run keeps beside its database (the data a study was given as arrays: ``DIR/data/train.npz``) are
written in the staging folder too (``NewRun.stage``) and moved into the directory by ``publish``, just
before the database; the database lists them (meta ``run_files``), so that ``--overwrite`` removes the
old run's files and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

from archsearch.errors import ConfigError, StoreError
from archsearch.store.base import DB_NAME, KINDS, RunStore, Tables
from archsearch.store.runlock import RunLock, lock_holder

log = logging.getLogger(__name__)

S = TypeVar("S", bound=RunStore)
"""The store class of a kind of run (``trials.StudyStore``, ``epochs.OneShotStore``, ``RunStore``)."""

STAGING_PREFIX = ".archsearch-new-"
RUN_FILES_KEY = "run_files"
"""The meta key listing the files (relative to the run directory) a run keeps beside its database."""
DB_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal")
"""The files of a run's SQLite database: all that ``--overwrite`` removes of an old run."""


class NewRun(Generic[S]):
    """A run being created: ``store`` (of the kind's ``store_class``) is its database in the staging
    folder until ``publish``."""

    def __init__(
        self,
        directory: Path,
        staging: Path,
        lock: RunLock,
        replace: bool,
        nested: Sequence[str],
        store_class: type[S],
        tables: Sequence[Tables] = (),
    ) -> None:
        self.directory = directory
        self.staging = staging
        self.lock = lock
        self.store: S = store_class(staging, create=True, tables=tables)
        self._tables = tuple(tables)
        self._replace = replace
        self._nested = nested
        self._files: list[str] = []
        self.published = False

    def stage(self, relative: str) -> Path:
        """Where to write the file ``relative`` (``data/train.npz``) that the run keeps beside its
        database: in the staging folder, from which ``publish`` moves it to ``DIR/relative``."""
        path = self.staging / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts or relative in DB_FILES:
            raise ValueError(f"a run file must be a relative path inside the run directory, not {relative}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative not in self._files:
            self._files.append(relative)
        return path

    def publish(self) -> S:
        """Move the staged files and then the finished database into ``DIR`` (replacing an old run's)
        and open the database there."""
        if self._files:
            self.store.set_meta(RUN_FILES_KEY, list(self._files))
        self.store.close()
        staged = self.staging / DB_NAME
        # one self-contained file (no -wal beside it), so that one rename publishes all of it
        conn = sqlite3.connect(staged, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        for name in self._nested:
            remove_run(self.directory / name)
        if self._replace:
            remove_run_files(self.directory)
            remove_database(self.directory)
        for relative in self._files:
            target = self.directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging / relative, target)
        for name in DB_FILES[1:]:  # a killed run's journal left without its database would be replayed
            (self.directory / name).unlink(missing_ok=True)  # onto the new one by SQLite
        os.replace(staged, self.directory / DB_NAME)
        shutil.rmtree(self.staging, ignore_errors=True)
        _sync_directory(self.directory)
        self.published = True
        self.store = type(self.store)(self.directory, tables=self._tables)
        return self.store


@contextmanager
def new_run(
    directory: Path,
    kind: str,
    overwrite: bool,
    occupied: str,
    nested: Sequence[str] = (),
    tables: Sequence[Tables] = (),
    *,
    store_class: type[S],
) -> Iterator[NewRun[S]]:
    """Create a run of ``kind`` (search, oneshot, zero) in ``directory``; the body sets it up and ends
        with ``run.publish()``. On any exception before that, everything this start made is removed again.

        ``occupied`` is the error when the directory holds a run already and ``overwrite`` is off; ``nested``
        names subfolders holding runs that belong to this one (zero's random-search baseline), replaced with it;
    ``store_class`` is the kind's store (its tables), ``tables`` more tables of the kind (zero's).
    """
    made = make_directory(directory)
    lock: RunLock | None = None
    run: NewRun[S] | None = None
    try:
        lock = RunLock.acquire(directory)
        found = existing_run(directory)
        if found == "run" and not overwrite:
            raise ConfigError(occupied)
        remove_staging(directory)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{kind}-", dir=directory))
        try:
            replace, nested = found is not None, nested if overwrite else ()
            run = NewRun(directory, staging, lock, replace, nested, store_class, tables)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        yield run
        if not run.published:
            raise RuntimeError("new_run's body must end with run.publish()")
    except BaseException:
        if run is not None:
            if run.published:
                run.store.close()
            else:
                _close_quietly(run.store)
                shutil.rmtree(run.staging, ignore_errors=True)
        if lock is not None:
            lock.release(remove=run is None or not run.published)
        for folder in made:  # deepest first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


@contextmanager
def open_run(
    directory: Path,
    lock: bool,
    read_only: bool,
    tables: Sequence[Tables] = (),
    *,
    store_class: type[S],
    kind: str | None = None,
) -> Iterator[tuple[S, RunLock | None]]:
    """The store (of the kind's ``store_class``) of the run in ``directory``, with the kind's further
    ``tables`` (checked, upgraded or added as it opens), and, when ``lock``, its run lock (taken first, so
    that a second driver is refused before it reads anything); both are released if the body raises.
    ``kind`` refuses a run of another kind (``expect_kind``) before anything is opened to write."""
    check_created(directory)
    if kind is not None and (directory / DB_NAME).exists():
        expect_kind(directory, kind)
    held = RunLock.acquire(directory) if lock and (directory / DB_NAME).exists() else None
    try:
        store = store_class(directory, read_only=read_only, tables=tables)
    except BaseException:
        if held is not None:  # a directory that holds no run of ours keeps no lock file of ours
            held.release(remove=True)
        raise
    try:
        yield store, held
    except BaseException:
        store.close()
        if held is not None:
            held.release()
        raise


def make_directory(directory: Path) -> list[Path]:
    """Make ``directory`` (and missing parents); the folders this made, deepest first."""
    missing: list[Path] = []
    path = directory
    while not path.exists() and not path.is_symlink() and path != path.parent:
        missing.append(path)
        path = path.parent
    if directory.exists() and not directory.is_dir():
        raise StoreError(f"{directory} is a file, not a directory; choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the run directory {directory}: {exc.strerror}") from None
    return missing


RUN_CONFIG_KEYS = ("config", "oneshot_config", "zero_config")
"""The meta keys of a study's, a one-shot run's and a zero run's config: a database has one once created."""


def existing_run(directory: Path) -> str | None:
    """What ``DIR/study.db`` holds: None (no file), "run", or "unfinished" (an archsearch database with no
    run config: a start killed before creation was staged). Anything else is a ConfigError: archsearch
    never replaces a file it cannot read as its own."""
    if not (directory / DB_NAME).exists():
        return None
    try:
        store = RunStore(directory, read_only=True)  # changes nothing, not even beside the file
    except StoreError as exc:
        raise ConfigError(
            f"{exc}; archsearch leaves it alone: move it away or choose another --out"
        ) from None
    try:
        return "unfinished" if unfinished(store) else "run"
    finally:
        store.close()


def unfinished(store: RunStore) -> bool:
    """True for a database whose creation never finished: it holds no run config."""
    return all(store.get_meta(key) is None for key in RUN_CONFIG_KEYS)


def unfinished_error(directory: Path) -> StoreError:
    return StoreError(
        f"creation of the run in {directory} did not finish (it was stopped); start it again "
        f"with `archsearch search --out {directory}` (or oneshot, zero)"
    )


def remove_database(directory: Path) -> None:
    """Remove the database files of the run in ``directory`` (nothing else)."""
    for name in DB_FILES:
        (directory / name).unlink(missing_ok=True)


def remove_run_files(directory: Path) -> None:
    """Remove the files the run in ``directory`` lists as its own (``NewRun.stage``), and the folders
    that leaves empty; a database that cannot be read lists none."""
    try:
        store = RunStore(directory, read_only=True)
    except StoreError:
        return
    try:
        listed = store.get_meta(RUN_FILES_KEY, [])
    finally:
        store.close()
    for relative in listed if isinstance(listed, list) else []:
        if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
            continue  # never follow a path out of the run directory
        path = directory / relative
        path.unlink(missing_ok=True)
        for folder in path.parents:
            if folder == directory:
                break
            try:
                folder.rmdir()
            except OSError:
                break


def remove_staging(directory: Path) -> None:
    """Remove the staging folders of starts that were killed before they finished (ours by name)."""
    for leftover in directory.glob(f"{STAGING_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            log.info("removing %s, left by a start that did not finish", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def remove_run(directory: Path) -> None:
    """Remove the run in ``directory`` (database, lock file, staging folders) and the folder if that
    leaves it empty; refused while another process holds the run, or when its study.db is not a run."""
    if existing_run(directory) is None:
        return
    lock = RunLock.acquire(directory)
    try:
        remove_staging(directory)
        remove_run_files(directory)
        remove_database(directory)
    finally:
        lock.path.unlink(missing_ok=True)
        lock.release()
    try:
        directory.rmdir()
    except OSError:
        pass  # it holds other files (a report, the user's): they stay


def check_created(directory: Path) -> None:
    """Raise a StoreError explaining an unfinished creation when ``directory`` has no database but a
    start's staging folder (a start under way, or killed before it finished)."""
    if (directory / DB_NAME).exists():
        return
    staged = sorted(p for p in directory.glob(f"{STAGING_PREFIX}*") if p.is_dir())
    if not staged:
        return
    holder = lock_holder(directory)
    if holder is not None:
        raise StoreError(f"the run in {directory} is still being created ({holder}); wait for it to start")
    kind = staged[0].name[len(STAGING_PREFIX) :].split("-")[0]
    raise StoreError(
        f"creation of the run in {directory} did not finish (it was stopped); "
        f"start it again with `archsearch {kind} --out {directory}`"
    )


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (a crash after it must not bring back the old name)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _close_quietly(store: RunStore) -> None:
    try:
        store.close()
    except Exception:  # the store may be half open; the folder is removed next
        log.debug("closing a failed start's store", exc_info=True)


def run_kind(directory: str | Path) -> str:
    """The kind of the run in ``directory`` ("study", "oneshot" or "zero"), read without changing a byte
    and without importing torch or numpy; a one-line StoreError when it holds no run of this archsearch."""
    directory = Path(directory)
    check_created(directory)
    with RunStore(directory, read_only=True) as store:
        kind = store.kind
    if kind not in KINDS:
        raise StoreError(
            f"{directory} holds a run of kind {kind!r}, which this archsearch does not know: upgrade "
            "archsearch to open it"
        )
    return kind


KIND_NAMES = {"study": "a study of trials", "oneshot": "a one-shot run", "zero": "an AutoML-Zero run"}
"""How messages name each kind of run, with its article."""


def kind_name(kind: str) -> str:
    """The kind's name with its article: "a study of trials", "a one-shot run", "an AutoML-Zero run"."""
    return KIND_NAMES.get(kind, f"a run of kind {kind!r}")


def expect_kind(directory: str | Path, kind: str) -> None:
    """Refuse, before anything is opened to write, a run in ``directory`` of another kind than ``kind``
    (a one-line StoreError naming both); an unfinished creation is left to the caller's own check."""
    directory = Path(directory)
    check_created(directory)
    with RunStore(directory, read_only=True) as store:
        if unfinished(store):
            return
        found = store.kind
    if found != kind:
        raise StoreError(f"{directory} holds {kind_name(found)}, not {kind_name(kind)}")
