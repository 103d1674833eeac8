"""Exports: the standalone PyTorch file runs without archsearch and matches the built model exactly."""

from __future__ import annotations

import ast
import importlib.util
import json
import runpy
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from archsearch.core import Architecture, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.report.export import export_json, export_pytorch_source
from archsearch.spaces.hooks import ExportsSource
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace

SPACE = NasRLCNNSpace(num_layers=4, predict_strides=True, num_filters=(2, 3, 4))
INPUT_SHAPE = (3, 8, 8)


def load_exported(source: str, path: Path) -> ModuleType:
    """Import the exported text as a fresh module from its own file."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("exported_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    return modules


def test_exported_source_imports_only_torch_and_the_standard_library() -> None:
    arch = SPACE.sample(np.random.default_rng(0))
    source = export_pytorch_source(SPACE, arch, INPUT_SHAPE, num_classes=10)
    assert {m.split(".")[0] for m in imported_modules(source)} <= {"__future__", "typing", "math", "torch"}
    assert "import archsearch" not in source and "from archsearch" not in source
    assert SPACE.encode(arch) in source


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exported_model_loads_the_state_dict_and_gives_identical_outputs(seed: int, tmp_path: Path) -> None:
    arch = SPACE.sample(np.random.default_rng(seed))
    exported = load_exported(export_pytorch_source(SPACE, arch, INPUT_SHAPE, 10), tmp_path / "model.py")
    torch.manual_seed(seed)
    original = SPACE.build(arch, INPUT_SHAPE, 10)
    original(torch.randn(4, *INPUT_SHAPE))  # one training-mode pass moves the batch-norm statistics
    rebuilt = exported.build_model()
    rebuilt.load_state_dict(original.state_dict())
    image = torch.randn(5, *INPUT_SHAPE)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(image), original.eval()(image))


def test_running_the_exported_file_prints_the_parameter_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = SPACE.sample(np.random.default_rng(4))
    path = tmp_path / "model.py"
    path.write_text(export_pytorch_source(SPACE, arch, INPUT_SHAPE, 10), encoding="utf-8")
    runpy.run_path(str(path), run_name="__main__")
    parameters = sum(p.numel() for p in SPACE.build(arch, INPUT_SHAPE, 10).parameters())
    assert capsys.readouterr().out.strip() == (
        f"parameters: {parameters}, output shape on a random batch: (2, 10)"
    )


def test_export_refuses_invalid_architectures_and_spaces_without_exporter(toy_space: SearchSpace) -> None:
    arch = SPACE.sample(np.random.default_rng(5))
    with pytest.raises(InvalidArchitectureError):
        export_pytorch_source(SPACE, Architecture("nasrl_cnn", arch.values[:-1]), INPUT_SHAPE, 10)
    with pytest.raises(ConfigError, match="'toy' has no PyTorch exporter"):
        export_pytorch_source(toy_space, toy_space.sample(np.random.default_rng(0)), INPUT_SHAPE, 10)
    assert isinstance(SPACE, ExportsSource) and not isinstance(toy_space, ExportsSource)


def test_json_export_records_everything_needed_to_rebuild_the_architecture() -> None:
    arch = SPACE.sample(np.random.default_rng(6))
    text = export_json(SPACE, arch)
    record = json.loads(text)
    assert record["space"] == "nasrl_cnn"
    assert NasRLCNNSpace(**record["config"]) == SPACE
    assert Architecture.from_dict(record) == arch
    assert record["encoded"] == SPACE.encode(arch)
    assert SPACE.decode(record["encoded"]) == arch
    assert text.startswith("{\n  ")


def test_json_export_refuses_an_architecture_of_another_space() -> None:
    with pytest.raises(InvalidArchitectureError, match="not 'nasrl_cnn'"):
        export_json(SPACE, Architecture("nb201", (1, 2, 3)))
