"""End to end: the real CLI trains real child networks on digits, is killed with SIGKILL, resumes,
reports and exports a model that runs without archsearch."""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

SMALL = [
    "--trials", "6", "--epochs", "1", "--workers", "2", "--quiet",
    "--set", "space.params.num_layers=2",
    "--set", "space.params.num_filters=[8,16]",
    "--set", "evaluator.params.train_limit=600",
    "--set", "strategy.params.batch_size=2",
]  # fmt: skip


def cli(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "archsearch", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def in_process(*args: str) -> int:
    """``archsearch ARGS`` run by the command line's main() in this process: its exit code."""
    from archsearch.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def finished(directory: Path) -> list[tuple]:
    if not (directory / "study.db").exists():
        return []
    try:
        with sqlite3.connect(directory / "study.db", timeout=5) as conn:
            return conn.execute(
                "SELECT number, arch, status, reward FROM trials WHERE status != 'running' ORDER BY number"
            ).fetchall()
    except sqlite3.Error:
        return []


def test_kill_9_resume_report_and_export_on_real_children(tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    cli("search", "--out", str(full), *SMALL)
    expected = finished(full)
    assert len(expected) == 6

    proc = subprocess.Popen([sys.executable, "-m", "archsearch", "search", "--out", str(cut), *SMALL])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(finished(cut)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished(cut)
    assert 2 <= len(before) < 6
    cli("resume", str(cut), "--quiet")
    after = finished(cut)
    assert after[: len(before)] == before
    assert after == expected  # same seed, same trajectory, interrupted or not

    # report and export in this process (the same command line, without two more interpreter starts)
    assert in_process("report", str(cut)) == 0
    index = cut / "report" / "index.html"
    assert index.exists() and "report" in capsys.readouterr().out
    assert in_process("export", str(cut), "--out", str(tmp_path / "export")) == 0
    source = (tmp_path / "export" / "model.py").read_text()
    assert "import archsearch" not in source and "from archsearch" not in source
    spec = importlib.util.spec_from_file_location("exported_model", tmp_path / "export" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model().eval()
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_missing_data_directory_is_one_line_exit_2(tmp_path):
    result = cli("search", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "s"), check=False)  # fmt: skip
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
