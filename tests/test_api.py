"""archsearch.search: one call from a space and an evaluator to a finished, resumable study."""

from __future__ import annotations

import sys

import pytest

from archsearch import registry
from archsearch.api import load, search
from archsearch.errors import ConfigError
from archsearch.study import Study
from user_modules import forget_user_modules

OBJECTIVE_MODULE = """
CHOICES = {"depth": [1, 2, 3], "width": [8, 16, 32]}


def objective(values, seed):
    return {"value": values["depth"] * values["width"], "cost": values["width"] - values["depth"]}
"""


@pytest.fixture
def objective_module(tmp_path, monkeypatch):
    """A module ``apimod`` in the current directory (tmp_path); sys.path and sys.modules restored after."""
    (tmp_path / "apimod.py").write_text(OBJECTIVE_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    saved_dirs = list(registry.IMPORT_DIRS)
    before = set(sys.modules)
    import apimod

    yield apimod
    forget_user_modules(before, tmp_path)
    registry.IMPORT_DIRS[:] = saved_dirs


def test_search_runs_the_trials_and_returns_the_study(objective_module, tmp_path, capsys):
    study = search(
        objective_module.CHOICES, objective_module.objective, "random", trials=5, out=tmp_path / "s"
    )
    assert study.summary()["finished"] == 5
    best = study.best()
    assert best is not None and best.reward == max(t.metrics["value"] for t in study.store.trials())
    assert study.config.executor == "inline" and study.config.reward.name == "metric"
    assert "trial    4" in capsys.readouterr().err  # the progress display
    study.close()
    again = load(tmp_path / "s")
    assert again.config.evaluator.name == "apimod:objective" and again.summary()["trials"] == 5
    again.close()


def test_search_minimises_a_named_metric_with_strategy_options(objective_module, tmp_path):
    study = search(
        objective_module.CHOICES,
        objective_module.objective,
        strategy="evolution",
        trials=6,
        out=tmp_path / "s",
        metric="cost",
        mode="min",
        strategy_params={"population_size": 3, "sample_size": 2},
        progress=False,
        seed=4,
    )
    assert study.config.strategy.params == {"population_size": 3, "sample_size": 2}
    assert study.config.seed == 4
    assert all(t.reward == -t.metrics["cost"] for t in study.store.trials())
    study.run()  # finished: nothing more to do, and the run lock is taken and given back
    study.close()


def test_search_with_objectives_uses_a_multi_objective_strategy(objective_module, tmp_path):
    study = search(
        objective_module.CHOICES,
        objective_module.objective,
        strategy="nsga2",
        trials=6,
        out=tmp_path / "s",
        objectives=["value:max", "cost:min"],
        constraints=["cost <= 30"],
        strategy_params={"population_size": 4},
        progress=False,
    )
    assert [str(o) for o in study.config.objectives] == ["value:max", "cost:min"]
    assert study.config.reward.params == {"metric": "value", "mode": "max"}
    assert study.summary()["finished"] == 6
    study.close()


def test_search_continues_in_a_later_call_and_overwrites_on_request(objective_module, tmp_path):
    out = tmp_path / "s"
    search(objective_module.CHOICES, objective_module.objective, "random", 3, out, progress=False).close()
    with pytest.raises(ConfigError, match="already holds a study"):
        search(objective_module.CHOICES, objective_module.objective, "random", 3, out, progress=False)
    study = search(
        objective_module.CHOICES, objective_module.objective, "random", 2, out, overwrite=True, progress=False
    )
    assert study.summary()["trials"] == 2
    study.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"evaluator": lambda values, seed: 1.0}, "is a lambda"),
        ({"strategy": "evolutoin"}, "unknown strategy 'evolutoin'"),
        ({"strategy_params": {"populaton_size": 3}}, "unknown option 'populaton_size'"),
        ({"trials": 0}, "n_trials (--trials)"),
        ({"executor": "threads"}, "executor"),
        ({"space": {}}, "DictSpace has no choices"),
        ({"reward": "metric", "metric": "cost"}, "give reward or metric, not both"),
    ],
)
def test_bad_arguments_are_one_line_config_errors_and_create_nothing(
    objective_module, tmp_path, kwargs, message
):
    arguments = {
        "space": objective_module.CHOICES,
        "evaluator": objective_module.objective,
        "strategy": "evolution",
        "trials": 3,
        "out": tmp_path / "s",
        "progress": False,
        **kwargs,
    }
    with pytest.raises(ConfigError) as info:
        search(**arguments)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "s").exists()


def test_a_strategy_object_and_a_reward_function_by_dotted_path(objective_module, tmp_path):
    from archsearch.spaces.dict_space import DictSpace
    from archsearch.strategies.random import RandomSearch

    (tmp_path / "apireward.py").write_text("def halved(result):\n    return result.metrics['value'] / 2\n")
    space = DictSpace(objective_module.CHOICES)
    with pytest.raises(ConfigError, match="RandomSearch cannot be stored with the study"):
        search(
            space, objective_module.objective, RandomSearch(space, seed=0), 2, tmp_path / "s", progress=False
        )
    study = search(
        space,
        objective_module.objective,
        "random",
        3,
        tmp_path / "s",
        reward="apireward:halved",
        progress=False,
    )
    assert all(t.reward == t.metrics["value"] / 2 for t in study.store.trials())
    study.close()
    assert Study.load(tmp_path / "s").config.reward.name == "apireward:halved"


