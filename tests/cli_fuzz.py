"""Seeded fuzzing of the command line: random combinations of the real flags with random values.

Every command and option is read from the typer app (``archsearch.cli.app``), so a new flag is fuzzed the
day it is added. Each case runs ``archsearch.cli.main(argv)`` in-process, in its own directory holding a
finished search, a zero run, a one-shot run and files of every awkward kind; a case fails when it escapes
``main`` with an exception, exits with a code other than 0, 2 or 130, prints a traceback, or does not
return within its time limit. Options that make a command start real work draw from cheap values only
(or are added with cheap values), so a case takes a fraction of a second.

A larger run than the test's: ``python tests/cli_fuzz.py --cases 2000 --seed 1`` prints the failure kinds
with the first command line of each.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import os
import re
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

OK_CODES = (0, 2, 130)

# -- values ------------------------------------------------------------------------------------------

INTS = ["0", "1", "2", "3", "-1", "-7", "10", "1e-3", "3.5", "nan", "inf", "99999999999999999999999"]
INTS += ["٣", "", "abc", "0x10", " 4", "1_000", "-0"]
FLOATS = ["0", "0.0", "-0", "1", "-1.5", "1e-3", "2.5", "nan", "-nan", "inf", "-inf", "1e308", "1e999"]
FLOATS += ["", "abc", "1_000", "٣", "0x1p3"]
# For options that set how much work a command does: zero, negative, nonsense and small amounts only.
CHEAP_INTS = ["0", "1", "2", "3", "-1", "-7", "nan", "1e-3", "", "x", "٣"]
CHEAP_FLOATS = ["0", "-1", "1e-3", "0.5", "30", "nan", "", "x"]
STRINGS = ["", "x", "runs[/old]", "[red]red[/red]", "[/]", "[", "]", "ünïcødé ☃", "line\nbreak", "a=b"]
STRINGS += ["--quiet", "-", "%s%n{0}", "\x1b[31mansi", "' OR 1=1 --", "{}", "null", "tab\there"]
YAML_VALUES = ["1", "0", "-1", "1e-3", "1.0e-3", "2e3", "nan", ".nan", ".inf", "true", "null", "~", ""]
YAML_VALUES += ["[0.1", "[1, 2]", "{a: 1}", "{a: [", "x]", "!!python/name:os.system", "!!binary aGk="]
YAML_VALUES += ["ünï", "'quoted'", '"dq', "a: b: c", "- 1", "*alias", "&anchor x", "%TAG"]

# Files every case directory holds; the tests and commands name them by these relative paths.
PATHS = ["study", "zero-run", "oneshot-run", "missing", "missing/deeper", "afile.txt", "afile.txt/under"]
PATHS += ["runs[/old]", "ünï dir", "new\nline", "empty-dir", "userdir", "", ".", "binary.bin"]
PATHS += ["config.yaml", "tagged.yaml", "list.yaml", "garbage-run", "foreign-db", "study/study.db"]
PATHS += ["fresh-out", "fresh-out/deeper"]
# In a "plausible" case most values are of these, so that runs get past their checks and do some work.
PLAUSIBLE_INTS = ["1", "2", "3", "0"]
PLAUSIBLE_FLOATS = ["0.5", "30", "1e-3", "1"]
PLAUSIBLE_PATHS = ["study", "zero-run", "oneshot-run", "fresh-out", "userdir"]

# Files of the user's that no command may remove or change, whatever its options.
USER_FILES = {
    "afile.txt": "a user's file\n",
    "userdir/notes.txt": "keep me\n",
    "config.yaml": "space: {name: nb201}\nn_trials: 2\nexecutor: inline\n",
    "ünï dir/notes.txt": "mine\n",
}

# Values of the options whose meaning is a name: some valid, some not.
CHOICES: dict[str, list[str]] = {
    "--space": ["nb201", "nb201", "nasrl-cnn-nope", "NB201", "darts"],
    "--strategy": ["random", "evolution", "reinforce", "local_search", "asng", "regularized", "nope"],
    "--dataset": ["digits", "cifar10", "cifar100", "imagenet16", "fashion-mnist", "svhn"],
    "--executor": ["inline", "inline", "nope", "INLINE"],
    "--device": ["cpu", "auto", "cuda", "pixel3", "gold_6226", "nope"],
    "--ray-address": ["auto", "localhost:1", "127.0.0.1:notaport"],
    "--method": ["enas", "darts", "asng", "nope"],
    "--task": ["linear", "affine", "nonlinear", "projected-binary", "quadratic"],
    "--initial": ["random", "empty", "nope"],
    "--engine": ["python", "python", "compiled", "nope"],
    "--objective": ["val_acc", "val_acc:max", "latency_ms:min", "reward", "val_acc:up", "nope:min", ":"],
    "--objectives": ["val_acc:max,latency_ms:min", "val_acc", ",", "val_acc:max,val_acc:max", "a:b:c"],
    "--constraint": ["params <= 1e6", "latency_ms < 5", "params <=", "x < [1", "val_acc >= nan", "1 <= 2"],
    "--datasets": ["cifar10", "cifar10,imagenet16", ",", "cifar10,nope", "cifar10,cifar10"],
    "--strategies": ["random", "random,evolution", "nsga2", ",", "random,nope", "random,random"],
    "--protocol": ["nb201", "nats", "nope"],
}

# Options that set how much work a command does, per command: their random values stay cheap, and when the
# random part leaves one out it is added with the cheap value given here (None: a flag).
WORK_OPTIONS: dict[tuple[str, ...], dict[str, str | None]] = {
    ("search",): {"--space": "nb201", "--trials": "2", "--executor": "inline", "--quiet": None},
    ("resume",): {"--trials": "3", "--quiet": None},
    ("oneshot",): {
        "--space": "nb201",
        "--dataset": "digits",
        "--epochs": "1",
        "--train-limit": "32",
        "--batch-size": "16",
        "--threads": "1",
        "--quiet": None,
    },
    ("zero",): {
        "--budget": "20",
        "--population": "4",
        "--tournament": "2",
        "--engine": "python",
        "--workers": "1",
        "--n-train": "5",
        "--n-valid": "5",
        "--quiet": None,
    },
    ("zero", "resume"): {"--budget": "25", "--quiet": None},
    ("bench", "nb201"): {
        "--runs": "1",
        "--strategies": "random",
        "--datasets": "cifar10",
        "--budget": "300",
        "--workers": "1",
    },
    ("bench", "nb201-mo"): {"--runs": "1", "--strategies": "random", "--budget": "300", "--workers": "1"},
}
# Cheap values of work options that are not plain numbers of the CHEAP pools.
WORK_CHOICES: dict[str, list[str]] = {
    "--space": ["nb201", "nope", "[x]", ""],
    "--executor": ["inline", "nope", ""],
    "--dataset": ["digits", "nope", "cifar10"],
    "--engine": ["python", "nope"],
    "--strategies": ["random", "random,evolution", ",", "nope"],
    "--datasets": ["cifar10", "cifar10,nope", ","],
    "--workers": ["0", "1", "-1", "x", "nan"],
    "--threads": ["0", "1", "-1", "x"],
    "--tournament": ["0", "1", "2", "3", "4", "-1", "100", "nan"],
    "--n-train": ["0", "1", "5", "-1", "x"],
    "--n-valid": ["0", "1", "5", "-1", "x"],
}

# --set keys: the config's own, some of the components' parameters, and a few that do not exist. Keys that
# set the amount of work take cheap values only.
SEARCH_SET_KEYS = ["seed", "n_trials", "max_time_s", "clock", "executor", "workers", "max_retries"]
SEARCH_SET_KEYS += ["max_concurrent", "ordered", "checkpoint_every", "space.params.channels"]
SEARCH_SET_KEYS += ["strategy.params.lr", "strategy.params.batch_size", "strategy.params.no_such_option"]
SEARCH_SET_KEYS += [
    "evaluator.params.dataset",
    "evaluator.params.noise",
    "reward.name",
    "reward.params.power",
]
SEARCH_SET_KEYS += ["objectives", "constraints", "space", "strategy.name", "no_such_key", "seed.deeper", ""]
SEARCH_SET_KEYS += ["a..b", "strategy.params", "ray_address"]
ONESHOT_SET_KEYS = ["valid_fraction", "seed", "hyper.lr", "hyper.no_such", "supernet.channels", "order"]
ONESHOT_SET_KEYS += ["supernet.no_such", "method", "epochs", "batch_size", "no_such_key", "", "device"]
CHEAP_SET = {
    "n_trials": CHEAP_INTS,
    "workers": ["0", "1", "-1"],
    "max_concurrent": ["0", "1", "-1"],
    "executor": ["inline", "pool-nope", "null"],
    "space": ["nb201", "{name: nb201}", "null"],
    "space.params.channels": ["0", "-1", "2", "x"],
    "supernet.channels": ["0", "-1", "2", "x"],
    "epochs": ["0", "1", "-1", "1e-3", "x"],
    "batch_size": ["0", "2", "16", "-1"],
    "checkpoint_every": ["0", "1", "-1", "1e-3"],
    "max_time_s": ["0", "-1", "1e-3", "1", "nan", ".nan", "x"],
}
SET_KEYS: dict[tuple[str, ...], list[str]] = {("search",): SEARCH_SET_KEYS, ("oneshot",): ONESHOT_SET_KEYS}


# -- the commands of the app -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One option or argument of a command, as typer declares it."""

    opts: tuple[str, ...]
    secondary: tuple[str, ...]
    annotation: Any
    is_flag: bool
    multiple: bool
    is_argument: bool
    required: bool


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    parameters: tuple[Parameter, ...]


