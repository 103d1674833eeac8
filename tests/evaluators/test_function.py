from __future__ import annotations

import io
import multiprocessing
import pickle
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError, ObjectiveError
from archsearch.evaluators.function import FunctionEvaluator, build_child
from archsearch.executors.base import run_trial
from archsearch.nn import LayerChoice, ModelSpace, choice
from archsearch.resolve import check_picklable, resolve
from archsearch.rewards import make_reward
from archsearch.spaces.dict_space import DictSpace
from tiny_spaces import OneChoiceSpace


class TinyModelSpace(OneChoiceSpace):
    """A space that builds a module from the architecture alone, as archsearch.nn.ModelSpace does."""

    name = "tiny-model"

    def build(self, arch: Architecture, input_shape: Any = None, num_classes: Any = None) -> nn.Module:
        return nn.Sequential(nn.Linear(3, arch.values[0]), nn.ReLU(), nn.Linear(arch.values[0], 1))


class TinyValuesSpace(OneChoiceSpace):
    """A space without build that gives the chosen values, as archsearch.spaces.dict_space.DictSpace."""

    name = "tiny-values"

    def values(self, arch: Architecture) -> dict[str, Any]:
        return {"width": arch.values[0]}


SPACE = TinyModelSpace()
ARCH = Architecture("tiny-model", (4,))
DATA_X = torch.linspace(-1, 1, 30).reshape(10, 3)
DATA_Y = DATA_X.sum(dim=1, keepdim=True)


def fit(model: nn.Module, seed: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        loss = ((model(DATA_X) - DATA_Y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def fit_with_curve(model: nn.Module, seed: int, report: Any) -> dict[str, float]:
    for epoch in range(3):
        report(epoch, {"loss": fit(model, seed), "epoch": epoch})
    return {"loss": fit(model, seed), "f1": 0.5}


def fit_reporting_numbers(model: nn.Module, seed: int, *, report: Any) -> float:
    for epoch in range(2):
        report(epoch, float(epoch))
    return -fit(model, seed)


def crash(child: Any, seed: int) -> float:
    raise ValueError("the data set is empty")


def returns_nan(child: Any, seed: int) -> float:
    return float("nan")


def returns_nothing(child: Any, seed: int) -> None:
    pass


def returns_text(child: Any, seed: int) -> str:
    return "good"


def returns_bad_dict(child: Any, seed: int) -> dict[str, Any]:
    return {"acc": 0.9, "note": "fine"}


def reports_nan(child: Any, seed: int, report: Any) -> float:
    report(1, 0.5)
    report(2, float("inf"))
    return 1.0


def reports_slowly(child: Any, seed: int, report: Any) -> float:
    for step in range(1000):
        time.sleep(0.01)
        report(step, float(step))
    return 1.0


def sleeps(child: Any, seed: int) -> float:
    time.sleep(0.2)
    return 1.0


def random_draws(child: Any, seed: int) -> dict[str, float]:
    return {"python": random.random(), "numpy": float(np.random.rand()), "torch": float(torch.rand(()))}


def echo_child(child: Any, seed: int) -> float:
    # The objective sees the values dict (a space without build) or the Architecture (a built-in space).
    return float(child["width"] if isinstance(child, dict) else child.values[0])


def takes_only_the_child(child: Any) -> float:
    return 1.0


def evaluate(fn: Any, **options: Any):
    return FunctionEvaluator(fn, device="cpu", **options).evaluate(SPACE, ARCH, seed=3)


def test_a_number_is_the_metric_value_with_params_and_trained_weights():
    result = evaluate(fit)
    assert result.ok and result.error is None
    assert set(result.metrics) == {"value", "params"}
    assert result.metrics["params"] == 3 * 4 + 4 + 4 + 1
    assert result.weights is not None and result.curve == {}
    assert make_reward("metric", mode="min")(result) == -result.metrics["value"]
    default = FunctionEvaluator.default_reward
    assert make_reward(default["name"], **default["params"])(result) == result.metrics["value"]


def test_trained_weights_load_into_a_fresh_child():
    result = evaluate(fit)
    trained = SPACE.build(ARCH)
    trained.load_state_dict(torch.load(io.BytesIO(result.weights), weights_only=True))
    loss = ((trained(DATA_X) - DATA_Y) ** 2).mean().item()
    untrained = ((SPACE.build(ARCH)(DATA_X) - DATA_Y) ** 2).mean().item()
    assert loss < untrained  # the weights are the trained ones, not a fresh initialisation
    assert evaluate(fit, keep_weights=False).weights is None


def test_a_dict_is_the_metrics_and_reports_make_the_curve():
    result = evaluate(fit_with_curve)
    assert result.ok
    assert set(result.metrics) == {"loss", "f1", "params"}
    assert result.curve["epoch"] == [0.0, 1.0, 2.0]
    assert len(result.curve["loss"]) == 3 and result.curve["loss"][0] > result.curve["loss"][-1]
    keyword = evaluate(fit_reporting_numbers)
    assert keyword.ok and keyword.curve == {"value": [0.0, 1.0]}


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (crash, "ValueError: the data set is empty"),
        (returns_nan, "the objective returned nan"),
        (reports_nan, "the objective reported at step 2 inf"),
    ],
)
def test_a_failing_objective_is_a_failed_trial_with_its_reason(fn, reason):
    result = evaluate(fn)
    assert result.status == "failed"
    assert result.error is not None and reason in result.error and "\n" not in result.error
    assert result.metrics["params"] == 21  # what the trial reached is kept


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (returns_nothing, "the objective returned None (a missing return?); return a number or a dict"),
        (returns_text, "the objective returned the string 'good'; return a number"),
        (returns_bad_dict, "the objective returned the string 'fine' for 'note'"),
    ],
)
def test_an_objective_that_breaks_its_contract_stops_the_study_with_one_line(fn, reason):
    # every trial would fail the same way: an error of the user's code, not a failed child
    with pytest.raises(ObjectiveError) as caught:
        evaluate(fn)
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, ConfigError)
    with pytest.raises(ObjectiveError):  # the executors' guard lets it through too
        run_trial(FunctionEvaluator(fn), SPACE, ARCH, 0)


