"""One driver per run: an OS lock on ``DIR/study.lock``, held while a process creates or runs the run.

The lock is ``flock`` on an open file, so the kernel releases it when its holder exits for any reason,
kill -9 included; no stale lock is ever left to clean up. The holder writes its pid, host and the time
it took the lock into the file, so a refused process can say which one holds the run. Read-only commands
(status, best, report) never take it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

from archsearch.errors import StoreError

log = logging.getLogger(__name__)

LOCK_NAME = "study.lock"
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


class RunInUseError(StoreError):
    """Another live process creates or runs the run in this directory."""


class RunLock:
    """The exclusive lock of the run in ``directory``; ``release()`` (or the holder's exit) frees it."""

    def __init__(self, path: Path, fd: int | None, created: bool) -> None:
        self.path = path
        self.created = created  # the lock file did not exist before this lock made it
        self._fd = fd

    @classmethod
    def acquire(cls, directory: str | Path) -> RunLock:
        """Take the lock of ``directory``'s run, or raise RunInUseError naming the process that holds it."""
        path = Path(directory) / LOCK_NAME
        while True:
            created = not path.exists() and not path.is_symlink()
            try:
                # never through a symlink: a shared run directory could point study.lock at a user's file
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise StoreError(f"{path} is a symbolic link, not a run lock; remove it") from None
                raise StoreError(f"cannot open the run lock {path}: {exc.strerror}") from None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:  # a hard link to a user's file
                os.close(fd)
                raise StoreError(f"{path} is not a run lock (another file or a link to one); remove it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_text(fd)
                os.close(fd)
                raise RunInUseError(
                    f"{directory} is in use by another archsearch process ({holder}); "
                    "wait for it to end or stop it, then try again"
                ) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:  # e.g. some network file systems: run, but unguarded
                    log.warning("%s cannot be locked (%s); make sure no other process runs it", path, exc)
                    return cls(path, None, created)
                raise StoreError(f"cannot lock {path}: {exc.strerror}") from None
            # A holder that removes the file (a failed start) may do so between our open and our flock:
            # then we hold the lock of a file nobody else sees, so open the path again.
            if _same_file(fd, path):
                break
            os.close(fd)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except OSError:  # the pid is a courtesy for the message; the lock itself is held
            pass
        return cls(path, fd, created)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, remove: bool = False) -> None:
        """Free the lock; ``remove`` also deletes the lock file (only when this lock made it)."""
        if remove and self.created:
            self.path.unlink(missing_ok=True)
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None


def hold(lock: RunLock | None, directory: str | Path) -> RunLock:
    """``lock`` while it is held, else ``directory``'s run lock, newly taken."""
    return lock if lock is not None and lock.held else RunLock.acquire(directory)


class HeldRun:
    """What every kind of run (a study, a one-shot run, an AutoML-Zero run) does with its database and its
    lock: ``take_lock`` to drive it, ``close`` to let both go. The class sets ``directory``, ``store`` and
    ``lock`` (None while this process does not drive it)."""

    directory: Path
    store: Any
    lock: RunLock | None

    def take_lock(self) -> None:
        """Become the one process driving this run (RunInUseError naming the one that is, if any)."""
        self.lock = hold(self.lock, self.directory)

    def close(self) -> None:
        """Close the run's database and release its lock if this process holds it."""
        self.store.close()
        if self.lock is not None:
            self.lock.release()


def lock_holder(directory: str | Path) -> str | None:
    """Who holds ``directory``'s run lock right now (pid, host, since when), or None when nobody does.

    Opens the lock file read-only and takes no lasting lock, so it works on read-only media too."""
    path = Path(directory) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder_text(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _holder_text(fd: int) -> str:
    """``pid 1234 on host since 2026-12-07 18:20:03 UTC`` from the lock file's record."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
        pid, host, since = int(record["pid"]), str(record["host"]), float(record["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since))
    text = f"pid {pid} on {host} since {started}"
    if host == socket.gethostname() and not _alive(pid):
        text += f"; pid {pid} has exited but a process it started still holds the lock"
    return text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