def app_commands() -> list[Command]:
    """Every command reachable from ``archsearch`` (groups that run themselves, like ``zero``, included)."""
    import typer

    from archsearch.cli import app

    found: list[Command] = []

    def walk(command: Any, path: tuple[str, ...], runs_itself: bool) -> None:
        if runs_itself:
            params = []
            for p in command.params:
                kind = type(p).__name__
                params.append(
                    Parameter(
                        tuple(p.opts),
                        tuple(getattr(p, "secondary_opts", ())),
                        getattr(getattr(p, "type_descriptor", None), "annotation", str),
                        bool(getattr(p, "is_flag", False)),
                        bool(p.multiple),
                        kind.endswith("Argument"),
                        bool(p.required),
                    )
                )
            found.append(Command(path, tuple(params)))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, (*path, name), not getattr(sub, "commands", None) or sub.invoke_without_command)

    walk(typer.main.get_command(app), (), False)
    return found


# -- cases -------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, values: list[str]) -> str:
    return values[int(rng.integers(len(values)))]


def _option_value(rng: np.random.Generator, command: Command, param: Parameter, plausible: bool) -> str:
    name = param.opts[0]
    work = WORK_OPTIONS.get(command.path, {})
    annotation = str(param.annotation)
    if plausible and rng.random() < 0.8:
        if name in work and name in WORK_CHOICES:
            return WORK_CHOICES[name][0]
        if name in CHOICES:
            return _pick(rng, CHOICES[name][:2])
        if "Path" in annotation:
            return _pick(rng, PLAUSIBLE_PATHS)
        if "int" in annotation:
            return _pick(rng, PLAUSIBLE_INTS)
        if "float" in annotation:
            return _pick(rng, PLAUSIBLE_FLOATS)
    if name in work:
        if name in WORK_CHOICES:
            return _pick(rng, WORK_CHOICES[name])
        return _pick(rng, CHEAP_FLOATS if "float" in annotation else CHEAP_INTS)
    if name in CHOICES and rng.random() < 0.7:
        return _pick(rng, CHOICES[name])
    if "Path" in annotation:
        return _pick(rng, PATHS)
    if "int" in annotation:
        return _pick(rng, INTS)
    if "float" in annotation:
        return _pick(rng, FLOATS)
    return _pick(rng, STRINGS + CHOICES.get(name, []))


