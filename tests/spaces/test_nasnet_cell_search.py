"""End to end: PPO, REINFORCE and regularized evolution search the NASNet cell space with real child
training on digits; the study reports and exports the best cells."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from archsearch.study import Study
from test_cli import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

TINY = [
    "--trials", "4", "--epochs", "1", "--executor", "inline", "--quiet",
    "--set", "space.params.blocks=2", "--set", "space.params.channels=4", "--set", "space.params.reductions=1",
    "--set", "evaluator.params.train_limit=64", "--set", "evaluator.params.batch_size=32",
]  # fmt: skip
STRATEGY_PARAMS = {
    "ppo": ["--set", "strategy.params.batch_size=2"],
    "reinforce": ["--set", "strategy.params.batch_size=2"],
    "evolution": ["--set", "strategy.params.population_size=2", "--set", "strategy.params.sample_size=2"],
}


def search(strategy: str, out: Path, space: str = "nasnet-cell") -> Study:
    assert run_cli("search", "--space", space, "--strategy", strategy, "--out", str(out), *TINY,
                   *STRATEGY_PARAMS[strategy]) == 0  # fmt: skip
    return Study.load(out)


def trained_children(study: Study) -> list:
    trials = study.store.trials()
    assert len(trials) == 4 and all(t.status == "ok" for t in trials)
    for trial in trials:
        study.space.validate(trial.arch)
        network = study.space.build(trial.arch, (1, 8, 8), 10)
        assert trial.metrics["params"] == sum(p.numel() for p in network.parameters())
        assert 0.0 <= trial.metrics["val_acc"] <= 1.0
    return trials


@pytest.mark.parametrize("strategy", ["ppo", "reinforce"])
def test_policy_gradient_controllers_search_cells_and_update_twice(strategy: str, tmp_path: Path) -> None:
    study = search(strategy, tmp_path / strategy)
    try:
        trained_children(study)
        checkpoint = study.store.latest_checkpoint()
        assert checkpoint is not None and checkpoint[1]["num_updates"] == 2  # 4 trials, m = 2
    finally:
        study.close()
    if strategy == "ppo":  # the study reports the best cells and exports their network
        assert_report_and_export(tmp_path / strategy)


def test_evolution_mutates_one_decision_of_a_population_member(tmp_path: Path) -> None:
    study = search("evolution", tmp_path / "evolution", space="darts-cell")
    try:
        trials = trained_children(study)
        for child in trials[2:]:
            distances = [
                sum(a != b for a, b in zip(parent.arch.values, child.arch.values, strict=True))
                for parent in trials[: child.number]
            ]
            assert 1 in distances
    finally:
        study.close()


def assert_report_and_export(out: Path) -> None:
    assert run_cli("report", str(out)) == 0
    assert (out / "report" / "best_architecture.png").read_bytes()[:4] == b"\x89PNG"
    assert run_cli("export", str(out)) == 0
    spec = importlib.util.spec_from_file_location("exported_cells", out / "export" / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_model().eval()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
