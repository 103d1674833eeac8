"""Run directories written by archsearch before the store was split (commit fa339fa, issue 16) still work.

``data/study_nb201_6_trials.db.gz``: ``archsearch search --space nb201 --strategy evolution --trials 6
--seed 3`` run by that code. ``data/oneshot_epoch1_of_2.db.gz``: ``archsearch oneshot --method asng --space
nb201 --epochs 2 --set supernet.channels=2 --set supernet.cells_per_stage=1 --train-limit 160 --batch-size
32 --threads 1`` run by that code, then its second epoch, checkpoint and summary deleted (as if killed after
the first epoch); ``oneshot_epoch1_expected.json`` is the second epoch that run recorded."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.runs import open_run

DATA = Path(__file__).parent / "data"


def unpack(name: str, directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "study.db").write_bytes(gzip.decompress((DATA / name).read_bytes()))
    return directory


def cli(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        main([*args])
    assert done.value.code == 0


def test_an_old_study_resumes_to_the_trials_of_an_uninterrupted_run(tmp_path, capsys) -> None:
    old = unpack("study_nb201_6_trials.db.gz", tmp_path / "old")
    with open_run(old, read_only=True) as run:
        assert run.kind == "study" and (run.status().done, run.status().total) == (6, 6)
        best_before = run.best()
    assert best_before is not None
    cli("resume", str(old), "--trials", "10", "--quiet")
    cli("search", "--space", "nb201", "--strategy", "evolution", "--trials", "10", "--seed", "3", "--quiet",
        "--out", str(tmp_path / "new"))  # fmt: skip
    with open_run(old, read_only=True) as resumed, open_run(tmp_path / "new", read_only=True) as fresh:
        got, want = resumed.trials_dataframe(), fresh.trials_dataframe()
    assert list(got["architecture"]) == list(want["architecture"])
    assert list(got["reward"]) == list(want["reward"])
    capsys.readouterr()
    cli("trials", str(old))
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 10  # the header and ten trials


def test_an_old_one_shot_run_resumes_its_last_epoch_as_the_old_code_ran_it(tmp_path, capsys) -> None:
    old = unpack("oneshot_epoch1_of_2.db.gz", tmp_path / "old")
    expected = json.loads((DATA / "oneshot_epoch1_expected.json").read_text())
    with open_run(old, read_only=True) as run:
        assert run.kind == "oneshot" and (run.status().done, run.status().total) == (1, 2)
    cli("resume", str(old), "--quiet")
    with open_run(old, read_only=True) as run:
        epochs = run.trials_dataframe()
        best = run.best()
    assert list(epochs["epoch"]) == [0, 1]
    last = epochs.iloc[-1]
    assert last["architecture"] == expected["arch_str"]
    for name, value in expected["metrics"].items():
        assert last[f"metric_{name}"] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert best is not None and best.label == expected["arch_str"]
