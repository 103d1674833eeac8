"""Plug-ins without editing the package: dotted paths, file paths and entry points for spaces, strategies,
evaluators and rewards; studies made from objects that record what they were built from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archsearch import registry
from archsearch.cli import main
from archsearch.config import parse_config
from archsearch.core import Evaluator, Result
from archsearch.errors import ConfigError
from archsearch.study import Study
from user_modules import forget_user_modules

PLUGIN_PKG = Path(__file__).parent / "plugin_pkg"

USER_MODULE = """
import time

CHOICES = {"depth": [1, 2, 3, 4], "width": [8, 16, 32], "act": ["relu", "gelu"]}
SLEEP_S = 0.0


def evaluate(values, seed):
    time.sleep(SLEEP_S)
    score = values["depth"] / 4 + values["width"] / 32 + (0.25 if values["act"] == "gelu" else 0.0)
    return {"value": score, "cost": values["depth"] * values["width"]}


def not_a_space():
    return 3


NUMBER = 7


def doubled(result):
    return 2 * result.metrics["value"] if result.ok else 0.0
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``usermod`` in a fresh current directory (tmp_path/work); sys.path, sys.modules and the
    registry's import directories are restored afterwards."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "usermod.py").write_text(USER_MODULE)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "path", [str(work), *sys.path])  # `import usermod` in the tests
    saved_dirs = list(registry.IMPORT_DIRS)
    before = set(sys.modules)
    yield work
    forget_user_modules(before, tmp_path)
    registry.IMPORT_DIRS[:] = saved_dirs


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# -- resolving names --------------------------------------------------------------------------------
def test_dotted_path_to_a_module_in_the_current_directory(user_module):
    from archsearch.evaluators.function import FunctionEvaluator
    from archsearch.spaces.dict_space import DictSpace

    space = registry.construct("space", "usermod:CHOICES", {})
    assert isinstance(space, DictSpace) and space.labels() == ["depth", "width", "act"]
    evaluator = registry.construct("evaluator", "usermod:evaluate", {"timeout_s": 5})
    assert isinstance(evaluator, FunctionEvaluator) and evaluator.timeout_s == 5.0
    assert str(user_module) in registry.IMPORT_DIRS  # on sys.path, which spawned workers inherit


