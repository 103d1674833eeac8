"""One-shot search (DARTS, ENAS, ASNG-NAS) on a user's model space: the supernet of layer, input and
repeat choices, the derived architecture of the space, the choices one-shot refuses, the CLI."""

from __future__ import annotations

import json
import runpy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from archsearch.errors import ConfigError
from archsearch.nn import InputChoice, LayerChoice, ModelSpace, Repeat, choice
from archsearch.oneshot import make_method
from archsearch.oneshot.run import OneShotRun
from archsearch.oneshot.search import search_model_space
from archsearch.oneshot.user import UserSupernet
from oneshot.test_cli import run_cli
from oneshot.test_run import StopAfterEpoch, trajectory


class Zero(nn.Module):
    """A candidate that throws its input away: every method should learn to avoid it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


class DigitsLinear(nn.Module):
    """A linear classifier of 8x8 digits behind a value choice and two layer choices of 2 and 3
    candidates; only the gain 1, the identity body and a non-zero activation let any information through."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10) -> None:
        super().__init__()
        self.body = LayerChoice({"zero": Zero(), "identity": nn.Identity()}, label="body")
        self.act = LayerChoice({"zero": Zero(), "tanh": nn.Tanh(), "identity": nn.Identity()}, label="act")
        self.gain = choice("gain", [0.0, 1.0])
        self.head = nn.Linear(int(np.prod(input_shape)), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.body(x * self.gain)).flatten(1))


class SkipNet(nn.Module):
    """A small MLP with a layer choice, a variable depth and an input choice (a skip connection)."""

    def __init__(
        self, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10, width: int = 16
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Flatten(), nn.Linear(int(np.prod(input_shape)), width), nn.BatchNorm1d(width)
        )
        self.mix = LayerChoice(
            {
                "linear": nn.Linear(width, width),
                "relu_linear": nn.Sequential(nn.ReLU(), nn.Linear(width, width)),
            },
            label="mix",
        )
        self.blocks = Repeat(
            lambda i: nn.Sequential(nn.Linear(width, width), nn.ReLU()), depth=[0, 1, 2], label="depth"
        )
        self.skip = InputChoice(n_candidates=3, n_chosen=1, label="skip")
        self.pair = InputChoice(n_candidates=3, n_chosen=2, reduction="mean", label="pair")
        self.any = InputChoice(n_candidates=2, n_chosen=None, label="any")
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.relu(self.stem(x))
        h1 = self.mix(h0)
        h2 = self.blocks(h1)
        return self.head(self.skip([h0, h1, h2]) + self.pair([h0, h1, h2]) + self.any([h1, h2]))


class WidthChoiceNet(nn.Module):
    """A hidden width and a dropout rate as value choices beside a layer choice."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10) -> None:
        super().__init__()
        width = choice("width", [8, 16])
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), width), nn.ReLU())
        self.act = LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.dropout = nn.Dropout(choice("dropout", [0.0, 0.5]))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.act(self.body(x))))


class ManyValues(nn.Module):
    """Two value choices of five values each: 25 copies of the model, too many."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(64, choice("a", [1, 2, 3, 4, 5]) * choice("b", [1, 2, 3, 4, 5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))


class Widths(nn.Module):
    """8 outputs per input from its first candidate: no logits of digits' 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.body = LayerChoice([nn.Linear(64, 8), nn.Linear(64, 16)], label="body")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))


class MixedWidths(nn.Module):
    """Candidates of 10 and 16 outputs: a DARTS weighted sum cannot add them."""

    def __init__(self) -> None:
        super().__init__()
        self.body = LayerChoice([nn.Linear(64, 10), nn.Linear(64, 16)], label="body")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))


def digits(n: int = 600) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``n`` training and the next 300 validation digits as 1x8x8 images in [0, 1]."""
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    y = data.target
    return (x[:n], y[:n]), (x[n : n + 300], y[n : n + 300])