def test_a_failed_trial_keeps_the_curve_it_reported():
    result = evaluate(reports_nan)
    assert result.curve == {"value": [0.5]} and result.metrics["steps"] == 1


def test_the_time_limit_stops_the_objective_at_a_report_or_when_it_returns():
    stopped = evaluate(reports_slowly, timeout_s=0.1)
    assert stopped.status == "timeout" and stopped.cost_s < 2
    assert stopped.error is not None and stopped.error.startswith("exceeded the time limit of 0.1 s at step")
    assert 1 <= len(stopped.curve["value"]) < 100
    late = evaluate(sleeps, timeout_s=0.05)
    assert late.status == "timeout" and late.error is not None and "the objective took" in late.error


def test_the_seed_fixes_python_numpy_and_torch_randomness():
    first, again = evaluate(random_draws), evaluate(random_draws)
    other = FunctionEvaluator(random_draws, device="cpu").evaluate(SPACE, ARCH, seed=4)
    assert first.metrics == again.metrics != other.metrics


def test_the_child_is_the_module_the_values_or_the_architecture():
    assert isinstance(build_child(SPACE, ARCH), nn.Module)
    assert build_child(TinyValuesSpace(), ARCH) == {"width": 4}
    assert build_child(OneChoiceSpace(), ARCH) == ARCH
    evaluator = FunctionEvaluator(echo_child, device="cpu")
    assert evaluator.evaluate(TinyValuesSpace(), ARCH, 0).metrics == {"value": 4.0}
    assert evaluator.evaluate(OneChoiceSpace(), ARCH, 0).metrics == {"value": 4.0}


def test_lambdas_and_local_functions_are_refused_before_any_trial():
    with pytest.raises(ConfigError, match="<lambda> cannot be sent to worker processes; define it at module"):
        FunctionEvaluator(lambda child, seed: 1.0)

    def local(child: Any, seed: int) -> float:
        return 1.0

    with pytest.raises(ConfigError, match=r"<locals>\.local cannot be sent to worker processes"):
        FunctionEvaluator(local)

    class Local:
        pass

    with pytest.raises(ConfigError, match="evaluator .* cannot be sent to worker processes"):
        check_picklable(Local(), "evaluator")