def test_file_path_and_nested_attribute(user_module):
    folder = user_module / "models"
    folder.mkdir()
    (folder / "my_strategies.py").write_text(
        "from archsearch.strategies.random import RandomSearch\n"
        "class Holder:\n    class Inner(RandomSearch):\n        pass\n"
    )
    space = registry.construct("space", "usermod:CHOICES", {})
    strategy = registry.construct("strategy", "models/my_strategies.py:Holder.Inner", {}, space=space, seed=1)
    assert type(strategy).__qualname__ == "Holder.Inner"
    assert space.validate(strategy.ask()) is None


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("space", "nomodule_xyz:Net", "no module named 'nomodule_xyz'"),
        ("space", "broken:Net", "module broken does not import: ZeroDivisionError: division by zero"),
        ("space", "syntax:Net", "module syntax does not import: SyntaxError"),
        ("space", "usermod:CHOISES", "usermod has no attribute 'CHOISES'; did you mean 'CHOICES'?"),
        ("space", "usermod:NUMBER", "space 'usermod:NUMBER' is an int, not a SearchSpace subclass"),
        ("strategy", "usermod:evaluate", "is the function evaluate, not a Strategy subclass"),
        ("evaluator", "usermod:CHOICES", "is a dict, not an Evaluator subclass or a function"),
        ("space", "usermod:", "is not a dotted path"),
        ("space", ":Net", "is not a dotted path"),
        ("space", "usermod:1abc", "is not a dotted path"),
        ("evaluator", "missing.py:f", "there is no file missing.py"),
        ("evaluator", "./notes.txt:f", "is not a Python file"),
        ("strategy", "evolutoin", "unknown strategy 'evolutoin'; known: reinforce"),
        ("reward", "nope", "unknown reward 'nope'; known: metric, acc_cubed"),
        ("reward", "subprocess:Popen", "is the class Popen, not a function of a Result"),
        ("evaluator", "usermod:evaluate", "unknown option 'epochs' for evaluator 'usermod:evaluate'"),
    ],
)
def test_resolution_errors_are_one_line_config_errors(user_module, kind, name, message):
    (user_module / "broken.py").write_text("x = 1 / 0\n")
    (user_module / "syntax.py").write_text("def f(:\n")
    (user_module / "notes.txt").write_text("hello\n")
    params = {"epochs": 3} if name == "usermod:evaluate" else {}
    fixed = (
        {"space": registry.construct("space", "usermod:CHOICES", {}), "seed": 0} if kind == "strategy" else {}
    )
    with pytest.raises(ConfigError) as info:
        registry.construct(kind, name, params, **fixed)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_module_raising_system_exit_is_a_config_error(user_module):
    (user_module / "exits.py").write_text("import sys\nsys.exit('no GPU here')\n")
    with pytest.raises(ConfigError, match="module exits does not import: SystemExit: no GPU here"):
        registry.resolve("space", "exits:Net")


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """The package tests/plugin_pkg/archsearch_demo_plugin installed as pip would: its dist-info folder
    (with entry_points.txt) in a site directory on sys.path."""
    site = tmp_path / "site"
    info = site / "archsearch_demo_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: archsearch-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [archsearch.spaces]
            demo = archsearch_demo_plugin:DEMO_CHOICES
            [archsearch.strategies]
            demo_random = archsearch_demo_plugin:DemoStrategy
            [archsearch.evaluators]
            demo = archsearch_demo_plugin:demo_objective
            broken = archsearch_demo_plugin:missing_name
            [archsearch.rewards]
            twice = archsearch_demo_plugin:demo_reward
            """
        )
    )
    monkeypatch.syspath_prepend(str(PLUGIN_PKG))
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("archsearch_demo_plugin", None)


def test_entry_points_of_an_installed_package_add_names(installed_plugin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "demo_random" in registry.known("strategy") and "twice" in registry.known("reward")
    config = parse_config(
        {
            "n_trials": 4,
            "executor": "inline",
            "space": {"name": "demo"},
            "strategy": {"name": "demo_random"},
            "evaluator": {"name": "demo"},
            "reward": {"name": "twice"},
        }
    )
    study = Study.create(config, tmp_path / "s")
    study.run()
    trials = study.store.trials()
    study.close()
    assert len(trials) == 4 and all(t.status == "ok" for t in trials)
    assert all(t.reward == 2 * t.metrics["value"] for t in trials)
    with pytest.raises(ConfigError, match=r"evaluator 'broken' \(entry point .*\) does not load"):
        registry.resolve("evaluator", "broken")


# -- studies from objects ---------------------------------------------------------------------------
def _config(**overrides):
    data = {"n_trials": 6, "executor": "inline", "strategy": {"name": "random"}}
    data.update(overrides)
    return parse_config(data)


def test_study_from_objects_records_names_and_the_cli_reads_it(user_module, capsys):
    import usermod

    from archsearch.evaluators.function import FunctionEvaluator
    from archsearch.rewards import MetricReward
    from archsearch.spaces.dict_space import DictSpace

    out = user_module / "study"
    study = Study.create(
        _config(),
        out,
        space=DictSpace(usermod.CHOICES),
        evaluator=FunctionEvaluator(usermod.evaluate, timeout_s=30),
        reward=MetricReward(metric="value"),
    )
    study.run()
    study.close()
    stored = Study.load(out)
    assert stored.config.space.name == "dict" and stored.config.space.params["choices"]["depth"] == [
        1,
        2,
        3,
        4,
    ]
    assert stored.config.evaluator.name == "usermod:evaluate"
    assert stored.config.evaluator.params["timeout_s"] == 30
    assert stored.config.reward.name == "metric"
    assert stored.space == DictSpace(usermod.CHOICES)
    stored.close()
    assert run_cli("status", str(out)) == 0
    assert "6/6 trials started" in capsys.readouterr().out
    assert run_cli("best", str(out), "--json") == 0
    best = json.loads(capsys.readouterr().out)
    assert best["metrics"]["value"] == max(t.metrics["value"] for t in Study.load(out).store.trials())
    assert run_cli("resume", str(out), "--trials", "8", "--quiet") == 0
    assert run_cli("status", str(out)) == 0
    assert "8/8 trials started" in capsys.readouterr().out


def test_classes_functions_and_dicts_are_recorded_by_their_dotted_path(user_module):
    import usermod

    from archsearch.strategies.evolution import RegularizedEvolution

    config = _config(strategy={"name": "random", "params": {"population_size": 3}})
    study = Study.create(
        config,
        user_module / "s",
        space=usermod.CHOICES,
        evaluator=usermod.evaluate,
        strategy=RegularizedEvolution,
    )
    assert study.config.space.name == "dict"
    assert study.config.evaluator.name == "usermod:evaluate"
    assert study.config.evaluator.params["timeout_s"] is None  # the FunctionEvaluator it became
    assert study.config.strategy.name == "evolution"  # a registered class is stored by its name
    assert study.config.strategy.params == {"population_size": 3}
    assert study.config.reward.name == "metric"  # the config sets none: the user's metric "value"
    study.close()


def test_report_from_the_cli_on_a_user_space(user_module, capsys):
    out = user_module / "s"
    config = _config(
        space={"name": "usermod:CHOICES"}, evaluator={"name": "usermod:evaluate"}, reward={"name": "metric"}
    )
    study = Study.create(config, out)
    study.run()
    study.close()
    assert run_cli("report", str(out)) == 0
    assert (out / "report" / "index.html").exists()


class Unrecordable(Evaluator):
    """An evaluator whose class has no config(): it cannot be recorded."""

    def evaluate(self, space, arch, seed):
        return Result(metrics={"value": 1.0})


class HoldsALambda(Evaluator):
    """An evaluator recordable by its config() that holds a lambda, so it does not pickle."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.transform = lambda x: x * scale

    def config(self):
        return {"scale": self.scale}

    def evaluate(self, space, arch, seed):
        return Result(metrics={"value": self.transform(1.0)})


