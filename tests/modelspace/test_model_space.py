"""ModelSpace: discovery of a user's module's choices, building children, values, pickling, bad input."""

from __future__ import annotations

import functools
import multiprocessing
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.nn import InputChoice, InputSelector, LayerChoice, ModelSpace, Repeat, choice, fixed_arch
from archsearch.spaces.dict_space import DictSpace
from modelspace import user_spaces
from modelspace.user_spaces import HandCNN, Nested, Shared, SmallCNN


def test_discovery_records_labels_in_constructor_order_one_kind_each():
    space = ModelSpace(SmallCNN)
    assert space.name == "modelspace.user_spaces:SmallCNN"
    assert space.labels() == ["width", "conv", "act", "depth", "skip", "dropout"]
    decisions = list(space.walk(space.sample(np.random.default_rng(0)).values))
    assert [d.kind for d in decisions] == [
        "value:width",
        "layer:conv",
        "value:act",
        "repeat:depth",
        "input:skip",
        "value:dropout",
    ]
    assert decisions[1].choices == ("conv3x3", "sep3x3")
    assert decisions[3].choices == (1, 2, 3)
    assert set(space.kinds()) == {d.kind for d in decisions}


def test_nested_choices_and_repeat_blocks_get_deterministic_labels():
    space = ModelSpace(Nested)
    assert space.labels() == [
        "layer_choice_0",  # inside candidate "a", constructed before the choice among the candidates
        "op",
        "repeat_0",
        "repeat_0.0.layer_choice_0",
        "repeat_0.1.layer_choice_0",
        "layer_choice_1",  # a block's depth does not shift the labels after the Repeat
        "input_choice_0",
        "input_choice_1",
    ]
    names = [d.name for d in space.walk(space.sample(np.random.default_rng(0)).values)]
    assert names[6:9] == ["input_choice_0[0]", "input_choice_0[1]", "input_choice_0[2]"]
    assert ModelSpace(Nested).labels() == space.labels()


def test_shared_labels_are_one_decision_and_take_the_same_value_everywhere():
    space = ModelSpace(Shared)
    assert space.labels() == ["width", "act"]
    child = space.build(space.architecture({"width": 8, "act": "tanh"}))
    assert child.first.out_features == 8 and child.second.in_features == 8
    assert isinstance(child.act1, nn.Tanh) and isinstance(child.act2, nn.Tanh)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_fixed_child_is_the_hand_written_module(depth):
    space = ModelSpace(SmallCNN)
    values = {"width": 8, "conv": "sep3x3", "act": "gelu", "depth": depth, "skip": 1, "dropout": 0.25}
    child = space.build(space.architecture(values), input_shape=(1, 8, 8), num_classes=3)
    hand = HandCNN(**values)
    assert sum(p.numel() for p in child.parameters()) == sum(p.numel() for p in hand.parameters())
    assert {k: v.shape for k, v in child.state_dict().items()} == {
        k: v.shape for k, v in hand.state_dict().items()
    }
    hand.load_state_dict(child.state_dict())
    hand.eval(), child.eval()
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(child(x), hand(x))


def test_built_child_holds_no_archsearch_module_but_the_input_selector():
    space = ModelSpace(Nested)
    for seed in range(5):
        child = space.build(space.sample(np.random.default_rng(seed)))
        archsearch_modules = {
            type(m).__name__ for m in child.modules() if type(m).__module__.startswith("archsearch")
        }
        assert archsearch_modules <= {"InputSelector"}
        assert child(torch.randn(3, 4)).shape == (3, 4)


def test_fixed_arch_by_hand_gives_the_chosen_candidates():
    with fixed_arch({"width": 4, "act": "relu"}):
        net = Shared()
    assert isinstance(net.act1, nn.ReLU) and net.first.out_features == 4
    with fixed_arch({"hidden": 16}):
        mlp = user_spaces.mlp()
    assert isinstance(mlp, nn.Sequential) and mlp[0].out_features == 16


def test_fixed_arch_refuses_missing_unknown_and_illegal_values():
    with pytest.raises(ConfigError, match="no value for .* 'act'"), fixed_arch({"width": 4}):
        Shared()
    with (
        pytest.raises(ConfigError, match="no choice is labelled 'typo'"),
        fixed_arch({"width": 4, "act": "relu", "typo": 1}),
    ):
        Shared()
    with pytest.raises(ConfigError, match="5 is not one of"), fixed_arch({"width": 5, "act": "relu"}):
        Shared()
    with (
        pytest.raises(ConfigError, match="not one of the candidates"),
        fixed_arch({"width": 4, "act": "gelu"}),
    ):
        Shared()


