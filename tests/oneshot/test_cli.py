"""``archsearch oneshot``: end to end per method, resume, report, export and retraining of the found cell,
and bad flags as one line with exit code 2."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch

from archsearch.cli import main
from archsearch.core import Architecture
from archsearch.evaluators.training import TrainingEvaluator
from archsearch.oneshot.base import METHODS
from archsearch.oneshot.run import OneShotRun
from archsearch.registry import construct
from archsearch.store.sqlite import Store
from oneshot.test_run import GreedyCategorical, StopAfterEpoch, trajectory

DATA = ["--dataset", "digits", "--train-limit", "160", "--batch-size", "32", "--threads", "1", "--quiet"]
NB201_TINY = ["--set", "supernet.channels=2", "--set", "supernet.cells_per_stage=1"]
TINY = DATA + NB201_TINY


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


@pytest.fixture
def stand_in_asng(monkeypatch):
    """The test_run stand-in method under the name "asng": the command's plumbing at a fraction of the cost."""
    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)


def test_report_and_export_of_a_run_whose_cell_retrains_from_scratch(tmp_path, stand_in_asng, capsys) -> None:
    run = tmp_path / "run"
    assert run_cli("oneshot", "--method", "asng", "--epochs", "2", "--out", str(run), *TINY) == 0
    printed = capsys.readouterr().out
    assert "NAS-Bench-201 table: the true accuracies of cell" in printed and "collapse check" in printed

    assert run_cli("report", str(run)) == 0
    page = (run / "report" / "index.html").read_text()
    assert '<img src="distribution.png"' in page and "NAS-Bench-201 table" in page
    assert (run / "report" / "distribution.png").stat().st_size > 1000

    assert run_cli("export", str(run), "--out", str(tmp_path / "export")) == 0
    record = json.loads((tmp_path / "export" / "architecture.json").read_text())
    store = Store(run)
    summary = store.get_meta("summary")
    store.close()
    arch = Architecture.from_dict(record)
    assert arch == Architecture.from_dict(summary["arch"]) and record["encoded"] == summary["arch_str"]
    # the exported cell is a normal NB201 architecture: the training evaluator retrains it from scratch
    space = construct("space", record["space"], record["config"])
    result = TrainingEvaluator(
        dataset="digits", train_limit=200, epochs=1, batch_size=50, device="cpu"
    ).evaluate(space, arch, seed=0)
    assert result.status == "ok", result.error
    assert 0.0 <= result.metrics["val_acc"] <= 1.0
    model = runpy.run_path(str(tmp_path / "export" / "model.py"))["build_model"]()
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in space.build(arch, (1, 8, 8), 10).parameters()
    )
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_resume_command_continues_an_interrupted_run(tmp_path, stand_in_asng, monkeypatch, capsys) -> None:
    assert run_cli("oneshot", "--epochs", "3", "--seed", "2", "--out", str(tmp_path / "whole"), *TINY) == 0
    original = OneShotRun.run

    def interrupted(self, listeners=()):
        return original(self, [StopAfterEpoch(epoch=1, steps=1)])

    monkeypatch.setattr(OneShotRun, "run", interrupted)
    assert run_cli("oneshot", "--epochs", "3", "--seed", "2", "--out", str(tmp_path / "cut"), *TINY) == 130
    assert "archsearch oneshot --resume" in capsys.readouterr().err
    assert run_cli("status", str(tmp_path / "cut")) == 0
    assert "one-shot asng run, 1/3 epochs finished" in capsys.readouterr().out
    monkeypatch.setattr(OneShotRun, "run", original)
    assert run_cli("oneshot", "--resume", str(tmp_path / "cut"), "--quiet") == 0
    assert trajectory(tmp_path / "cut") == trajectory(tmp_path / "whole")
    assert (
        run_cli("resume", str(tmp_path / "cut"), "--quiet") == 0
    )  # the study command knows one-shot runs too


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "asng", "--order", "2"], "--order is DARTS' gradient order; method 'asng' has none"),
        (["--method", "nasnet"], "bad one-shot option method"),
        (["--space", "nasrl_cnn"], "bad one-shot option space"),
        (["--dataset", "svhn"], "unknown data set 'svhn'"),
        (["--epochs", "0"], "bad one-shot option epochs"),
        (["--set", "lr=3"], "--set expects supernet.NAME=VALUE or hyper.NAME=VALUE"),
        (["--set", "hyper.no_such_option=3"], "no_such_option"),
        (["--dataset", "fashion-mnist", "--data-dir", "nowhere"], "data directory nowhere does not exist"),
        (["--resume", "old", "--epochs", "5"], "drop --train-limit, --epochs, --batch-size, --out"),
        (["--epochs", "many"], "--epochs"),
    ],
)
def test_bad_flags_are_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    code = run_cli("oneshot", "--out", "run", "--train-limit", "160", "--batch-size", "32", *args)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert not (tmp_path / "run").exists()


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run_cli("oneshot", "--device", "cuda", "--out", str(tmp_path / "run")) == 2
    assert "asked for CUDA, which this machine lacks" in capsys.readouterr().err


METHOD_FLAGS = {
    # one controller step per minibatch: the default 2,000 per epoch would be 1,000 per minibatch here
    "enas": ["--method", "enas", "--set", "hyper.controller_steps=1"],
    "darts-1st": ["--method", "darts", "--order", "1"],
    "darts-2nd": ["--method", "darts", "--order", "2"],
    "asng": ["--method", "asng"],
    "asng-darts-space": ["--method", "asng", "--space", "darts"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHOD_FLAGS))
def test_each_method_searches_digits_end_to_end(tmp_path, name, capsys) -> None:
    run = tmp_path / name
    sizes = (
        ["--set", "supernet.channels=2", "--set", "supernet.cells=1"] if "darts-space" in name else NB201_TINY
    )
    assert run_cli("oneshot", *METHOD_FLAGS[name], "--epochs", "2", "--out", str(run), *DATA, *sizes) == 0
    store = Store(run)
    epochs, summary = store.epochs(), store.get_meta("summary")
    store.close()
    assert [e.epoch for e in epochs] == [0, 1]
    assert all(abs(sum(row) - 1.0) < 1e-6 for e in epochs for row in e.probabilities)
    assert summary["arch_str"] == epochs[-1].arch_str
    assert 0.0 <= summary["estimate_test_acc"] <= 1.0
    if "darts-space" in name:
        assert (
            summary["space"] == "darts_cell" and "normal:" in summary["arch_str"] and "nb201" not in summary
        )
    else:
        assert summary["nb201"]["cifar10"]["rank"] >= 1
    assert run_cli("export", str(run)) == 0
    assert Path(run / "export" / "model.py").is_file()