def test_bad_functions_and_options_are_config_errors():
    with pytest.raises(ConfigError, match=r"must take \(child, seed\) or \(child, seed, report\)"):
        FunctionEvaluator(takes_only_the_child)
    with pytest.raises(ConfigError, match="objective function 'math:e' is a float, not a function"):
        FunctionEvaluator("math:e")
    with pytest.raises(ConfigError, match="timeout_s must be a positive number"):
        FunctionEvaluator(fit, timeout_s=0)
    with pytest.raises(ConfigError, match="keep_weights must be true or false"):
        FunctionEvaluator(fit, keep_weights="yes")


OBJECTIVE_SOURCE = """
import torch

def score(child, seed, report):
    report(0, 1.5)
    return {"width_seen": float(child.values[0]), "seed": float(seed)}
"""


def test_a_dotted_path_or_a_file_path_resolves_and_pickles_to_a_spawned_worker(tmp_path, monkeypatch):
    (tmp_path / "my_objective_mod.py").write_text(OBJECTIVE_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert resolve("my_objective_mod:score", "objective")(ARCH, 1, lambda step, value: None)["seed"] == 1.0
    evaluator = FunctionEvaluator(str(tmp_path / "my_objective_mod.py") + ":score", device="cpu")
    assert pickle.loads(pickle.dumps(evaluator)).fn_path == evaluator.fn_path
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(
            evaluator.evaluate, OneChoiceSpace(), Architecture("one-choice", (8,)), 5
        ).result()
    assert (
        result.ok and result.metrics == {"width_seen": 8.0, "seed": 5.0} and result.curve == {"value": [1.5]}
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no_colon_here", "is not a dotted path: write module:attribute"),
        ("archsearch_no_such_module:f", "no module named 'archsearch_no_such_module' in the current"),
        ("archsearch.rewards:no_such_reward", "archsearch.rewards has no attribute 'no_such_reward'"),
        ("missing_dir/objective.py:f", "there is no file missing_dir/objective.py"),
        ("broken_objective.py:f", "module broken_objective does not import: SyntaxError"),
    ],
)
def test_dotted_paths_that_do_not_resolve_are_one_line_errors(text, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "broken_objective.py").write_text("def f(:\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        resolve(text, "objective function")
    assert "\n" not in str(caught.value)


class SearchableNet(nn.Module):
    """A user's model with its choices inside: a hidden width, an activation and a dropout rate."""

    def __init__(self) -> None:
        super().__init__()
        hidden = choice("hidden", [4, 8])
        self.body = nn.Sequential(
            nn.Linear(3, hidden),
            LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
            nn.Dropout(choice("dropout", [0.0, 1.5])),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_model_space_child_is_trained_and_a_value_that_breaks_a_layer_fails_the_trial():
    space = ModelSpace(SearchableNet)
    evaluator = FunctionEvaluator(fit, device="cpu")
    arch = space.architecture({"hidden": 8, "act": "tanh", "dropout": 0.0})
    result = evaluator.evaluate(space, arch, seed=0)
    assert result.ok and result.metrics["params"] == 3 * 8 + 8 + 8 + 1
    trained = space.build(arch)
    trained.load_state_dict(torch.load(io.BytesIO(result.weights), weights_only=True))
    assert trained(DATA_X).shape == (10, 1)
    broken = evaluator.evaluate(space, space.architecture({"hidden": 4, "act": "relu", "dropout": 1.5}), 0)
    assert broken.status == "failed"
    assert broken.error == "ValueError: dropout probability has to be between 0 and 1, but got 1.5"


def test_a_dict_space_objective_gets_the_chosen_values():
    space = DictSpace({"width": [2, 6], "act": ["relu", "gelu"]})
    result = FunctionEvaluator(echo_child, device="cpu").evaluate(
        space, space.architecture({"width": 6, "act": "gelu"}), 0
    )
    assert result.ok and result.metrics == {"value": 6.0} and result.weights is None
