"""A space's optional hooks (archsearch.spaces.hooks): a space in one folder of its own, or a user's
model, is exported, drawn, given its companions and trained one-shot without any table naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.config import space_companions
from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.nn import ModelSpace
from archsearch.oneshot.supernet import has_supernet, make_supernet, supernet_spaces
from archsearch.registry import construct
from archsearch.report.export import export_pytorch_source
from archsearch.report.plots import can_draw, draw_architecture
from archsearch.spaces.hooks import Draws, ExportsSource, HasSupernet, companions_of
from spaces.hooked_space import HookedSpace
from spaces.hooked_space.model import HookedNet, PlainNet

HOOKED = "spaces.hooked_space.space:HookedSpace"


def test_a_space_in_its_own_folder_brings_its_companions_by_its_dotted_path():
    assert space_companions(HOOKED) == {"clock": "cost", "n_trials": 7, "executor": "inline"}
    space_companions(HOOKED)["n_trials"] = 0  # a copy
    assert HookedSpace.companions["n_trials"] == 7


def test_builtin_companions_come_from_the_space_classes():
    assert space_companions("nb201")["evaluator"]["name"] == "tabular"
    assert space_companions("rnn-cell")["reward"]["name"] == "ppl_inverse_square"
    assert space_companions("nasrl_cnn") == {} == space_companions("no_such_space")


def test_companions_must_be_a_dict_of_sections():
    class Bad:
        companions = ["clock"]

    with pytest.raises(ConfigError, match="companions must be a dict"):
        companions_of(Bad)


def test_a_hooked_space_is_exported_by_its_own_hook(tmp_path):
    space = construct("space", HOOKED, {})
    arch = Architecture("hooked", (8, "tanh"))
    assert isinstance(space, ExportsSource)
    namespace: dict[str, object] = {}
    exec(compile(export_pytorch_source(space, arch, (3,), 5), "model.py", "exec"), namespace)
    model = namespace["build_model"]()  # type: ignore[operator]
    assert model(torch.zeros(2, 3)).shape == (2, 5)


def test_a_hooked_space_is_drawn_by_its_own_hook(tmp_path):
    space = HookedSpace()
    assert isinstance(space, Draws) and can_draw(space)
    path = draw_architecture(space, Architecture("hooked", (4, "relu")), tmp_path / "arch.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_hooked_space_gives_one_shot_search_its_supernet():
    space = HookedSpace()
    assert isinstance(space, HasSupernet)
    supernet = make_supernet(space, (3,), 2, width=4)
    assert supernet.forward(torch.zeros(2, 3), choice=torch.tensor([1])).shape == (2, 2)
    assert supernet.to_architecture(np.array([1])) == Architecture("hooked", (4, "tanh"))
    with pytest.raises(ConfigError, match="has no supernet"):
        make_supernet("nasrl_cnn", (1, 8, 8), 2)


def test_one_shot_finds_the_builtin_supernets_by_their_hooks():
    assert {"nb201", "darts", "darts_cell"} <= set(supernet_spaces())
    assert has_supernet("darts") and not has_supernet("nasrl_cnn") and not has_supernet("nope")


def test_a_users_model_brings_its_companions_and_drawing(tmp_path):
    assert space_companions("spaces.hooked_space.model:HookedNet") == {"n_trials": 3}
    space = ModelSpace(HookedNet)
    assert space.companions == {"n_trials": 3} and can_draw(space)
    arch = space.architecture({"width": 3})
    assert draw_architecture(space, arch, tmp_path / "net.txt").read_text() == "width 3"
    plain = ModelSpace(PlainNet)
    assert plain.companions == {} and not can_draw(plain)
    assert draw_architecture(plain, plain.architecture({"width": 2}), tmp_path / "plain.png").is_file()


def test_a_users_model_space_exports_a_model_importing_its_module(tmp_path):
    space = ModelSpace(HookedNet)
    source = export_pytorch_source(space, space.architecture({"width": 2}), (4,), 2)
    assert "from spaces.hooked_space.model import HookedNet" in source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "exported", "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)
    assert namespace["build_model"]().layers[0].out_features == 2  # type: ignore[operator]


def test_the_space_packages_load_no_torch():
    code = (
        "import sys; import archsearch.spaces.nb201, archsearch.spaces.nasrl_cnn, archsearch.spaces.rnn_cell;"
        " from archsearch.config import space_companions; space_companions('nb201');"
        " assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