def test_darts_derives_the_candidates_its_weights_favour() -> None:
    train, valid = digits()
    result = search_model_space(
        ModelSpace(DigitsLinear),
        train,
        valid,
        method="darts",
        epochs=4,
        batch_size=50,
        seed=0,
        hyper={"arch_lr": 0.05, "lr": 0.3},
    )
    assert result.values["body"] == "identity"
    assert result.values["act"] != "zero"
    assert result.values["gain"] == 1.0  # a value choice, searched as a choice between copies of the model
    assert result.probabilities["body"]["identity"] > result.probabilities["body"]["zero"]
    assert result.probabilities["act"]["zero"] == min(result.probabilities["act"].values())
    assert set(result.probabilities["act"]) == {"zero", "tanh", "identity"}  # 3 candidates beside 2
    assert result.architecture == ModelSpace(DigitsLinear).architecture(result.values)
    assert len(result.history) == 4 and result.estimate_valid_acc > 0.5
    # the candidates named identity count as skip connections (their probability, averaged over decisions)
    assert result.history[-1]["skip_none_mass"] > 0.5


@pytest.mark.parametrize(
    ("method", "hyper"),
    [("enas", {"controller_steps": 1, "derive_samples": 2, "marginal_samples": 10}), ("asng", {})],
)
def test_sampling_methods_derive_a_valid_architecture_of_a_space_with_layer_input_and_repeat_choices(
    method: str, hyper: dict
) -> None:
    train, valid = digits(300)
    space = ModelSpace(SkipNet)
    result = search_model_space(
        space, train, valid, method=method, epochs=2, batch_size=50, seed=1, hyper=hyper
    )
    assert set(result.values) == set(space.labels())
    assert result.values == space.values(result.architecture)
    assert result.values["mix"] in ("linear", "relu_linear")
    assert result.values["depth"] in (0, 1, 2)
    assert result.values["skip"] in (0, 1, 2)
    assert sorted(result.values["pair"]) in ([0, 1], [0, 2], [1, 2])
    assert sorted(result.values["any"]) in ([0], [1], [0, 1])
    child = space.build(result.architecture)
    assert child(torch.zeros(4, 1, 8, 8)).shape == (4, 10)
    assert all(sum(row.values()) == pytest.approx(1.0) for row in result.probabilities.values())


def test_padding_of_decisions_with_fewer_choices_is_never_weighted_sampled_or_derived() -> None:
    supernet = UserSupernet(ModelSpace(SkipNet), (1, 8, 8), 10)
    counts = dict(zip(supernet.edge_names, supernet.num_choices().tolist(), strict=True))
    assert counts == {"mix": 2, "depth": 3, "skip": 3, "pair": 3, "any": 3}
    darts = make_method("darts", supernet, seed=0)
    assert darts.probabilities()[0, 2] == 0.0 and darts.probabilities()[0, :2] == pytest.approx([0.5, 0.5])
    for name in ("enas", "asng"):
        method = make_method(name, supernet, seed=0, **({"marginal_samples": 50} if name == "enas" else {}))
        assert method.probabilities()[0, 2] == 0.0
        assert method.derived_choice()[0] in (0, 1)


@pytest.mark.parametrize("method", ["darts", "asng"])
def test_value_choices_become_copies_of_the_model_and_are_derived_like_layer_choices(method: str) -> None:
    train, valid = digits(300)
    space = ModelSpace(WidthChoiceNet)
    supernet = UserSupernet(space, (1, 8, 8), 10)
    assert dict(zip(supernet.edge_names, supernet.num_choices().tolist(), strict=True)) == {
        "width": 2,
        "act": 2,
        "dropout": 2,
    }
    assert len(supernet.model.copies) == 4  # width x dropout
    # weights of one name and shape are shared by the copies: a dropout rate sizes none, a width its
    # layers (all but the head's bias, of 10 classes at either width, as weight slicing would share it)
    children = [space.build(space.architecture({"width": w, "act": "0", "dropout": 0.0})) for w in (8, 16)]
    assert (
        sum(p.numel() for p in supernet.parameters())
        == sum(p.numel() for child in children for p in child.parameters()) - children[0].head.bias.numel()
    )
    result = search_model_space(space, train, valid, method=method, epochs=2, batch_size=50, seed=0)
    assert result.values["width"] in (8, 16) and result.values["dropout"] in (0.0, 0.5)
    child = space.build(result.architecture)
    assert child.head.in_features == result.values["width"]