@pytest.mark.parametrize(
    ("what", "executor", "message"),
    [
        ("lambda", "inline", "<locals>.<lambda> is a lambda: define it with def or class at the top level"),
        (
            "local",
            "inline",
            "evaluator test_objects_that_cannot_be.<locals>.local is defined inside a function",
        ),
        (
            "unrecordable",
            "inline",
            "evaluator Unrecordable cannot be stored with the study: give the class a config()",
        ),
        ("holds_lambda", "pool", "evaluator HoldsALambda cannot be sent to the pool executor's workers"),
    ],
)
def test_objects_that_cannot_be_imported_again_are_refused_before_anything_is_created(
    user_module, what, executor, message
):
    import usermod

    def local(values, seed):
        return 1.0

    local.__qualname__ = "test_objects_that_cannot_be.<locals>.local"
    objects = {
        "lambda": lambda values, seed: 1.0,
        "local": local,
        "unrecordable": Unrecordable(),
        "holds_lambda": HoldsALambda(),
    }
    config = _config(executor=executor, workers=1)
    with pytest.raises(ConfigError) as info:
        Study.create(config, user_module / "s", space=usermod.CHOICES, evaluator=objects[what])
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (user_module / "s").exists()


def test_cli_search_with_dotted_paths_and_resume_after_the_module_breaks(user_module, capsys):
    out = str(user_module / "s")
    args = ["search", "--space", "usermod:CHOICES", "--evaluator", "usermod:evaluate", "--strategy", "random"]
    assert run_cli(*args, "--trials", "3", "--executor", "inline", "--out", out, "--quiet") == 0
    stored = Study.load(out)
    assert stored.config.reward.name == "metric" and stored.config.evaluator.params == {}
    assert all(t.reward == t.metrics["value"] for t in stored.store.trials())
    stored.close()
    capsys.readouterr()
    (user_module / "usermod.py").write_text("raise ImportError('the module was broken')\n")
    sys.modules.pop("usermod", None)
    assert run_cli("resume", out, "--trials", "5", "--quiet") == 2
    line = one_error_line(capsys)
    assert "usermod:CHOICES" in line and "ImportError: the module was broken" in line
    (user_module / "usermod.py").unlink()
    assert run_cli("status", out) == 0  # status reads the database and the config: no module is imported
    assert "3/3 trials started" in capsys.readouterr().out  # the failed resume kept the budget
    assert run_cli("export", out) == 2  # export builds the space
    assert "no module named 'usermod'" in one_error_line(capsys)