def _set_value(rng: np.random.Generator, command: Command) -> str:
    keys = SET_KEYS.get(command.path, SEARCH_SET_KEYS)
    key = _pick(rng, keys)
    if rng.random() < 0.05:  # no "=" at all, or an empty key
        return _pick(rng, [key, f"={_pick(rng, YAML_VALUES)}", "=", "=="])
    values = CHEAP_SET.get(key) or YAML_VALUES + INTS[:6]
    return f"{key}={_pick(rng, values)}"


def make_case(rng: np.random.Generator, commands: list[Command]) -> list[str]:
    """One command line: a command, a random subset of its options in random order with random values,
    its arguments (sometimes missing or one too many), then the cheap work options it left out."""
    command = commands[int(rng.integers(len(commands)))]
    options = [p for p in command.parameters if not p.is_argument]
    arguments = [p for p in command.parameters if p.is_argument]
    words: list[list[str]] = []
    plausible = bool(rng.random() < 0.4)
    chosen = [p for p in options if rng.random() < 0.35]
    for param in chosen:
        repeats = int(rng.integers(1, 4)) if param.multiple else 1
        for _ in range(repeats):
            if param.is_flag:
                words.append([_pick(rng, [*param.opts, *param.secondary])])
            elif param.opts[0] == "--set":
                words.append(["--set", _set_value(rng, command)])
            else:
                words.append([_pick(rng, list(param.opts)), _option_value(rng, command, param, plausible)])
    for param in arguments:
        if rng.random() < 0.05:
            continue
        count = int(rng.integers(1, 3)) if param.multiple else 1
        pool = PLAUSIBLE_PATHS if plausible else PATHS
        words.extend([_pick(rng, pool)] for _ in range(count))
    if arguments and rng.random() < 0.03:
        words.append([_pick(rng, PATHS)])
    if rng.random() < 0.03:
        words.append([_pick(rng, ["--help", "--trails", "-x", "--", "--quiet=1"])])
    order = rng.permutation(len(words))
    argv = [*command.path, *(word for i in order for word in words[int(i)])]
    given = {p.opts[0] for p in chosen} | {s for p in chosen for s in p.secondary}
    for name, value in WORK_OPTIONS.get(command.path, {}).items():
        if name not in given and not any(f"--no-{name[2:]}" == s for s in given):
            argv += [name] if value is None else [name, value]
    return argv