def test_fixed_arch_accepts_the_labels_inside_unbuilt_repeat_blocks():
    space = ModelSpace(Nested)
    arch = space.sample(np.random.default_rng(0))
    values = space.values(arch) | {"repeat_0": 1}
    with fixed_arch(values):
        net = Nested()
    assert len(net.blocks) == 1
    # a label inside an unused block may be left out of architecture(); it takes its first option
    del values["repeat_0.1.layer_choice_0"]
    assert space.values(space.architecture(values))["repeat_0.1.layer_choice_0"] == "0"
    del values["repeat_0.0.layer_choice_0"]
    with pytest.raises(ConfigError, match=r"no value for \['repeat_0.0.layer_choice_0'\]"):
        space.architecture(values)


def test_repeats_nest_and_only_the_blocks_built_need_values():
    space = ModelSpace(user_spaces.NestedRepeat)
    assert space.labels() == [
        "stages",
        "stages.0.repeat_0",
        "stages.0.repeat_0.0.layer_choice_0",
        "stages.0.repeat_0.1.layer_choice_0",
        "stages.1.repeat_0",
        "stages.1.repeat_0.0.layer_choice_0",
        "stages.1.repeat_0.1.layer_choice_0",
    ]
    values = {"stages": 1, "stages.0.repeat_0": 2, "stages.0.repeat_0.0.layer_choice_0": "1"}
    values["stages.0.repeat_0.1.layer_choice_0"] = "0"
    arch = space.architecture(values)
    assert [space.used(label, values) for label in space.labels()] == [True] * 4 + [False] * 3
    child = space.build(arch)
    assert len(child.stages) == 1 and [type(m).__name__ for m in child.stages[0]] == ["Tanh", "ReLU"]
    with fixed_arch(space.values(arch)):
        assert len(user_spaces.NestedRepeat().stages[0]) == 2


def test_outside_any_context_every_choice_takes_its_first_option():
    net = SmallCNN()
    assert isinstance(net.stem, nn.Conv2d) and net.stem.out_channels == 4
    assert len(net.blocks) == 1 and net.skip.chosen == (0,) and net.dropout.p == 0.0
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 3)
    nested = Nested()
    assert nested.skips.chosen == (0, 1, 2) and nested.pair.chosen == (0, 1)


def test_values_architecture_encode_and_decode_are_inverses():
    space = ModelSpace(Nested)
    rng = np.random.default_rng(3)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.architecture(space.values(arch)) == arch
        assert space.decode(space.encode(arch)) == arch
    arch = space.architecture(
        space.values(space.sample(rng)) | {"input_choice_0": [0, 2], "input_choice_1": [1, 2]}
    )
    assert (
        "input_choice_0[0]=true input_choice_0[1]=false input_choice_0[2]=true input_choice_1=1,2"
        in space.encode(arch)
    )
    with pytest.raises(InvalidArchitectureError):
        space.decode("op=z")


def test_input_selector_reduces_the_chosen_inputs():
    a, b, c = torch.ones(1, 2), 2 * torch.ones(1, 2), 3 * torch.ones(1, 2)
    assert torch.equal(InputSelector((0, 2), "sum", 3)([a, b, c]), 4 * torch.ones(1, 2))
    assert torch.equal(InputSelector((0, 2), "mean", 3)([a, b, c]), 2 * torch.ones(1, 2))
    assert InputSelector((1, 2), "concat", 3)([a, b, c]).shape == (1, 4)
    assert torch.equal(InputSelector((), "sum", 3)([a, b, c]), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="list of 3 tensors"):
        InputSelector((0,), "sum", 3)([a, b])


def test_build_passes_input_shape_and_num_classes_only_where_taken_and_not_fixed():
    space = ModelSpace(user_spaces.Takes, width=8)
    arch = space.sample(np.random.default_rng(0))
    assert space.build(arch, input_shape=(3,), num_classes=5).given == ((3,), 5, 8)
    fixed = ModelSpace(user_spaces.Takes, num_classes=7)
    assert fixed.build(fixed.sample(np.random.default_rng(0)), (3,), 5).given == ((3,), 7, 4)
    function_space = ModelSpace(user_spaces.mlp, hidden=4)
    assert function_space.name == "modelspace.user_spaces:mlp"
    assert isinstance(
        function_space.build(function_space.sample(np.random.default_rng(0)), (4,), 2), nn.Sequential
    )


