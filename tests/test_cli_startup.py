"""The commands that only read start without the heavy libraries: ``archsearch --help``, ``--version``,
``search --help``, ``status``, ``best`` and ``front`` import neither torch nor numba nor Ray (issue 16).

The commands run one after another in one fresh interpreter, which records after each the modules it
newly imported; nothing is timed (``benchmarks/cli_startup.py`` measures the CPU seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archsearch.cli import main

HEAVY = ("torch", "numba", "ray", "pandas", "matplotlib", "scipy", "sklearn")
"""Libraries no reading command may import."""
NOT_AT_START = ("numpy",)
"""Libraries ``--help`` and ``--version`` do without as well (they keep it within 0.5 s of CPU)."""

PROBE = textwrap.dedent(
    """
    import json, sys
    from archsearch.cli import main

    commands, found = json.loads(sys.argv[1]), []
    for argv in commands:
        before = set(sys.modules)
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        found.append({"argv": argv, "code": code, "new": sorted(set(sys.modules) - before)})
    print(json.dumps(found), file=sys.__stderr__)
    """
)


def imports_of(commands: list[list[str]], cwd: Path) -> list[dict]:
    """For each command run in turn in one fresh interpreter: its exit code and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


def top_level(modules: list[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A finished multi-metric study of NAS-Bench-201 cells looked up in the table (no training)."""
    directory = tmp_path_factory.mktemp("startup") / "nb201"
    args = ["search", "--space", "nb201", "--evaluator", "tabular", "--strategy", "evolution", "--trials", "6",
            "--set", "clock=cost", "--executor", "inline", "--quiet", "--out", str(directory)]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    return directory


def test_help_status_best_and_front_import_neither_torch_nor_numba_nor_ray(study, tmp_path):
    commands = [
        ["--help"],
        ["--version"],
        ["search", "--help"],
        ["zero", "--help"],
        ["oneshot", "--help"],
        ["bench", "--help"],
        ["status", str(study)],
        ["best", str(study)],
        ["best", str(study), "--json", "--objective", "val_acc"],
        ["front", str(study), "--objectives", "val_acc:max,params_mb:min"],
    ]
    runs = imports_of(commands, tmp_path)
    assert [run["code"] for run in runs] == [0] * len(commands), runs
    imported: set[str] = set()
    for run in runs:
        imported |= top_level(run["new"])
        heavy = sorted(imported & set(HEAVY))
        assert not heavy, f"archsearch {' '.join(run['argv'])} imported {heavy}"
        if run["argv"] in (["--help"], ["--version"]):
            assert not imported & set(NOT_AT_START), f"archsearch {run['argv'][0]} imported numpy"


@pytest.mark.slow  # building the default study imports torch in this process (seconds)
def test_status_and_best_of_the_default_nasrl_study_import_no_torch(tmp_path):
    from archsearch.config import StudyConfig
    from archsearch.study import Study

    Study.create(StudyConfig(), tmp_path / "nasrl").close()
    runs = imports_of([["status", "nasrl"], ["best", "nasrl"]], tmp_path)
    assert [run["code"] for run in runs] == [0, 0], runs
    for run in runs:
        assert not top_level(run["new"]) & set(HEAVY), run