@pytest.mark.slow
def test_search_on_the_pool_with_workers(objective_module, tmp_path):
    study = search(
        objective_module.CHOICES,
        objective_module.objective,
        "random",
        4,
        tmp_path / "s",
        workers=2,
        progress=False,
    )
    assert study.config.executor == "pool" and study.summary()["finished"] == 4
    study.close()


DATA_NET_MODULE = """
from torch import nn

from archsearch.nn import choice


class DigitsNet(nn.Module):
    def __init__(self, input_shape=(64,), num_classes=10):
        super().__init__()
        width = choice("width", [8, 16])
        self.body = nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.body(x)
"""


@pytest.fixture
def digits_net(objective_module, tmp_path):
    """The model space of ``datanet.DigitsNet`` (a module in the current directory) and digits arrays."""
    import numpy as np
    from sklearn.datasets import load_digits

    from archsearch.nn import ModelSpace

    (tmp_path / "datanet.py").write_text(DATA_NET_MODULE)
    import datanet

    x, y = load_digits(return_X_y=True)
    return ModelSpace(datanet.DigitsNet), x[:600].astype(np.float32), y[:600]


def run_cli(*args: str) -> int:
    from archsearch.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def test_search_on_arrays_stores_them_so_a_moved_study_resumes_from_the_command_line(digits_net, tmp_path):
    import numpy as np

    from archsearch.evaluators.supervised import ClassificationEvaluator

    space, x, y = digits_net
    evaluator = ClassificationEvaluator((x[:500], y[:500]), test=(x[500:], y[500:]), epochs=1, device="cpu")
    study = search(space, evaluator, "random", trials=2, out=tmp_path / "runs" / "a", progress=False)
    params = study.config.evaluator.params
    assert (params["train"], params["valid"], params["test"]) == (
        "<run>/data/train.npz",
        None,
        "<run>/data/test.npz",
    )
    with np.load(tmp_path / "runs" / "a" / "data" / "train.npz", allow_pickle=False) as stored:
        assert (stored["x"] == x[:500]).all() and (stored["y"] == y[:500]).all()
    assert all(t.status == "ok" and "test_acc" in t.metrics for t in study.store.trials())
    study.close()
    moved = tmp_path / "moved"
    (tmp_path / "runs" / "a").rename(moved)
    assert run_cli("resume", str(moved), "--trials", "3", "--quiet") == 0
    assert run_cli("best", str(moved)) == 0
    again = load(moved)
    assert again.evaluator.train == str(moved / "data" / "train.npz")  # type: ignore[attr-defined]
    assert [t.status for t in again.store.trials()] == ["ok"] * 3
    again.close()


def test_overwriting_a_study_on_arrays_removes_its_data_files_and_a_failed_start_leaves_nothing(
    digits_net, tmp_path
):
    from torch.utils.data import DataLoader, TensorDataset

    from archsearch.evaluators.supervised import ClassificationEvaluator

    space, x, y = digits_net
    out = tmp_path / "s"
    first = ClassificationEvaluator((x[:300], y[:300]), test=(x[300:], y[300:]), epochs=1, device="cpu")
    search(space, first, "random", trials=1, out=out, progress=False).close()
    assert (out / "data" / "test.npz").is_file()
    loader = DataLoader(TensorDataset(torch_tensor(x[:300]), torch_tensor(y[:300])), batch_size=64)
    second = ClassificationEvaluator(loader, epochs=1, device="cpu")  # read through once into arrays
    study = search(space, second, "random", trials=1, out=out, overwrite=True, progress=False)
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train.npz"]
    assert study.summary()["finished"] == 1
    study.close()
    one_class = ClassificationEvaluator((x[:50], y[:50] * 0), epochs=1, device="cpu")
    with pytest.raises(ConfigError, match="a classifier needs two"):
        search(space, one_class, "random", trials=1, out=tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad").exists()
    stored = (out / "data" / "train.npz").read_bytes()
    with pytest.raises(ConfigError, match="a classifier needs two"):  # a failed overwrite keeps the old run
        search(space, one_class, "random", trials=1, out=out, overwrite=True, progress=False)
    kept = load(out)
    assert (out / "data" / "train.npz").read_bytes() == stored and kept.summary()["finished"] == 1
    kept.close()


def torch_tensor(array):
    import torch

    return torch.from_numpy(array)


@pytest.mark.slow
def test_search_on_arrays_with_pool_workers_reads_the_stored_files(digits_net, tmp_path):
    import pickle

    from archsearch.evaluators.supervised import ClassificationEvaluator

    space, x, y = digits_net
    evaluator = ClassificationEvaluator((x, y), epochs=1, device="cpu")
    study = search(space, evaluator, "random", trials=2, out=tmp_path / "s", workers=2, progress=False)
    assert study.config.executor == "pool" and [t.status for t in study.store.trials()] == ["ok", "ok"]
    assert len(pickle.dumps(study.evaluator)) < 5000  # the data travels by path, not with each trial
    study.close()