def test_dotted_paths_and_files_name_the_model(tmp_path):
    space = ModelSpace("modelspace.user_spaces:Shared")
    assert space == ModelSpace(Shared) and space.config() == {
        "model": "modelspace.user_spaces:Shared",
        "kwargs": {},
    }
    source = tmp_path / "my_model_file.py"
    source.write_text(
        "from torch import nn\nfrom archsearch.nn import choice\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, size=2):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(size, choice('width', [1, 2]))\n"
    )
    from_file = ModelSpace(f"{source}:Net", size=3)
    assert from_file.name == f"{source}:Net" and from_file.config()["kwargs"] == {"size": 3}
    child = from_file.build(from_file.architecture({"width": 2}))
    assert child.fc.in_features == 3 and child.fc.out_features == 2
    again = pickle.loads(pickle.dumps(from_file))
    assert again == from_file and again.labels() == ["width"]


def test_pickled_space_is_equal_and_builds_the_same_child():
    space = ModelSpace(SmallCNN, num_classes=4)
    again = pickle.loads(pickle.dumps(space))
    assert again == space and hash(again) == hash(space) and again.labels() == space.labels()
    arch = space.sample(np.random.default_rng(1))
    assert again.encode(arch) == space.encode(arch)
    assert sum(p.numel() for p in again.build(arch).parameters()) == sum(
        p.numel() for p in space.build(arch).parameters()
    )
    assert ModelSpace(SmallCNN, num_classes=4) == space != ModelSpace(SmallCNN, num_classes=5)


def test_space_travels_to_a_spawned_worker_process(tmp_path):
    source = tmp_path / "spawned_model_file.py"
    source.write_text(
        "from torch import nn\nfrom archsearch.nn import choice\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(2, choice('width', [1, 3]))\n"
    )
    spaces = [ModelSpace(SmallCNN), ModelSpace(f"{source}:Net")]
    jobs = [(space, space.sample(np.random.default_rng(7))) for space in spaces]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        counts = pool.starmap(user_spaces.child_parameters, jobs)
    assert counts == [user_spaces.child_parameters(space, arch) for space, arch in jobs]


def test_a_class_of_the_script_run_as_main_is_named_by_the_script_path(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        "import pickle\nfrom torch import nn\nfrom archsearch.nn import ModelSpace, choice\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(2, choice('width', [1, 3]))\n\n"
        "if __name__ == '__main__':\n"
        "    space = ModelSpace(Net)\n"
        "    print(space.name)\n"
        "    print(ModelSpace(space.config()['model']) == space, pickle.loads(pickle.dumps(space)) == space)\n"
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    # relative to the current directory, which the study records (resolve.main_path)
    assert run.stdout.split("\n")[:2] == ["user_script.py:Net", "True True"], run.stderr


def test_function_evaluator_gets_the_built_child_or_the_values():
    from archsearch.evaluators.function import build_child

    space = ModelSpace(Shared)
    arch = space.architecture({"width": 8, "act": "tanh"})
    assert isinstance(build_child(space, arch), Shared)
    dict_space = DictSpace({"width": [4, 8]})
    assert build_child(dict_space, dict_space.architecture({"width": 8})) == {"width": 8}


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_a_width_of_zero_is_a_failed_trial_with_the_layers_message():
    from archsearch.evaluators.function import FunctionEvaluator

    space = ModelSpace(user_spaces.ZeroChannels)
    evaluator = FunctionEvaluator(user_spaces.run_once)
    assert evaluator.evaluate(space, space.architecture({"width": 4}), seed=0).ok
    failed = evaluator.evaluate(space, space.architecture({"width": 0}), seed=0)
    assert failed.status == "failed" and failed.error and "\n" not in failed.error


def test_kwargs_are_stored_as_json():
    space = ModelSpace(SmallCNN, input_shape=(1, 8, 8))
    assert space.config() == {
        "model": "modelspace.user_spaces:SmallCNN",
        "kwargs": {"input_shape": [1, 8, 8]},
    }
    with pytest.raises(ConfigError, match="num_classes=.* is not a JSON value"):
        ModelSpace(SmallCNN, num_classes=object())


def test_a_value_that_breaks_a_layer_fails_the_build_not_the_space():
    space = ModelSpace(user_spaces.ZeroFirst)  # discovery moves past the first width, which raises
    assert space.labels() == ["width"]
    assert space.build(space.architecture({"width": 4})).layer.linear.out_features == 4
    with pytest.raises(ValueError, match="width must be positive, got 0"):
        space.build(space.architecture({"width": 0}))


def test_local_model_space_cannot_be_sent_to_workers():
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, choice("width", [1, 2]))

    space = ModelSpace(Local)
    assert space.labels() == ["width"]
    with pytest.raises(ConfigError, match="defined inside a function"):
        pickle.dumps(space)