def test_cli_dotted_space_from_yaml_with_the_dataset_flag_left_to_the_training_evaluator(user_module, capsys):
    config = user_module / "study.yaml"
    config.write_text(
        "n_trials: 2\nexecutor: inline\nspace: {name: 'usermod:CHOICES'}\n"
        "evaluator: {name: 'usermod:evaluate'}\nstrategy: {name: random}\n"
    )
    out = str(user_module / "s")
    assert run_cli("search", "--config", str(config), "--out", out, "--quiet") == 0
    capsys.readouterr()
    code = run_cli("search", "--config", str(config), "--out", out + "2", "--dataset", "mnist")
    assert code == 2
    assert "unknown option 'dataset' for evaluator 'usermod:evaluate'" in one_error_line(capsys)


KILL_SCRIPT = """
import sys
from archsearch.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_kill_9_then_resume_of_a_user_space_on_the_pool_equals_an_uninterrupted_run(user_module):
    (user_module / "usermod.py").write_text(USER_MODULE.replace("SLEEP_S = 0.0", "SLEEP_S = 0.05"))
    args = [
        "search",
        "--space",
        "usermod:CHOICES",
        "--evaluator",
        "usermod:evaluate",
        "--strategy",
        "evolution",
        "--set",
        "strategy.params.population_size=5",
        "--trials",
        "40",
        "--executor",
        "pool",
        "--workers",
        "2",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": ""}
    command = [sys.executable, "-m", "archsearch"]
    subprocess.run([*command, *args, "--out", "full"], check=True, timeout=300, cwd=user_module, env=env)
    expected = _trajectory(user_module / "full")
    cut = user_module / "cut"
    proc = subprocess.Popen([*command, *args, "--out", "cut"], cwd=user_module, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (cut / "study.db").exists() and 8 <= sum(t[2] != "running" for t in _safe_trajectory(cut)) < 30:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [t for t in _trajectory(cut) if t[2] != "running"]
    assert 8 <= len(before) < 40
    time.sleep(1)  # the killed driver's workers exit (parent-death signal)
    subprocess.run([*command, "resume", "cut", "--quiet"], check=True, timeout=300, cwd=user_module, env=env)
    after = _trajectory(cut)
    assert after[: len(before)] == before
    assert after == expected


def _trajectory(directory: Path) -> list[tuple]:
    study = Study.load(directory)
    try:
        return [(t.number, t.arch, t.status, t.reward) for t in study.store.trials()]
    finally:
        study.close()


def _safe_trajectory(directory: Path) -> list[tuple]:
    try:
        return _trajectory(directory)
    except Exception:
        return []


NET_MODULE = """
from torch import nn

from archsearch.nn import choice


class Net(nn.Module):
    def __init__(self, inputs=3):
        super().__init__()
        width = choice("width", [2, 4, 8])
        self.body = nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x):
        return self.body(x)


def score(model, seed):
    return float(sum(p.numel() for p in model.parameters()))
