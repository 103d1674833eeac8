"""``archsearch``'s entry point: every command registered, user errors as one red line."""

from __future__ import annotations

import importlib
import logging
import signal
import sqlite3
import sys

import typer

from archsearch.cli.apps import app, bench_app
from archsearch.cli.options import describe_os_error, err, print_error
from archsearch.errors import ArchsearchError

# The modules whose commands register themselves on the apps when imported, in the order of the help.
COMMAND_MODULES: list[str] = ["archsearch.cli.search", "archsearch.cli.runs", "archsearch.cli.bench"]
for _module in COMMAND_MODULES:
    importlib.import_module(_module)

# Commands that live beside their feature (archsearch zero, oneshot, ...): each module named here defines
# register(app, bench_app) and adds its commands. One line per module.
FEATURE_COMMANDS: list[str] = [
    "archsearch.cli.oneshot",
    "archsearch.cli.front",
    "archsearch.cli.zero",
]
for _module in FEATURE_COMMANDS:
    importlib.import_module(_module).register(app, bench_app)


def _print_stopped(signum: int) -> None:
    """The one line of a command stopped by a signal before any run began (so there is nothing to resume)."""
    err.print(f"interrupted by {signal.Signals(signum).name}", style="yellow", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line and exit code 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from archsearch.interrupt import stop_on_signals

    args = sys.argv[1:] if argv is None else list(argv)
    for before, arg in zip(["archsearch", *args], args, strict=False):
        if not arg.strip():  # Path("") is ".", so `--out ""` would quietly mean the current directory
            print_error(f"an empty argument after {before}; give a value or leave the option out")
        if any("\udc80" <= c <= "\udcff" for c in arg):  # bytes that are not UTF-8 (surrogateescape)
            print_error(f"the argument after {before} is not UTF-8 text ({arg!r}); use a UTF-8 name")
    command = typer.main.get_command(app)
    try:
        with stop_on_signals() as stop:  # SIGTERM unwinds like Ctrl-C: finally blocks run, exit code 143
            code = command.main(args=args, prog_name="archsearch", standalone_mode=False)
        if code == 130 and stop.signum is not None:  # typer reports any interrupt as 130
            if not stop.reported:  # one before a run began (creating it, loading data): nothing to resume
                _print_stopped(stop.signum)
            code = 128 + stop.signum
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:  # a stop signal before a run began (creating it, loading data): nothing to resume
        signum = stop.signum or signal.SIGINT
        _print_stopped(signum)
        sys.exit(128 + signum)
    except typer.TyperException as exc:  # usage errors: bad flags, bad values, missing arguments
        message = exc.format_message()
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `archsearch`: the help text
            err.print(message, highlight=False)
            sys.exit(0)
        print_error(message)
    except ArchsearchError as exc:
        print_error(str(exc))
    except (OSError, sqlite3.Error) as exc:  # the file system or a database refused: the user can fix it
        print_error(describe_os_error(exc))
    except MemoryError as exc:  # sizes the user chose (examples, population, batch) need more memory
        print_error(f"out of memory: {exc or 'an allocation failed'}; lower the sizes you chose")
    sys.exit(code if isinstance(code, int) else 0)
