"""Exported cell networks (NASNet, DARTS and NB201, all built from cell_ops) run without archsearch."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.core import SearchSpace
from archsearch.report.export import export_pytorch_source
from archsearch.spaces.nasnet_cell import DartsCellSpace, NASNetCellSpace
from archsearch.spaces.nb201 import NB201Space
from report.test_export import imported_modules, load_exported

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPACES = {
    "nasnet": (NASNetCellSpace(blocks=3, channels=4, reductions=1), (1, 8, 8)),
    "darts": (DartsCellSpace(channels=4), (3, 9, 9)),
    "nb201": (NB201Space(channels=4, cells_per_stage=1), (3, 8, 8)),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_exported_cell_network_equals_the_built_one(name: str, tmp_path: Path) -> None:
    space, image = SPACES[name]
    assert isinstance(space, SearchSpace)
    arch = space.sample(np.random.default_rng(5))
    source = export_pytorch_source(space, arch, image, 10)
    assert {m.split(".")[0] for m in imported_modules(source)} <= {
        "__future__",
        "typing",
        "collections",
        "torch",
    }
    exported = load_exported(source, tmp_path / "model.py")
    torch.manual_seed(0)
    original = space.build(arch, image, 10)
    original(torch.randn(4, *image))  # moves the batch-norm statistics away from their initial values
    rebuilt = exported.build_model()
    rebuilt.load_state_dict(original.state_dict())
    batch = torch.randn(3, *image)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(batch), original.eval()(batch))


def test_running_the_exported_file_prints_its_parameter_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space, image = SPACES["nasnet"]
    arch = space.sample(np.random.default_rng(6))
    path = tmp_path / "model.py"
    path.write_text(export_pytorch_source(space, arch, image, 10), encoding="utf-8")
    runpy.run_path(str(path), run_name="__main__")
    parameters = sum(p.numel() for p in space.build(arch, image, 10).parameters())
    assert (
        capsys.readouterr().out.strip()
        == f"parameters: {parameters}, output shape on a random batch: (2, 10)"
    )
