"""CPU seconds the ``archsearch`` command spends before it does any work (issue 16, part 6).

Each command runs in a fresh process; its CPU time (user + system, ``resource.getrusage`` of the children)
is set beside bare Python (``python -c pass``) and ``python -c "import torch"``. The commands that only read
(``--help``, ``status DIR``, ``best DIR``, ``front DIR``, ``search --help``) should cost little more than
bare Python; the target is ``--help`` within 0.5 s of CPU above it.

    python benchmarks/cli_startup.py                 # a small study made first (a few seconds of training)
    python benchmarks/cli_startup.py --study runs/x  # an existing study
    python benchmarks/cli_startup.py --repeats 5

The median of ``--repeats`` runs of each is printed. To measure another checkout, put its ``src`` first:
``PYTHONPATH=/other/src python benchmarks/cli_startup.py`` (the processes inherit the environment).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_HELP_S = 0.5
"""The most CPU seconds ``archsearch --help`` may spend above bare Python (issue 16)."""


def cpu_seconds(argv: list[str]) -> float | None:
    """User + system CPU seconds of running ``argv`` to its end (its output discarded); None when it fails
    (an older checkout without the command)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(
            f"{' '.join(argv[1:])} failed ({done.returncode}): {done.stderr.decode()[-300:]}", file=sys.stderr
        )
        return None
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_seconds(argv: list[str], repeats: int) -> float | None:
    """The median CPU seconds of ``repeats`` runs of ``argv`` (None when it fails)."""
    runs = [cpu_seconds(argv) for _ in range(repeats)]
    done = [value for value in runs if value is not None]
    return statistics.median(done) if len(done) == len(runs) else None


def make_study(directory: Path) -> None:
    """A small study of the built-in default (NAS-RL on digits): two trials of one epoch."""
    argv = [sys.executable, "-m", "archsearch", "search", "--trials", "2", "--epochs", "1"]
    argv += ["--executor", "inline", "--quiet", "--out", str(directory)]
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"making the study failed ({done.returncode}): {done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, help="An existing study directory (default: make a small one).")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each command; the median is shown.")
    args = parser.parse_args()
    os.environ.setdefault("COLUMNS", "100")  # the same help layout whatever the terminal
    with tempfile.TemporaryDirectory() as scratch:
        study = args.study
        if study is None:
            study = Path(scratch) / "study"
            make_study(study)
        python = [sys.executable]
        archsearch = [sys.executable, "-m", "archsearch"]
        commands = {
            "python -c pass": [*python, "-c", "pass"],
            'python -c "import torch"': [*python, "-c", "import torch"],
            "archsearch --help": [*archsearch, "--help"],
            "archsearch --version": [*archsearch, "--version"],
            "archsearch search --help": [*archsearch, "search", "--help"],
            "archsearch status DIR": [*archsearch, "status", str(study)],
            "archsearch best DIR": [*archsearch, "best", str(study)],
            "archsearch front DIR": [
                *archsearch,
                "front",
                str(study),
                "--objectives",
                "val_acc:max,params:min",
            ],
        }
        seconds = {name: median_seconds(argv, args.repeats) for name, argv in commands.items()}
    bare = seconds["python -c pass"] or 0.0
    cores = os.cpu_count()
    print(f"CPU seconds, median of {args.repeats} runs (Python {sys.version.split()[0]}, {cores} cores)")
    print(f"{'command':<28} {'CPU s':>7} {'above bare Python':>18}")
    for name, value in seconds.items():
        shown = ("failed", "") if value is None else (f"{value:.2f}", f"{value - bare:.2f}")
        print(f"{name:<28} {shown[0]:>7} {shown[1]:>18}")
    help_s = seconds["archsearch --help"]
    if help_s is not None:
        verdict = "met" if help_s - bare <= TARGET_HELP_S else "missed"
        print(
            f"target: --help within {TARGET_HELP_S} s of CPU above bare Python: {verdict} ({help_s - bare:.2f} s)"
        )


if __name__ == "__main__":
    main()
