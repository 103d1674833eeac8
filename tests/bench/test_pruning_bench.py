"""Smoke tests of the pruning benchmarks: benchmarks/nb201_multifidelity.py and benchmarks/pruning_real.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from archsearch.bench.nb201 import run_search as protocol_search
from archsearch.evaluators.tabular import load_table
from archsearch.pruners import make_pruner

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (registered, so that its dataclasses resolve)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_single_fidelity_methods_are_the_repos_protocol():
    mf = load("nb201_multifidelity")
    for name in ("random", "evolution"):
        ours, theirs = mf.run_search(name, "cifar10", 12_000, 5), protocol_search(name, "cifar10", 12_000, 5)
        assert ours.final_index == theirs.final_index and ours.trials == theirs.queries
        assert ours.full == 0


def test_two_fidelities_give_hyperband_two_brackets():
    mf = load("nb201_multifidelity")
    pruner = make_pruner("hyperband", dict(mf.TWO_FIDELITIES), max_resource=200.0)
    assert pruner.brackets == 2 and pruner.budgets == [17, 2]
    assert pruner.rungs(0) in ([12.0], []) and {tuple(pruner.rungs(n)) for n in range(19)} == {(12.0,), ()}
    paper = make_pruner("hyperband", dict(mf.METHODS["bohb-paper"].pruner_params), max_resource=200.0)
    assert paper.budgets == [9, 5, 3] and np.allclose(paper.rungs(0), [200 / 9, 200 / 3])


@pytest.mark.parametrize(
    "name", ["asha", "hyperband", "bohb", "bohb-paper", "bohb-paper-kde", "evolution-asha"]
)
def test_multi_fidelity_searches_train_some_cells_to_200_epochs(name):
    mf = load("nb201_multifidelity")
    trace = mf.run_search(name, "cifar10", 30_000, 1)
    assert 0 < trace.full < trace.trials and trace.spent_s <= 30_000
    assert np.all(np.diff(trace.times) > 0) and trace.final_index == trace.incumbents[-1]
    again = mf.run_search(name, "cifar10", 30_000, 1)
    assert again.incumbents == trace.incumbents and again.times == trace.times


def test_a_pruned_trial_pays_12_epochs_and_a_promoted_one_12_plus_200():
    mf = load("nb201_multifidelity")
    trace = mf.run_search("asha", "cifar10", 20_000, 2)
    cost = load_table("cifar10").train_time_200ep_s
    # the clock is a sum of per-cell costs of 12 or 12 + 200 epochs: between these bounds
    low = trace.trials * 12 / 200 * cost.min()
    high = (trace.trials * 12 + trace.full * 200) / 200 * cost.max()
    assert low <= trace.spent_s <= high
    assert trace.spent_s > trace.full * cost.min()  # the promoted ones paid their 200 epochs


@pytest.mark.slow
def test_real_pruning_study_smoke(tmp_path):
    real = load("pruning_real")
    data = ROOT / "tests" / "real_data" / "fashion-mnist"
    plain = real.run_study("random", 0, 8.0, data, tmp_path)
    pruned = real.run_study("random+asha", 0, 8.0, data, tmp_path)
    assert plain.trials and pruned.trials
    assert any(t.status == "pruned" for t in pruned.trials)
    assert plain.spent[-1] <= 8.0 and pruned.spent[-1] <= 8.0
    assert pruned.epochs() / len(pruned.trials) < plain.epochs() / len(plain.trials) == real.EPOCHS
    best = plain.best()
    assert best is not None and plain.compute_to(best.metrics["val_acc"]) is not None