"""


def test_a_model_space_object_is_recorded_by_its_model_and_rebuilt_equal(user_module, capsys):
    (user_module / "netmod.py").write_text(NET_MODULE)
    import netmod

    from archsearch.nn import ModelSpace

    out = user_module / "s"
    study = Study.create(
        _config(n_trials=3), out, space=ModelSpace(netmod.Net, inputs=5), evaluator=netmod.score
    )
    study.run()
    study.close()
    stored = Study.load(out)
    assert stored.config.space.name == "netmod:Net" and stored.config.space.params == {"inputs": 5}
    assert stored.space == ModelSpace(netmod.Net, inputs=5)
    # width w: 5w + w + w + 1 parameters
    assert all(t.metrics["value"] == 7 * t.arch.values[0] + 1 for t in stored.store.trials())
    stored.close()
    assert run_cli("resume", str(out), "--trials", "4", "--quiet") == 0


def test_a_model_class_from_a_file_path_keeps_its_name_across_resume(user_module, capsys):
    (user_module / "models").mkdir()
    (user_module / "models" / "filenet.py").write_text(NET_MODULE)
    out = str(user_module / "s")
    args = [
        "--space",
        "models/filenet.py:Net",
        "--evaluator",
        "models/filenet.py:score",
        "--strategy",
        "random",
    ]
    assert run_cli("search", *args, "--trials", "2", "--executor", "inline", "--out", out, "--quiet") == 0
    assert run_cli("resume", out, "--trials", "3", "--quiet") == 0
    stored = Study.load(out)
    assert stored.space.name == "models/filenet.py:Net"
    assert [t.arch.space for t in stored.store.trials()] == ["models/filenet.py:Net"] * 3
    assert all(t.status == "ok" for t in stored.store.trials())
    stored.close()


def test_a_study_finds_the_users_module_from_another_directory(user_module, monkeypatch, capsys):
    out = user_module / "s"
    args = ["--space", "usermod:CHOICES", "--evaluator", "usermod:evaluate", "--strategy", "random"]
    assert (
        run_cli("search", *args, "--trials", "2", "--executor", "inline", "--out", str(out), "--quiet") == 0
    )
    elsewhere = user_module.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sys.modules.pop("usermod", None)
    sys.path[:] = [p for p in sys.path if p != str(user_module)]  # only the study's record can find it now
    capsys.readouterr()
    assert run_cli("resume", str(out), "--trials", "3", "--quiet") == 0
    assert sys.path[-1] == str(user_module)  # a recorded directory comes after the installed packages
    assert run_cli("status", str(out)) == 0
    assert "3/3 trials started" in capsys.readouterr().out


def test_the_default_reward_suits_the_evaluator(user_module):
    import usermod

    from archsearch.evaluators.supervised import RegressionEvaluator

    assert registry.reward_for(usermod.evaluate, "usermod:evaluate") == {
        "name": "metric",
        "params": {"metric": "value", "mode": "max"},
    }
    assert registry.reward_for(RegressionEvaluator, "regression")["params"] == {
        "metric": "val_rmse",
        "mode": "min",
    }
    assert registry.reward_for(Unrecordable, "test_plugins:Unrecordable") == {"name": "metric", "params": {}}
    assert registry.reward_for(registry.resolve("evaluator", "training"), "training") is None


def test_cli_reward_by_dotted_path(user_module):
    out = str(user_module / "s")
    args = ["--space", "usermod:CHOICES", "--evaluator", "usermod:evaluate", "--reward", "usermod:doubled"]
    assert run_cli("search", *args, "--trials", "2", "--executor", "inline", "--out", out, "--quiet") == 0
    stored = Study.load(out)
    assert stored.config.reward.name == "usermod:doubled"
    assert all(t.reward == 2 * t.metrics["value"] for t in stored.store.trials())
    stored.close()


def test_metric_flag_maximises_or_minimises_a_metric_the_function_reports(user_module, capsys):
    common = ["search", "--space", "dict", "--evaluator", "usermod:evaluate", "--strategy", "random"]
    common += ["--executor", "inline", "--trials", "4", "--quiet", "--set"]
    choices = 'space.params.choices={"depth": [1, 2, 3, 4], "width": [8, 16, 32], "act": ["relu", "gelu"]}'
    assert run_cli(*common, choices, "--metric", "cost:min", "--out", "min") == 0
    study = Study.load(user_module / "min", read_only=True)
    assert study.config.reward.params == {"metric": "cost", "mode": "min"}
    assert all(t.reward == -t.metrics["cost"] for t in study.store.trials())
    study.close()
    assert run_cli(*common, choices, "--metric", "cost", "--out", "max") == 0
    study = Study.load(user_module / "max", read_only=True)
    assert study.config.reward.params == {"metric": "cost", "mode": "auto"}  # not an error or a cost name
    assert all(t.reward == t.metrics["cost"] for t in study.store.trials())
    study.close()
    capsys.readouterr()
    assert run_cli(*common, choices, "--metric", "cost:up", "--out", "bad") == 2
    assert "--metric expects METRIC or METRIC:max or METRIC:min" in one_error_line(capsys)
    assert run_cli(*common, choices, "--metric", "cost", "--reward", "acc_cubed", "--out", "bad") == 2
    assert "drop --reward acc_cubed or --metric" in one_error_line(capsys)
    assert not (user_module / "bad").exists()
