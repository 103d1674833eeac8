"""What every command shares: the output consoles, name lists, output directories and the error line."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.text import Text

from archsearch.errors import ConfigError

# markup=False: paths, names and messages are the user's text and print literally ("runs[/old]" is a path)
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)


def split_names(text: str, flag: str) -> list[str]:
    """The names of a comma-separated flag value (``--strategies random,evolution``); at least one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{flag} needs at least one name")
    return names


def registered_names(kind: str) -> str:
    """The names of ``kind`` (space, strategy, evaluator, reward) for a help text, read from the registry:
    the built-in ones, one spelling per class (``rnn-cell`` for ``rnn_cell``), then installed plug-ins'."""
    from archsearch.registry import known, registered

    builtin = registered(kind)
    spelling = {target: name for name, target in builtin.items()}  # the last spelling of each class
    names = [name for name in known(kind) if name not in builtin or spelling[builtin[name]] == name]
    return ", ".join(names)


def check_output_dir(path: Path, flag: str = "--out") -> None:
    """Refuse an output directory that is a file or lies under one, before any work is done."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file, not a directory" if place == path else f"lies under the file {place}"
                raise ConfigError(f"{flag} {path} {where}; choose another {flag}")
            return


def describe_os_error(exc: OSError | sqlite3.Error) -> str:
    """One line for a refusal from the file system or SQLite: what failed and on which path."""
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}"
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    if exc.strerror:
        return f"{exc.strerror} ({paths})" if paths else exc.strerror
    return f"{type(exc).__name__}: {exc}"


def print_error(message: str) -> NoReturn:
    """``error: message`` in red, on one line, the message printed literally; exit code 2."""
    line = Text("error:", style="red")
    line.append(" " + " ".join(message.split()))
    err.print(line, highlight=False, soft_wrap=True)
    sys.exit(2)
