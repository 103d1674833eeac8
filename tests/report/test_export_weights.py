"""Export with trained weights: model.py and weights.pt reproduce a trial's test accuracy in a fresh process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.cli import main
from archsearch.config import parse_config
from archsearch.core import TrialRecord
from archsearch.report.export import export_pytorch_source, export_trial, write_trial_export
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace
from archsearch.study import Study

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


def load_exported(source: str, path: Path) -> ModuleType:
    """Import the exported text as a fresh module from its own file."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("exported_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_test_accuracy(model_py: Path, training: dict[str, Any]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCORE, str(model_py), json.dumps(training)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
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
