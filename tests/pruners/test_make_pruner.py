"""make_pruner: names, the study's defaults, and one-line errors for bad options."""

from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.pruners import (
    PRUNERS,
    AshaPruner,
    HyperbandPruner,
    MedianPruner,
    SuccessiveHalvingPruner,
    make_pruner,
)


def _make(name: str, params: dict, **study):
    defaults = {"metric": "val_acc", "mode": "max", "max_resource": 9, "concurrency": 4}
    return make_pruner(name, params, **{**defaults, **study})


def test_each_name_makes_its_pruner_with_the_studys_metric_mode_and_resource():
    assert sorted(PRUNERS) == ["asha", "hyperband", "median", "successive_halving"]
    kinds = {"asha": AshaPruner, "hyperband": HyperbandPruner, "median": MedianPruner}
    for name, kind in kinds.items():
        pruner = _make(name, {}, metric="val_loss", mode="min", max_resource=27)
        assert type(pruner) is kind
        assert (pruner.metric, pruner.mode, pruner.max_resource) == ("val_loss", "min", 27.0)
    halving = _make("successive_halving", {}, concurrency=6)
    assert isinstance(halving, SuccessiveHalvingPruner) and halving.bracket_size == 6


def test_params_override_the_studys_defaults_and_the_config_recreates_the_pruner():
    pruner = _make("asha", {"metric": "acc", "reduction_factor": 2.5, "brackets": 2, "min_resource": 0.5})
    config = pruner.config()
    assert config["name"] == "asha"
    assert config["params"] == {
        "metric": "acc",
        "mode": "max",
        "max_resource": 9.0,
        "min_resource": 0.5,
        "reduction_factor": 2.5,
        "brackets": 2,
    }
    assert make_pruner(config["name"], config["params"]).config() == config
    for name in PRUNERS:
        config = _make(name, {}).config()
        assert make_pruner(config["name"], config["params"]).config() == config


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("asha", {"reduction_factor": 1}, "pruner asha: reduction_factor must be > 1"),
        ("asha", {"reduction_factor": 0.5}, "reduction_factor must be > 1"),
        ("asha", {"reduction_factor": "3"}, "reduction_factor must be a number, got '3'"),
        ("hyperband", {"reduction_factor": True}, "reduction_factor must be a number, got True"),
        ("asha", {"min_resource": 0}, "pruner asha: min_resource must be > 0"),
        ("asha", {"min_resource": 12}, "min_resource 12 must be below max_resource 9"),
        ("successive_halving", {"min_resource": 9}, "min_resource 9 must be below max_resource 9"),
        ("asha", {"brackets": 0}, "brackets must be an integer >= 1, got 0"),
        ("asha", {"brackets": 1.5}, "brackets must be an integer >= 1, got 1.5"),
        ("asha", {"nope": 1}, "pruner asha: unknown option 'nope' (options: metric, mode, max_resource"),
        ("median", {"brackets": 2}, "pruner median: unknown option 'brackets'"),
        ("median", {"n_startup_trials": -1}, "n_startup_trials must be an integer >= 0"),
        ("median", {"interval": 0}, "interval must be > 0"),
        ("median", {"warmup_resource": -1}, "warmup_resource must be >= 0"),
        ("asha", {"mode": "maximize"}, 'pruner asha: mode must be "max" or "min"'),
        ("asha", {"metric": ""}, "metric must be a metric's name"),
        ("asha", {"max_resource": -3}, "max_resource must be > 0"),
        ("successive_halving", {"bracket_size": 0}, "bracket_size must be an integer >= 1"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(name, params, message):
    with pytest.raises(ConfigError) as caught:
        _make(name, params)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"unknown pruner 'asah'; known: asha, hyperband, median, successive_halving"
    ):
        _make("asah", {})


def test_hyperband_needs_a_largest_resource_and_asha_does_not():
    with pytest.raises(ConfigError, match="hyperband: max_resource is needed"):
        _make("hyperband", {}, max_resource=None)
    assert _make("hyperband", {"max_resource": 81}, max_resource=None).brackets == 5
    assert _make("asha", {}, max_resource=None).rungs(0) is None


def test_successive_halving_needs_a_bracket_size_or_the_studys_concurrency():
    with pytest.raises(ConfigError, match="bracket_size is needed"):
        _make("successive_halving", {}, concurrency=None)
    assert _make("successive_halving", {"bracket_size": 3}, concurrency=None).bracket_size == 3