def test_value_choices_needing_too_many_copies_are_refused_naming_their_labels() -> None:
    with pytest.raises(
        ConfigError,
        match=r"one copy of the model per combination .*'a' \[1, 2, 3, 4, 5\], 'b'.*25 copies, more than 16.*LayerChoice",
    ):
        UserSupernet(ModelSpace(ManyValues), (1, 8, 8), 10)


def test_a_space_whose_darts_candidates_differ_in_shape_is_one_line_before_a_darts_run_is_made(
    tmp_path,
) -> None:
    train, valid = digits(100)
    with pytest.raises(
        ConfigError, match=r"choice 'body': DARTS sums .* one shape, got 0: \(2, 10\), 1: \(2, 16\)"
    ):
        search_model_space(MixedWidths, train, valid, method="darts", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    supernet = UserSupernet(ModelSpace(MixedWidths), (1, 8, 8), 10)  # sampled paths run
    assert supernet(torch.zeros(2, 1, 8, 8), choice=torch.tensor([1])).shape == (2, 16)


CLI_DIGITS = [
    "--dataset",
    "digits",
    "--train-limit",
    "160",
    "--batch-size",
    "32",
    "--threads",
    "1",
    "--quiet",
]


def test_cli_searches_a_model_space_by_its_dotted_path_and_resumes_reports_and_exports_it(
    tmp_path, monkeypatch, capsys
) -> None:
    space = ["--space", "oneshot.test_user_space:SkipNet", "--set", "supernet.width=8", "--method", "asng"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_cli("oneshot", *space, "--epochs", "2", "--out", str(whole), *CLI_DIGITS) == 0
    assert "derived mix" in capsys.readouterr().out
    original = OneShotRun.run

    def interrupted(self, listeners=()):
        return original(self, [StopAfterEpoch(epoch=1, steps=1)])

    monkeypatch.setattr(OneShotRun, "run", interrupted)
    assert run_cli("oneshot", *space, "--epochs", "2", "--out", str(cut), *CLI_DIGITS) == 130
    monkeypatch.setattr(OneShotRun, "run", original)
    assert run_cli("oneshot", "--resume", str(cut), "--quiet") == 0  # rebuilds the supernet from the path
    assert trajectory(cut) == trajectory(whole)

    assert run_cli("status", str(whole)) == 0 and run_cli("report", str(whole)) == 0
    assert run_cli("export", str(whole), "--out", str(tmp_path / "export")) == 0
    values = json.loads((tmp_path / "export" / "values.json").read_text())
    model_space = ModelSpace(SkipNet, width=8)
    assert set(values) == set(model_space.labels())
    model = runpy.run_path(str(tmp_path / "export" / "model.py"))["build_model"]()
    expected = model_space.build(model_space.architecture(values), (1, 8, 8), 10)
    assert [p.shape for p in model.parameters()] == [p.shape for p in expected.parameters()]
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_cli_names_a_model_space_that_does_not_import(tmp_path, capsys) -> None:
    args = ["--space", "oneshot.no_such_module:Net", "--out", str(tmp_path / "run"), *CLI_DIGITS]
    assert run_cli("oneshot", *args) == 2
    assert "no_such_module" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("model", [SkipNet, WidthChoiceNet])
def test_a_search_from_python_into_a_directory_resumes_with_the_same_data(
    model: type[nn.Module], tmp_path, monkeypatch, capsys
) -> None:
    train, valid = digits(200)
    options = {"method": "asng", "epochs": 2, "batch_size": 50, "seed": 3}
    whole = search_model_space(model, train, valid, out=tmp_path / "whole", **options)
    original = OneShotRun.run

    def interrupted(self, listeners=()):
        return original(self, [StopAfterEpoch(epoch=1, steps=1)])

    monkeypatch.setattr(OneShotRun, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search_model_space(model, train, valid, out=tmp_path / "cut", **options)
    monkeypatch.setattr(OneShotRun, "run", original)
    assert run_cli("oneshot", "--resume", str(tmp_path / "cut")) == 2  # the arrays are not in the run
    assert "continue it from Python" in capsys.readouterr().err
    resumed = search_model_space(model, train, valid, out=tmp_path / "cut", resume=True, **options)
    assert (resumed.values, resumed.history, resumed.probabilities) == (
        whole.values,
        whole.history,
        whole.probabilities,
    )


class InPlace(nn.Module):
    """A layer choice whose first candidate works in place on the input the others get too."""

    def __init__(self) -> None:
        super().__init__()
        self.act = LayerChoice({"relu": nn.ReLU(inplace=True), "identity": nn.Identity()}, label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x.flatten(1))


def test_in_place_candidates_do_not_overwrite_the_input_of_the_others() -> None:
    supernet = UserSupernet(ModelSpace(InPlace), (1, 1, 2), 2)
    x = torch.tensor([[[[-1.0, 2.0]]]])
    mixed = supernet(x, weights=torch.tensor([[0.5, 0.5]]))
    assert mixed.tolist() == [[-0.5, 2.0]]  # 0.5 relu(x) + 0.5 x
    assert ModelSpace(InPlace).build(ModelSpace(InPlace).architecture({"act": "relu"})).act.inplace


def test_a_model_that_gives_no_logits_of_the_data_classes_is_refused_before_a_run_is_made(tmp_path) -> None:
    train, valid = digits(100)
    with pytest.raises(ConfigError, match="gives 8 outputs per input, but the data have 10 classes"):
        search_model_space(Widths, train, valid, method="enas", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


MY_NET = """
import torch
from torch import nn
from archsearch.nn import LayerChoice


class Net(nn.Module):
    def __init__(self, input_shape=(1, 8, 8), num_classes=10):
        super().__init__()
        self.body = LayerChoice({"tanh": nn.Tanh(), "relu": nn.ReLU()}, label="body")
        self.head = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.head(self.body(x.flatten(1)))
"""


def test_a_run_of_a_module_in_the_current_directory_is_exported_from_elsewhere(tmp_path, monkeypatch) -> None:
    import sys

    from archsearch import registry, resolve

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(registry, "IMPORT_DIRS", [])
    monkeypatch.setattr(resolve, "IMPORT_DIRS", registry.IMPORT_DIRS)  # registry re-exports the list
    project = tmp_path / "project"
    project.mkdir()
    (project / "my_oneshot_net.py").write_text(MY_NET)
    monkeypatch.chdir(project)
    args = ["--space", "my_oneshot_net:Net", "--method", "asng", "--epochs", "1", *CLI_DIGITS]
    assert run_cli("oneshot", *args, "--out", str(tmp_path / "run")) == 0
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_oneshot_net")
    sys.path[:] = [p for p in sys.path if p not in ("", str(project))]
    assert run_cli("export", str(tmp_path / "run")) == 0
    assert "body" in json.loads((tmp_path / "run" / "export" / "values.json").read_text())


class SharedLabel(nn.Module):
    """One label on two layer choices: one decision that picks the same candidate in both places."""

    def __init__(self) -> None:
        super().__init__()
        self.first = LayerChoice({"zero": Zero(), "identity": nn.Identity()}, label="act")
        self.second = LayerChoice({"zero": Zero(), "identity": nn.Identity()}, label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x.flatten(1)) + 1.0)


def test_a_label_shared_by_two_layer_choices_is_one_decision_of_the_supernet() -> None:
    supernet = UserSupernet(ModelSpace(SharedLabel), (1, 1, 2), 2)
    assert supernet.edge_names == ["act"]
    x = torch.tensor([[[[3.0, 4.0]]]])
    assert supernet(x, choice=torch.tensor([1])).tolist() == [[4.0, 5.0]]
    assert supernet(x, choice=torch.tensor([0])).tolist() == [[0.0, 0.0]]


def test_cli_searches_a_model_space_on_the_users_csv_file(tmp_path, capsys) -> None:
    (x, y), _ = digits(300)
    header = ",".join([*(f"pixel{i}" for i in range(64)), "digit"])
    rows = [
        ",".join([*(f"{v:.4f}" for v in image.flatten()), str(label)])
        for image, label in zip(x, y, strict=True)
    ]
    (tmp_path / "digits.csv").write_text("\n".join([header, *rows]) + "\n")
    run = tmp_path / "run"
    args = [
        "--space",
        "oneshot.test_user_space:SkipNet",
        "--method",
        "enas",
        "--set",
        "hyper.controller_steps=1",
    ]
    data = ["--train", str(tmp_path / "digits.csv"), "--target", "digit", "--batch-size", "32", "--quiet"]
    assert run_cli("oneshot", *args, *data, "--epochs", "1", "--out", str(run)) == 0
    assert "derived mix" in capsys.readouterr().out
    assert run_cli("export", str(run)) == 0
    model = runpy.run_path(str(run / "export" / "model.py"))["build_model"]()
    assert model(torch.zeros(2, 64)).shape == (2, 10)  # flat inputs of 64 features, 10 classes
    assert run_cli("oneshot", *args, "--dataset", "digits", *data, "--out", str(tmp_path / "other")) == 2
    assert "drop --dataset" in capsys.readouterr().err


def test_a_search_of_an_image_folder_from_python_resumes_from_the_command_line(tmp_path, monkeypatch) -> None:
    from PIL import Image

    (x, y), _ = digits(120)
    for index, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = tmp_path / "images" / ("even" if label % 2 == 0 else "odd")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image[0] * 255).astype(np.uint8)).save(folder / f"{index}.png")
    options = {"method": "asng", "epochs": 2, "batch_size": 20, "seed": 1}
    whole = search_model_space(DigitsLinear, str(tmp_path / "images"), out=tmp_path / "whole", **options)
    assert set(whole.probabilities["body"]) == {"zero", "identity"}
    original = OneShotRun.run

    def interrupted(self, listeners=()):
        return original(self, [StopAfterEpoch(epoch=1, steps=1)])

    monkeypatch.setattr(OneShotRun, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search_model_space(DigitsLinear, str(tmp_path / "images"), out=tmp_path / "cut", **options)
    monkeypatch.setattr(OneShotRun, "run", original)
    monkeypatch.chdir(tmp_path / "images")  # the recorded folder is absolute
    assert run_cli("oneshot", "--resume", str(tmp_path / "cut"), "--quiet") == 0
    assert trajectory(tmp_path / "cut") == trajectory(tmp_path / "whole")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "arrays"], "unknown data set 'arrays'"),
        (["--dataset", "user"], "unknown data set 'user'"),
        (["--target", "label"], "--valid, --test and --target go with --train"),
        (["--train", "nowhere.csv"], "train: there is no CSV file"),
        (["--space", "oneshot.test_user_space:ManyValues", "--dataset", "digits"], "25 copies, more than 16"),
    ],
)
def test_bad_one_shot_options_for_user_spaces_are_one_line(args, message, tmp_path, capsys) -> None:
    space = [] if "--space" in args else ["--space", "oneshot.test_user_space:SkipNet"]
    assert run_cli("oneshot", *space, *args, "--out", str(tmp_path / "run")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