def make_cases(seed: int, count: int) -> Iterator[list[str]]:
    rng = np.random.default_rng(seed)
    commands = app_commands()
    for _ in range(count):
        yield make_case(rng, commands)


# -- the files each case finds --------------------------------------------------------------------------


# The runs every case directory holds, made once per fuzz run by these command lines.
TEMPLATE_RUNS = [
    "search --space nb201 --trials 3 --executor inline --quiet --out study",
    "zero --budget 20 --population 4 --tournament 2 --engine python --n-train 5 --n-valid 5 --quiet --out zero-run",
    "oneshot --space nb201 --dataset digits --epochs 1 --train-limit 32 --batch-size 16 --threads 1 --quiet"
    " --out oneshot-run",
]


def build_template(root: Path, runs: bool = True) -> Path:
    """A directory with the TEMPLATE_RUNS (unless not ``runs``) and awkward files, for copying."""
    from archsearch.cli import main

    root.mkdir(parents=True, exist_ok=True)
    with restored_process_state(root, []):
        for argv in [line.split() for line in TEMPLATE_RUNS] if runs else []:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                try:
                    main(argv)
                except SystemExit as exc:
                    if exc.code not in (0, None):
                        raise RuntimeError(f"fuzz template: {' '.join(argv)} exited {exc.code}") from None
    for name, text in USER_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (root / "runs[").mkdir()
    (root / "runs[" / "old]").mkdir()
    (root / "new\nline").mkdir()
    (root / "empty-dir").mkdir()
    (root / "tagged.yaml").write_text("seed: !!python/name:os.system\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "garbage-run").mkdir()
    (root / "garbage-run" / "study.db").write_bytes(b"this is not sqlite\x00" * 64)
    (root / "foreign-db").mkdir()
    import sqlite3

    with contextlib.closing(sqlite3.connect(root / "foreign-db" / "study.db")) as db:
        db.execute("create table trials (id integer primary key, note text)")
        db.commit()
    return root


# -- running a case ----------------------------------------------------------------------------------


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False


class CaseTimeout(BaseException):
    """Raised in the main thread when a case runs past its limit (a BaseException: no handler swallows it)."""


@dataclass
class Outcome:
    argv: list[str]
    code: int | None
    seconds: float
    failure: str | None = None
    detail: str = ""
    stderr: str = field(default="", repr=False)


def _where(tb: Any) -> str:
    """The deepest archsearch frame of a traceback, as path:function."""
    where = "?"
    for frame in traceback.extract_tb(tb):
        if "/archsearch/" in frame.filename:
            where = f"{frame.filename.split('/archsearch/', 1)[1]}:{frame.name}"
    return where


def _normalize(text: str) -> str:
    """A message with its paths, quoted values and numbers blanked, so one bug is one kind."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"(/[^\s:]+)+", "PATH", text)
    return re.sub(r"\d+(\.\d+)?", "N", text)[:120]


class _LogRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.tracebacks.append(self.format(record))


@contextlib.contextmanager
def restored_process_state(directory: Path, changed: list[str]) -> Iterator[None]:
    """Run the body in ``directory``; afterwards put back the working directory, torch's thread count,
    the SIGINT and SIGTERM handlers and the blocked signals, naming in ``changed`` the signal state that a
    command (which runs in-process here) left altered."""
    import torch

    previous_dir, threads = Path.cwd(), torch.get_num_threads()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous_dir)
        torch.set_num_threads(threads)  # oneshot --threads sets it for the process, as it should
        for signum, handler in handlers.items():
            if signal.getsignal(signum) != handler:
                changed.append(f"{signal.Signals(signum).name} handler")
                signal.signal(signum, handler)
        if signal.pthread_sigmask(signal.SIG_SETMASK, blocked) != blocked:
            changed.append("blocked signals")


def run_case(argv: list[str], directory: Path, limit_s: float) -> Outcome:
    """Run ``archsearch <argv>`` in-process in ``directory`` and classify what happened."""

    from archsearch.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    logs = _LogRecords()
    logging.getLogger().addHandler(logs)
    previous_alarm = signal.getsignal(signal.SIGALRM)

    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout

    code: int | None = None
    failure, detail = None, ""
    start = time.perf_counter()
    left_changed: list[str] = []
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with (
            restored_process_state(directory, left_changed),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            main(argv)
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except CaseTimeout:
        failure = "no exit within the time limit"
    except BaseException as exc:  # noqa: BLE001 - anything escaping main() is what this looks for
        failure = f"{type(exc).__name__} escapes main() at {_where(exc.__traceback__)}"
        detail = f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        logging.getLogger().removeHandler(logs)
    seconds = time.perf_counter() - start
    err = stderr.getvalue()
    last = next((line for line in reversed(err.strip().splitlines()) if line.strip()), "")
    if failure is None and code not in OK_CODES:
        failure, detail = f"exit {code}: {_normalize(last)}", last
    if failure is None and "Traceback (most recent call last)" in err + stdout.getvalue():
        failure, detail = f"traceback printed: {_normalize(last)}", last
    if failure is None:
        changed = [name for name, text in USER_FILES.items() if not _holds(directory / name, text)]
        if changed:
            failure, detail = "a user's file was removed or changed", ", ".join(changed)
    if failure is None and left_changed:
        failure, detail = f"left the process changed: {', '.join(left_changed)}", ""
    if failure is None and logs.tracebacks:
        failure = f"traceback logged: {_normalize(logs.tracebacks[0].splitlines()[0])}"
        detail = logs.tracebacks[0].splitlines()[-1]
    return Outcome(argv, code, seconds, failure, detail, err)


@dataclass
class Report:
    """What a fuzz run found: every failure kind with its first command line and how often it came."""

    cases: int = 0
    seconds: float = 0.0
    codes: dict[int | None, int] = field(default_factory=dict)
    kinds: dict[str, list[Outcome]] = field(default_factory=dict)
    long_errors: list[Outcome] = field(default_factory=list)
    """Exits 2 whose stderr has more than one line (not failures here: the rule is one line per error)."""

    slowest: Outcome | None = None
    """The longest case that ended by itself."""
    commands: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.cases += 1
        if outcome.code is not None and (self.slowest is None or outcome.seconds > self.slowest.seconds):
            self.slowest = outcome
        if outcome.code == 2 and len([line for line in outcome.stderr.splitlines() if line.strip()]) > 1:
            self.long_errors.append(outcome)
        self.seconds += outcome.seconds
        self.codes[outcome.code] = self.codes.get(outcome.code, 0) + 1
        command = command_of(outcome.argv)
        self.commands[command] = self.commands.get(command, 0) + 1
        if outcome.failure is not None:
            self.kinds.setdefault(f"[{command}] {outcome.failure}", []).append(outcome)

    def summary(self) -> str:
        lines = [
            f"{self.cases} cases in {self.seconds:.1f} s; exit codes {dict(sorted(self.codes.items(), key=str))}"
        ]
        lines.append("cases per command: " + ", ".join(f"{c} {n}" for c, n in sorted(self.commands.items())))
        if self.slowest is not None:
            lines.append(f"slowest case {self.slowest.seconds:.1f} s: {self.slowest.argv!r}")
        if self.long_errors:
            first = self.long_errors[0]
            lines.append(f"{len(self.long_errors)} exits 2 printed more than one line, e.g. {first.argv!r}:")
            lines.append("    " + first.stderr.strip().replace("\n", "\n    ")[:400])
        for kind, outcomes in sorted(self.kinds.items()):
            lines.append(
                f"{len(outcomes)} x {kind}\n    argv: {outcomes[0].argv!r}\n    {outcomes[0].detail}"
            )
        return "\n".join(lines)


@functools.cache
def _command_paths() -> tuple[tuple[str, ...], ...]:
    return tuple(sorted((c.path for c in app_commands()), key=len, reverse=True))


def command_of(argv: list[str]) -> str:
    """The command an argv runs, e.g. "zero resume" (the longest command path it starts with)."""
    return " ".join(next((p for p in _command_paths() if tuple(argv[: len(p)]) == p), argv[:1]))


def fuzz(
    seed: int, count: int, workdir: Path, limit_s: float = 20.0, max_total_s: float | None = None
) -> Report:
    """Run ``count`` seeded cases (fewer when ``max_total_s`` runs out), each in a fresh copy of the template."""
    template = build_template(workdir / "template")
    report = Report()
    started = time.perf_counter()
    for index, argv in enumerate(make_cases(seed, count)):
        if max_total_s is not None and time.perf_counter() - started > max_total_s:
            break
        case_dir = workdir / f"case-{index}"
        shutil.copytree(template, case_dir, symlinks=True)
        report.add(run_case(argv, case_dir, limit_s))
        shutil.rmtree(case_dir, ignore_errors=True)
    return report


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description="Fuzz the archsearch command line with seeded random cases.")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds one case may take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archsearch-fuzz-") as workdir:
        report = fuzz(args.seed, args.cases, Path(workdir), args.limit)
    print(report.summary())
    sys.exit(1 if report.kinds else 0)


if __name__ == "__main__":
    main()