class _Broken(nn.Module):
    def __init__(self, make) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.part = make()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (user_spaces.NoChoices, "has no choice with two or more options"),
        (
            user_spaces.ConflictingValues,
            "label 'width' is used for a value choice of \\[4, 8\\] and for a value",
        ),
        (user_spaces.ConflictingCandidates, "label 'act' is used for a layer choice"),
        (
            user_spaces.AlwaysBroken,
            r"cannot be constructed \(with width=-1, after 2 tries\): ValueError: width must be positive",
        ),
        (user_spaces.ClashingNames, "label 'skip\\[0\\]' is also the name of an input choice's on/off"),
        (user_spaces.NeedsShape, "needs input_shape: give input_shape=..."),
        (SmallCNN(), "not a SmallCNN instance"),
        (functools.partial(user_spaces.mlp, hidden=4), "needs a class or a function .* not a partial"),
        ("modelspace.user_spaces:Missing", "has no attribute 'Missing'"),
        ("modelspace.no_such_module:Net", "no module named .modelspace.no_such_module."),
        ("no_colon", "not a dotted path"),
    ],
)
def test_bad_spaces_are_one_line_config_errors(model, message):
    with pytest.raises(ConfigError, match=message) as info:
        ModelSpace(model)
    assert "\n" not in str(info.value)


def test_unknown_constructor_argument_is_a_config_error():
    with pytest.raises(ConfigError, match="unexpected keyword argument 'depth'"):
        ModelSpace(Shared, depth=3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LayerChoice([]), "has no candidates"),
        (lambda: LayerChoice({}), "has no candidates"),
        (lambda: LayerChoice([("a", nn.ReLU()), ("a", nn.Tanh())]), "two candidates named 'a'"),
        (lambda: LayerChoice([nn.ReLU(), 3]), "candidate '1' is a int, not an nn.Module"),
        (lambda: choice("w", []), "has no values"),
        (lambda: choice("w", [1, None]), "None is not a JSON scalar"),
        (lambda: choice("w", [1.0, float("nan")]), "nan is not a JSON scalar"),
        (lambda: choice("w", [1, 1.0]), "repeats a value"),
        (lambda: choice("w", "abc"), "must be a list of values"),
        (lambda: choice("has space", [1, 2]), "label must be a non-empty string"),
        (lambda: Repeat(nn.ReLU(), depth=[]), "non-empty list"),
        (lambda: Repeat(nn.ReLU(), depth=[1, -1]), "depths must be ints >= 0"),
        (lambda: Repeat(nn.ReLU(), depth=-1), "depths must be ints >= 0"),
        (lambda: InputChoice(0), "n_candidates must be an int >= 1"),
        (lambda: InputChoice(3, n_chosen=4), "n_chosen must be None"),
        (lambda: InputChoice(3, reduction="max"), "reduction must be one of"),
        (lambda: InputChoice(30, n_chosen=10), "use n_chosen=None"),
    ],
)
def test_bad_primitives_are_one_line_config_errors(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
    with pytest.raises(ConfigError, match=message):  # in discovery, too
        _discover_with(make)


def _discover_with(make) -> None:  # type: ignore[no-untyped-def]
    from archsearch.nn.model_space import discover

    discover(lambda: _Broken(make), "broken")


def test_repeat_of_a_module_deep_copies_it_and_depth_zero_is_empty():
    with fixed_arch({"repeat_0": 0, "repeat_1": 2}):
        empty = Repeat(nn.Linear(2, 2), depth=[0, 1])
        two = Repeat(nn.Linear(2, 2), depth=[1, 2])
    assert len(empty) == 0 and len(two) == 2 and two[0].weight is not two[1].weight


def test_architecture_of_another_space_is_refused():
    space = ModelSpace(Shared)
    with pytest.raises(InvalidArchitectureError, match="architecture is of space"):
        space.build(Architecture("other", (4, "relu")))
