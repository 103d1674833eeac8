"""NB201Space: decisions, the NB201 string both ways, the official index, and the torch network."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.core import Architecture
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.nb201 import EDGE_NAMES, NUM_ARCHS, OPS, NB201Space

# 757 rows of the benchmark's own index, shipped with the tests (tests/real_data/SOURCE.md).
SHIPPED_CSV = Path(__file__).resolve().parents[1] / "real_data" / "nb201_index.csv"
# All 15,625 rows, where a checkout has ../shared beside it: extra coverage, never needed.
SHARED_CSV = Path(__file__).resolve().parents[3] / "shared/benchmarks/nb201-merged/nb201_cifar10.csv"
BENCHMARK_TABLES = [pytest.param(SHIPPED_CSV, 757, id="shipped-slice")] + (
    [pytest.param(SHARED_CSV, NUM_ARCHS, id="shared-full")] if SHARED_CSV.exists() else []
)
ARCH_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def packaged_codes() -> np.ndarray:
    from archsearch.evaluators.nb201_table import packaged_arrays

    return packaged_arrays()["arch_code"]


def test_six_op_decisions_named_by_edge_share_one_kind() -> None:
    space = NB201Space()
    values: list[str] = []
    names = []
    while (decision := space.decisions(tuple(values))) is not None:
        assert decision.kind == "op" and decision.choices == OPS
        names.append(decision.name)
        values.append(OPS[0])
    assert (
        names == ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"] == list(EDGE_NAMES)
    )
    assert set(space.kinds()) == {"op"}
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def test_index_zero_is_the_benchmark_cell_421211() -> None:
    space = NB201Space()
    arch = space.from_index(0)
    assert space.encode(arch) == ARCH_0
    assert space.code(arch) == "421211"
    assert arch.values == (
        "avg_pool_3x3",
        "nor_conv_1x1",
        "skip_connect",
        "nor_conv_1x1",
        "skip_connect",
        "skip_connect",
    )


def test_string_index_and_code_round_trip_for_all_cells() -> None:
    space = NB201Space()
    codes = packaged_codes()
    seen = set()
    for index in range(NUM_ARCHS):
        arch = space.from_index(index)
        text = space.encode(arch)
        assert space.decode(text) == arch
        assert space.index(arch) == index
        assert int(space.code(arch), 5) == codes[index]
        seen.add(text)
    assert len(seen) == NUM_ARCHS


@pytest.mark.parametrize(("table", "row_count"), BENCHMARK_TABLES)
def test_index_matches_every_row_of_the_benchmark_table(table: Path, row_count: int) -> None:
    space = NB201Space()
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == row_count
    for row in rows:
        arch = space.from_index(int(row["arch_index"]))
        assert space.encode(arch) == row["arch_str"]
        assert space.code(arch) == row["op_code"]


def test_every_sample_is_valid_and_indexable() -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        space.validate(arch)
        assert space.from_index(space.index(arch)) == arch


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "node groups"),
        ("|none~0|+|none~0|none~1|", "node groups"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "node groups"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "needs 2 inputs"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "needs 3 inputs"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must be op~0"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "must be op~0"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "must be op~0"),
    ],
)
def test_decode_names_what_is_malformed(text: str, problem: str) -> None:
    with pytest.raises(InvalidArchitectureError, match=problem):
        NB201Space().decode(text)


def test_decode_accepts_surrounding_whitespace() -> None:
    assert NB201Space().decode(f"  {ARCH_0}\n") == NB201Space().from_index(0)


@pytest.mark.parametrize("index", [-1, NUM_ARCHS, 1.5, "3", True])
def test_from_index_rejects_what_is_not_an_index(index: object) -> None:
    with pytest.raises(InvalidArchitectureError, match="0..15624"):
        NB201Space().from_index(index)  # type: ignore[arg-type]


def test_from_index_accepts_numpy_ints() -> None:
    assert NB201Space().from_index(np.int64(0)) == NB201Space().from_index(0)


@pytest.mark.parametrize(
    "values",
    [("none",) * 5, ("none",) * 7, ("none",) * 5 + ("conv",), ["none"] * 6],
)
def test_validate_rejects_wrong_values(values: object) -> None:
    with pytest.raises(InvalidArchitectureError):
        NB201Space().validate(Architecture("nb201", values))  # type: ignore[arg-type]


def test_validate_rejects_other_spaces() -> None:
    with pytest.raises(InvalidArchitectureError, match="nasrl_cnn"):
        NB201Space().index(Architecture("nasrl_cnn", ("none",) * 6))


def test_config_recreates_the_space() -> None:
    space = NB201Space(channels=8, cells_per_stage=2)
    assert NB201Space(**space.config()) == space
    assert space != NB201Space()
    assert hash(NB201Space()) == hash(NB201Space(16, 5))


@pytest.mark.parametrize("options", [{"channels": 0}, {"cells_per_stage": 2.0}, {"channels": True}])
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        NB201Space(**options)  # type: ignore[arg-type]


# -- the torch network ---------------------------------------------------------------------------


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("index", "num_classes", "params"),
    # params_mb x 10**6 of the benchmark tables (cifar10 / cifar100 / ImageNet16-120); 296 is a cell whose
    # seed records disagree and whose first record (0.101306) is not its count.
    [(0, 10, 129306), (1, 100, 808276), (6111, 120, 1080616), (296, 10, 129306)],
)
def test_paper_network_has_the_benchmarks_parameter_count(index: int, num_classes: int, params: int) -> None:
    space = NB201Space()
    assert parameter_count(space.build(space.from_index(index), (3, 32, 32), num_classes)) == params


def test_packaged_parameter_counts_equal_the_built_networks() -> None:
    from archsearch.evaluators.nb201_table import load_table

    space = NB201Space()
    for dataset, num_classes in (("cifar10", 10), ("cifar100", 100), ("imagenet16", 120)):
        table = load_table(dataset)
        for index in (296, 737):
            model = space.build(space.from_index(index), (3, 16, 16), num_classes)
            assert parameter_count(model) == round(table.params_mb[index] * 1e6)


def test_small_network_gives_one_logit_per_class() -> None:
    space = NB201Space(channels=4, cells_per_stage=1)
    torch.manual_seed(0)
    model = space.build(space.from_index(1), (3, 16, 16), 7)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    out.sum().backward()


def test_cell_of_none_everywhere_still_runs() -> None:
    space = NB201Space(channels=4, cells_per_stage=1)
    model = space.build(space.decode(ALL_NONE), (1, 8, 8), 3)
    out = model(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()


def test_odd_image_sizes_line_up_in_the_residual_reduction() -> None:
    space = NB201Space(channels=4, cells_per_stage=1)
    model = space.build(space.from_index(6111), (3, 7, 9), 5)
    assert model(torch.randn(2, 3, 7, 9)).shape == (2, 5)


def test_module_spec_is_plain_data() -> None:
    space = NB201Space(channels=8, cells_per_stage=2)
    spec = space.module_spec(space.decode(ALL_NONE), (3, 32, 32), 10)
    assert spec == {
        "in_channels": 3,
        "num_classes": 10,
        "channels": 8,
        "cells_per_stage": 2,
        "ops": ["none"] * 6,
    }


@pytest.mark.parametrize(("shape", "classes"), [((3, 32), 10), ((3, 0, 32), 10), ((3, 32, 32), 0)])
def test_build_rejects_bad_shapes(shape: tuple[int, ...], classes: int) -> None:
    with pytest.raises(ConfigError):
        NB201Space().build(NB201Space().from_index(0), shape, classes)
