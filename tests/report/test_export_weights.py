"""Export with trained weights: model.py and weights.pt reproduce a trial's test accuracy in a fresh process."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_export import load_exported

from archsearch.cli import main
from archsearch.config import parse_config
from archsearch.core import Architecture, Evaluator, Result, SearchSpace, TrialRecord
from archsearch.report.export import export_pytorch_source, export_trial, write_trial_export
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace
from archsearch.study import Study
from tiny_spaces import OneChoiceSpace

TRAINING = {
    "dataset": "digits",
    "train_limit": 300,
    "epochs": 1,
    "batch_size": 32,
    "device": "cpu",
    "val_size": 60,
}
"""A child trained in about a second: the tiny digits data set, one epoch."""

SCORE = textwrap.dedent(
    """
    import importlib.util, json, sys

    from archsearch.evaluators.training import TrainingEvaluator, accuracy

    spec = importlib.util.spec_from_file_location("exported_model", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load_model()
    split = TrainingEvaluator(**json.loads(sys.argv[2])).split()
    print(json.dumps(accuracy(model, split.test_x, split.test_y, 1024)))
    """
)
"""Run in a fresh Python: load model.py and its weights.pt, score them on the evaluator's test split."""


def fresh_test_accuracy(model_py: Path, training: dict[str, Any]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCORE, str(model_py), json.dumps(training)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=model_py.parent,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def nasrl_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished nasrl_cnn study of four trained children on digits that keeps the best two's weights."""
    directory = tmp_path_factory.mktemp("weights") / "study"
    config = parse_config(
        {
            "seed": 1,
            "n_trials": 4,
            "executor": "inline",
            "keep_weights": 2,
            "space": {"name": "nasrl_cnn", "params": {"num_layers": 2, "num_filters": [4, 8]}},
            "strategy": {"name": "random"},
            "evaluator": {"name": "training", "params": TRAINING},
            "reward": {"name": "acc_cubed", "params": {"metric": "val_acc", "power": 1}},
        }
    )
    study = Study.create(config, directory)
    study.run()
    study.close()
    return directory


def test_the_exported_model_of_a_built_in_space_has_the_state_dict_keys_of_the_searched_one(
    tmp_path: Path,
) -> None:
    space = NasRLCNNSpace(num_layers=4, predict_strides=True, num_filters=(2, 3, 4))
    for seed in range(3):
        arch = space.sample(np.random.default_rng(seed))
        source = export_pytorch_source(space, arch, (1, 8, 8), 10)
        exported = load_exported(source, tmp_path / f"model{seed}.py").build_model()
        built = space.build(arch, (1, 8, 8), 10)
        assert list(exported.state_dict()) == list(built.state_dict())
        assert all(
            exported.state_dict()[key].shape == value.shape for key, value in built.state_dict().items()
        )


def test_export_writes_the_best_trials_weights_and_a_fresh_process_reproduces_its_test_accuracy(
    nasrl_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert run_cli("export", str(nasrl_study), "--out", str(out)) == 0
    line = capsys.readouterr().out
    study = Study.load(nasrl_study, read_only=True)
    best = study.best()
    study.close()
    assert best is not None
    assert f"exported trial {best.number} " in line and "weights.pt (the trained weights)" in line
    assert sorted(p.name for p in out.iterdir()) == ["architecture.json", "model.py", "weights.pt"]
    source = (out / "model.py").read_text()
    assert "import archsearch" not in source and "from archsearch" not in source
    assert fresh_test_accuracy(out / "model.py", TRAINING) == best.metrics["test_acc"]


def test_a_trial_whose_weights_were_not_kept_is_exported_without_them(
    nasrl_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = Study.load(nasrl_study, read_only=True)
    kept = study.store.kept_weights()
    dropped = next(t for t in study.store.trials() if t.number not in kept)
    study.close()
    out = tmp_path / "export"
    out.mkdir()
    (out / "weights.pt").write_bytes(b"an earlier export's")
    assert run_cli("export", str(nasrl_study), "--trial", str(dropped.number), "--out", str(out)) == 0
    text = capsys.readouterr().out
    assert f"no weights.pt: trial {dropped.number}'s weights were not kept: only the best 2" in text
    assert sorted(p.name for p in out.iterdir()) == ["architecture.json", "model.py"]


def test_export_trial_from_python_writes_the_same_files(nasrl_study: Path, tmp_path: Path) -> None:
    study = Study.load(nasrl_study, read_only=True)
    try:
        second = study.store.kept_weights()[1]
        directory = export_trial(study, trial=second, out=tmp_path / "second")
        assert directory == tmp_path / "second"
        weights = torch.load(directory / "weights.pt", weights_only=True)
        model = load_exported((directory / "model.py").read_text(), tmp_path / "m.py").build_model()
        model.load_state_dict(weights)
        assert (directory / "weights.pt").read_bytes() == study.store.weights(second)
        record: TrialRecord = write_trial_export(study, out=tmp_path / "best").trial
        assert record.number == study.store.kept_weights()[0]
    finally:
        study.close()


def test_a_study_that_keeps_no_weights_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = parse_config(
        {
            "n_trials": 1,
            "executor": "inline",
            "keep_weights": 0,
            "space": {"name": "nasrl_cnn", "params": {"num_layers": 1, "num_filters": [2]}},
            "strategy": {"name": "random"},
            "evaluator": {"name": "training", "params": {**TRAINING, "train_limit": 100}},
        }
    )
    study = Study.create(config, tmp_path / "s")
    study.run()
    done = write_trial_export(study, out=tmp_path / "export")
    study.close()
    assert not done.weights and done.no_weights == "the study keeps no trained weights (keep_weights: 0)"
    assert done.files == ["architecture.json", "model.py"]


USER_NET = textwrap.dedent(
    '''
    """A user's model with choices: a layer choice between two convolutions, a width and a hidden size."""

    import torch
    from torch import nn

    from archsearch.nn import LayerChoice, choice


    class Net(nn.Module):
        def __init__(self, input_shape=(1, 8, 8), num_classes=10, hidden=16):
            super().__init__()
            channels, height, width = input_shape
            filters = choice("filters", [4, 6])
            self.conv = LayerChoice(
                {
                    "conv3x3": nn.Conv2d(channels, filters, 3, padding=1),
                    "conv1x1": nn.Conv2d(channels, filters, 1),
                },
                label="conv",
            )
            self.head = nn.Sequential(
                nn.Flatten(),
                nn.Linear(filters * height * width, choice("hidden", [hidden, 2 * hidden])),
                nn.ReLU(),
                nn.Linear(choice("hidden", [hidden, 2 * hidden]), num_classes),  # the same choice
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.conv(x)))
    '''
)
"""The user's module, written into its own folder by the test."""


@pytest.fixture(scope="module")
def user_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study of the user's ``Net`` (a module of the user's folder) trained on digits."""
    from archsearch.nn import ModelSpace

    root = tmp_path_factory.mktemp("user")
    (root / "code").mkdir()
    (root / "code" / "usernet_for_export.py").write_text(USER_NET, encoding="utf-8")
    sys.path.insert(0, str(root / "code"))
    try:
        from usernet_for_export import Net  # type: ignore[import-not-found]

        config = parse_config(
            {
                "seed": 2,
                "n_trials": 3,
                "executor": "inline",
                "keep_weights": 1,
                "strategy": {"name": "random"},
                "evaluator": {"name": "training", "params": TRAINING},
                "reward": {"name": "acc_cubed", "params": {"metric": "val_acc", "power": 1}},
            }
        )
        study = Study.create(config, root / "study", space=ModelSpace(Net, hidden=12))
        study.run()
        study.close()
    finally:
        sys.path.remove(str(root / "code"))
    return root / "study"


def test_a_user_model_space_exports_source_that_imports_the_users_module_and_its_trained_weights(
    user_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert run_cli("export", str(user_study), "--out", str(out)) == 0
    line = capsys.readouterr().out
    assert "weights.pt (the trained weights)" in line
    assert sorted(p.name for p in out.iterdir()) == [
        "architecture.json",
        "model.py",
        "values.json",
        "weights.pt",
    ]
    source = (out / "model.py").read_text()
    assert "from usernet_for_export import Net" in source and "with fixed_arch(VALUES):" in source
    study = Study.load(user_study, read_only=True)
    best = study.best()
    assert best is not None
    assert json.loads((out / "values.json").read_text()) == study.space.values(best.arch)  # type: ignore[attr-defined]
    study.close()
    # a fresh process elsewhere: model.py finds the user's module where the search found it
    assert fresh_test_accuracy(out / "model.py", TRAINING) == best.metrics["test_acc"]


class DepthEvaluator(Evaluator):
    """Scores a dict of choices by its depth: no model, so nothing to export but the values."""

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        depth = space.values(arch)["depth"]  # type: ignore[attr-defined]
        return Result(metrics={"val_acc": depth / 10 + (seed % 7) / 1000}, curve={"val_acc": [depth / 10]})

    def config(self) -> dict[str, Any]:
        return {}


def test_a_dict_space_exports_its_values_and_says_there_is_no_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_config(
        {
            "n_trials": 2,
            "executor": "inline",
            "strategy": {"name": "random"},
            "reward": {"name": "acc_cubed", "params": {"metric": "val_acc", "power": 1}},
        }
    )
    study = Study.create(
        config, tmp_path / "s", space={"depth": [2, 4], "act": ["relu", "gelu"]}, evaluator=DepthEvaluator()
    )
    study.run()
    best = study.best()
    study.close()
    assert best is not None
    assert run_cli("export", str(tmp_path / "s"), "--out", str(tmp_path / "export")) == 0
    text = capsys.readouterr().out
    assert "no model.py: space 'dict' builds no model" in text
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["architecture.json", "values.json"]
    values = json.loads((tmp_path / "export" / "values.json").read_text())
    assert set(values) == {"depth", "act"} and best.arch_str.startswith(f"depth={values['depth']}")


KILLED = [
    "--trials", "6", "--epochs", "1", "--workers", "2", "--quiet",
    "--set", "keep_weights=2",
    "--set", "space.params.num_layers=2",
    "--set", "space.params.num_filters=[4,8]",
    "--set", "evaluator.params.train_limit=300",
    "--set", "evaluator.params.val_size=60",
    "--set", "strategy.params.batch_size=2",
]  # fmt: skip
"""A search of real children on the pool executor, small enough to be killed and resumed in a minute."""


def kept_states(directory: Path) -> dict[int, dict[str, torch.Tensor]]:
    study = Study.load(directory, read_only=True)
    try:
        blobs = {n: study.store.weights(n) for n in study.store.kept_weights()}
    finally:
        study.close()
    return {n: torch.load(io.BytesIO(b or b""), weights_only=True) for n, b in blobs.items()}


def finished_count(directory: Path) -> int:
    try:
        with sqlite3.connect(directory / "study.db", timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_search_killed_and_resumed_keeps_the_weights_an_uninterrupted_one_keeps_and_exports_them(
    tmp_path: Path,
) -> None:
    def search(*args: str) -> None:
        command = [sys.executable, "-m", "archsearch", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=600)

    full, cut = tmp_path / "full", tmp_path / "cut"
    search("search", "--out", str(full), *KILLED)
    process = subprocess.Popen([sys.executable, "-m", "archsearch", "search", "--out", str(cut), *KILLED])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and finished_count(cut) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 2 <= finished_count(cut) < 6
    search("resume", str(cut), "--quiet")

    expected, resumed = kept_states(full), kept_states(cut)
    assert list(resumed) == list(expected) and len(expected) == 2
    for number, state in expected.items():
        assert list(resumed[number]) == list(state)
        assert all(torch.equal(resumed[number][key], value) for key, value in state.items())

    assert run_cli("export", str(cut), "--out", str(tmp_path / "export")) == 0  # in this process
    study = Study.load(cut, read_only=True)
    best = study.best()
    study.close()
    assert best is not None and best.number == next(iter(expected))
    training = {"dataset": "digits", "train_limit": 300, "val_size": 60, "device": "cpu"}
    assert fresh_test_accuracy(tmp_path / "export" / "model.py", training) == best.metrics["test_acc"]


class ConvSpace(OneChoiceSpace):
    """A user's own ``SearchSpace`` subclass that builds: one decision, the filters of a convolution."""

    name = "conv-for-export"

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> torch.nn.Module:
        channels, height, width = input_shape
        return torch.nn.Sequential(
            torch.nn.Conv2d(channels, arch.values[0], 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(arch.values[0] * height * width, num_classes),
        )


def test_a_users_search_space_class_exports_a_model_py_that_rebuilds_the_child_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archsearch import registry
    from archsearch.evaluators.training import TrainingEvaluator, accuracy

    monkeypatch.setitem(registry.SPACES, "conv-for-export", f"{__name__}:ConvSpace")
    config = parse_config(
        {
            "n_trials": 2,
            "executor": "inline",
            "space": {"name": "conv-for-export"},
            "strategy": {"name": "random"},
            "evaluator": {"name": "training", "params": TRAINING},
            "reward": {"name": "acc_cubed", "params": {"metric": "val_acc", "power": 1}},
        }
    )
    study = Study.create(config, tmp_path / "s")
    study.run()
    done = write_trial_export(study, out=tmp_path / "export")
    study.close()
    assert done.files == ["architecture.json", "model.py", "weights.pt"] and done.no_model is None
    source = (tmp_path / "export" / "model.py").read_text()
    assert f"from {__name__} import ConvSpace" in source
    model = load_exported(source, tmp_path / "export" / "model.py").load_model()
    split = TrainingEvaluator(**TRAINING).split()
    assert accuracy(model, split.test_x, split.test_y, 1024) == done.trial.metrics["test_acc"]
