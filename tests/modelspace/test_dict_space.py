"""DictSpace: a plain dict of choices as a space (no torch), and its label=value strings."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from archsearch.core import Architecture
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.dict_space import DictSpace

CHOICES = {"depth": [2, 4, 6], "width": [32, 64], "act": ["relu", "gelu"]}


def test_decisions_follow_the_keys_and_values_round_trip():
    space = DictSpace(CHOICES)
    assert space.name == "dict" and space.labels() == ["depth", "width", "act"]
    assert [d.choices for d in space.walk((2, 32, "relu"))] == [(2, 4, 6), (32, 64), ("relu", "gelu")]
    arch = space.architecture({"act": "gelu", "depth": 4, "width": 64})
    assert arch == Architecture("dict", (4, 64, "gelu"))
    assert space.values(arch) == {"depth": 4, "width": 64, "act": "gelu"}
    assert space.encode(arch) == "depth=4 width=64 act=gelu"
    assert space.decode("act=gelu depth=4  width=64") == arch
    assert space.config() == {"choices": CHOICES}
    assert DictSpace(**space.config()) == space and pickle.loads(pickle.dumps(space)) == space
    assert DictSpace({"width": [32, 64], "depth": [2, 4, 6], "act": ["relu", "gelu"]}) != space


def test_values_that_read_alike_are_written_as_json():
    space = DictSpace({"x": [1, "1", False, "a b", "", 0.5], "y": ["true", "yes"]})
    rng = np.random.default_rng(0)
    for _ in range(30):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
    text = space.encode(space.architecture({"x": "a b", "y": "true"}))
    assert text == 'x="a\\u0020b" y=true'


def test_bad_dicts_values_and_strings_are_one_line_errors():
    for choices, message in [
        ({}, "has no choices"),
        ([1, 2], "needs a dict"),
        ({"a": []}, "has no values"),
        ({"a": [1, [2]]}, "not a JSON scalar"),
        ({"a": [1, 1]}, "repeats a value"),
        ({"a b": [1]}, "label must be"),
    ]:
        with pytest.raises(ConfigError, match=message):
            DictSpace(choices)
    space = DictSpace(CHOICES)
    with pytest.raises(ConfigError, match=r"unknown labels \['typo'\]; no value for \['act'\]"):
        space.architecture({"depth": 2, "width": 32, "typo": 1})
    with pytest.raises(ConfigError, match="depth=3 is not one of"):
        space.architecture({"depth": 3, "width": 32, "act": "relu"})
    for text in (
        "depth=2 width=32",
        "depth=2 width=32 act=relu act=gelu",
        "depth=3 width=32 act=relu",
        "nonsense",
    ):
        with pytest.raises(InvalidArchitectureError):
            space.decode(text)
    with pytest.raises(NotImplementedError, match="cannot build torch modules"):
        space.build(space.architecture({"depth": 2, "width": 32, "act": "relu"}), (1,), 2)


def test_dict_space_imports_no_torch():
    code = "import sys, archsearch.spaces.dict_space; print('torch' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )


def test_numpy_values_become_plain_numbers():
    space = DictSpace({"a": np.array([1, 2]), "b": [np.int64(3), np.float64(0.5)]})
    assert space.config() == {"choices": {"a": [1, 2], "b": [3, 0.5]}}
    assert all(type(v) in (int, float) for d in space.walk((1, 3)) for v in d.choices)
