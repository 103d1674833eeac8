"""The NASNet and DARTS cell spaces: decisions, encoding, validation, the built network, controllers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.controllers.lstm import LSTMController
from archsearch.core import Architecture
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.registry import construct
from archsearch.spaces.cell_ops import DARTS_OPS, NASNET_OPS
from archsearch.spaces.nasnet_cell import Block, DartsCellSpace, NASNetCellSpace
from archsearch.strategies.mutation import mutate

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NASNET = NASNetCellSpace()
DARTS = DartsCellSpace()
SMALL_IMAGE = (1, 8, 8)

# DARTS_V2 from the DARTS code (cnn/genotypes.py): each node's two (op, input) pairs.
DARTS_V2_NORMAL = [
    Block(0, 1, "sep_conv_3x3", "sep_conv_3x3"),
    Block(0, 1, "sep_conv_3x3", "sep_conv_3x3"),
    Block(1, 0, "sep_conv_3x3", "skip_connect"),
    Block(0, 2, "skip_connect", "dil_conv_3x3"),
]
DARTS_V2_REDUCTION = [
    Block(0, 1, "max_pool_3x3", "max_pool_3x3"),
    Block(2, 1, "skip_connect", "max_pool_3x3"),
    Block(0, 2, "max_pool_3x3", "skip_connect"),
    Block(2, 1, "skip_connect", "max_pool_3x3"),
]


def samples(space: NASNetCellSpace, count: int, seed: int = 0) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(count)]


def test_paper_space_has_50_decisions_and_block_b_chooses_among_2_plus_b_states() -> None:
    decisions = list(NASNET.walk(samples(NASNET, 1)[0].values))
    assert len(decisions) == 2 * 5 * 5  # 2 cells x B = 5 blocks x 5 decisions (SPEC 3.1)
    assert [d.name for d in decisions[:5]] == [
        "normal.block0.input_a",
        "normal.block0.input_b",
        "normal.block0.op_a",
        "normal.block0.op_b",
        "normal.block0.combine",
    ]
    assert decisions[25].name == "reduction.block0.input_a"
    for b in range(5):
        assert NASNET.kinds()[f"input{b}"].choices == tuple(range(2 + b))
    assert NASNET.kinds()["op"].choices == tuple(range(13)) and NASNET.operations == NASNET_OPS
    assert NASNET.kinds()["combine"].choices == (0, 1) and NASNET.combinations == ("add", "concat")


def test_darts_space_has_4_blocks_of_4_decisions_the_ops_without_none_and_add_only() -> None:
    assert len(DARTS.kinds()) == 4 + 1  # input0..input3 and op; no combine decision
    assert DARTS.operations == tuple(op for op in DARTS_OPS if op != "none")
    assert len(samples(DARTS, 1)[0].values) == 2 * 4 * 4
    assert DARTS.cell_output == "all" and DARTS.combinations == ("add",)


@pytest.mark.parametrize("space", [NASNET, DARTS], ids=["nasnet", "darts"])
def test_encode_decode_round_trip_and_json(space: NASNetCellSpace) -> None:
    for arch in samples(space, 20):
        text = space.encode(arch)
        assert space.decode(text) == arch
        assert Architecture.from_json(arch.to_json()) == arch
        assert space.from_cells(*space.cells_of(arch).values()) == arch


def test_encoding_reads_as_inputs_ops_and_combinations() -> None:
    text = (
        "normal: 1:sep_conv_3x3 + 0:identity, 2:max_pool_3x3 || 1:conv_1x1, 0:avg_pool_3x3 + 3:identity, "
        "4:conv_3x3 + 2:sep_conv_5x5, 1:identity + 1:conv_1x7_7x1 | reduction: 0:sep_conv_7x7 + "
        "1:max_pool_5x5, 2:identity + 0:dil_conv_3x3, 3:max_pool_7x7 || 1:conv_1x3_3x1, 0:identity + "
        "4:sep_conv_3x3, 2:avg_pool_3x3 + 5:identity"
    )
    arch = NASNET.decode(text)
    assert NASNET.encode(arch) == text
    assert arch.values[:5] == (1, 0, NASNET_OPS.index("sep_conv_3x3"), NASNET_OPS.index("identity"), 0)
    assert NASNET.cells_of(arch)["normal"][1] == Block(2, 1, "max_pool_3x3", "conv_1x1", "concat")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("normal: 1:identity + 0:identity", "1 ' | '-separated cells, not 2"),
        ("reduction: 0:identity + 0:identity | normal: 0:identity + 0:identity", "must start with 'normal:'"),
        ("normal: 1:identity - 0:identity | reduction: 0:identity + 0:identity", "normal block 0"),
        (
            ", ".join(["0:conv_9x9 + 0:identity"] * 5).join(
                ["normal: ", " | reduction: 0:identity + 1:identity"]
            ),
            "normal block 0: unknown operation 'conv_9x9'",
        ),  # fmt: skip
        (
            "normal: 0:identity + 0:identity | reduction: 0:identity + 0:identity",
            "has 1 blocks; this space has 5",
        ),
    ],
)
def test_decode_names_the_malformed_piece(text: str, message: str) -> None:
    with pytest.raises(InvalidArchitectureError, match=message.replace("|", r"\|")):
        NASNET.decode(text)


def test_validate_names_the_wrong_value() -> None:
    good = samples(NASNET, 1)[0].values
    with pytest.raises(InvalidArchitectureError, match="has 50 values .* got 49"):
        NASNET.validate(Architecture("nasnet_cell", good[:-1]))
    with pytest.raises(
        InvalidArchitectureError, match=r"normal.block0.input_a: input .* 2 is out of range 0..1"
    ):
        NASNET.validate(Architecture("nasnet_cell", (2, *good[1:])))
    with pytest.raises(InvalidArchitectureError, match="normal.block0.op_a: operation index 13"):
        NASNET.validate(Architecture("nasnet_cell", (*good[:2], 13, *good[3:])))
    with pytest.raises(InvalidArchitectureError, match="True is a bool, not an int"):
        NASNET.validate(Architecture("nasnet_cell", (True, *good[1:])))
    with pytest.raises(InvalidArchitectureError, match="of space 'darts_cell', not 'nasnet_cell'"):
        NASNET.validate(samples(DARTS, 1)[0])
    # block 2 of the reduction cell may read block 1's output (state 3), block 0 may not
    reduction_block2 = 25 + 2 * 5
    NASNET.validate(Architecture("nasnet_cell", (*good[:reduction_block2], 3, *good[reduction_block2 + 1 :])))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"channels": 7}, "channels must be even"),
        ({"blocks": 0}, "blocks must be an int >= 1"),
        ({"operations": ["sep_conv_3x3", "conv_9x9"]}, r"unknown operations \['conv_9x9'\]"),
        ({"operations": "resnet"}, "a set name"),
        ({"combinations": []}, "combinations is empty"),
        ({"combinations": ["add", "add"]}, "repeated"),
        ({"cell_output": "last"}, "cell_output must be"),
        ({"reductions": -1}, "reductions must be an int >= 0"),
    ],
)
def test_bad_options_are_config_errors_through_the_registry(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        construct("space", "nasnet-cell", params)


def test_config_recreates_the_space_and_the_registry_knows_both_spellings() -> None:
    space = construct("space", "darts-cell", {"channels": 4, "operations": ["skip_connect", "sep_conv_3x3"]})
    assert isinstance(space, DartsCellSpace) and space.operations == ("skip_connect", "sep_conv_3x3")
    assert DartsCellSpace(**space.config()) == space
    assert type(construct("space", "nasnet_cell", {})) is NASNetCellSpace


def cell_shapes(space: NASNetCellSpace, arch: Architecture, image: tuple[int, int, int]) -> list[tuple]:
    network = space.build(arch, image, 10)
    shapes: list[tuple] = []
    for cell in network.cells:
        cell.register_forward_hook(lambda module, inputs, output: shapes.append(tuple(output.shape[1:])))
    logits = network(torch.randn(3, *image))
    assert logits.shape == (3, 10)
    return shapes


def test_network_halves_the_map_and_doubles_channels_at_each_reduction() -> None:
    space = DartsCellSpace(cells=2, channels=4)  # DARTS's search-network layout: 8 cells
    arch = space.from_cells(DARTS_V2_NORMAL, DARTS_V2_REDUCTION)
    shapes = cell_shapes(space, arch, (3, 9, 9))
    # every cell concatenates its 4 nodes: 4 C channels; the odd map 9 reduces to 5, then 3
    assert shapes == [(16, 9, 9)] * 2 + [(32, 5, 5)] + [(32, 5, 5)] * 2 + [(64, 3, 3)] + [(64, 3, 3)] * 2


def test_nasnet_cell_concatenates_only_unused_blocks_and_concat_doubles_a_block() -> None:
    space = NASNetCellSpace(blocks=3, cells=1, channels=4, reductions=1)
    # blocks 0 and 1 read the inputs; block 2 reads block 0 (state 2), so blocks 1 and 2 are unused
    normal = [
        Block(0, 1, "conv_3x3", "identity", "concat"),
        Block(1, 1, "sep_conv_3x3", "max_pool_3x3", "concat"),
        Block(2, 0, "conv_1x1", "identity", "add"),
    ]
    reduction = [Block(0, 1, "identity", "avg_pool_3x3", "add")] * 3  # nobody reads a block: all 3 unused
    arch = space.from_cells(normal, reduction)
    shapes = cell_shapes(space, arch, SMALL_IMAGE)
    assert shapes == [(2 * 4 + 4, 8, 8), (3 * 8, 4, 4), (2 * 8 + 8, 4, 4)]


@pytest.mark.parametrize("space", [NASNET, DARTS], ids=["nasnet", "darts"])
def test_sampled_networks_run_forward_and_backward(space: NASNetCellSpace) -> None:
    for arch in samples(space, 2, seed=3):
        network = space.build(arch, SMALL_IMAGE, 10)
        loss = network(torch.randn(4, *SMALL_IMAGE)).logsumexp(1).mean()
        loss.backward()
        assert all(p.grad is not None for p in network.classifier.parameters())


def test_darts_v2_at_paper_size_has_the_darts_codes_parameter_count() -> None:
    # DARTS train.py prints "param size = 3.349342MB" for DARTS_V2 at 20 cells, 36 channels (no auxiliary)
    space = DartsCellSpace(cells=6, channels=36)
    network = space.build(space.from_cells(DARTS_V2_NORMAL, DARTS_V2_REDUCTION), (3, 32, 32), 10)
    assert len(network.cells) == 20
    assert sum(p.numel() for p in network.parameters()) == 3_349_342


def test_build_rejects_bad_shapes_with_config_errors() -> None:
    arch = samples(NASNET, 1)[0]
    with pytest.raises(ConfigError, match="input_shape must be"):
        NASNET.build(arch, (8, 8), 10)
    with pytest.raises(ConfigError, match="num_classes"):
        NASNET.build(arch, SMALL_IMAGE, 0)


@pytest.mark.parametrize("space", [NASNET, DARTS], ids=["nasnet", "darts"])
def test_lstm_controller_walks_the_space_and_scores_what_it_sampled(space: NASNetCellSpace) -> None:
    generator = torch.Generator().manual_seed(0)
    controller = LSTMController(space.kinds(), hidden_size=16, generator=generator)
    traces = [controller.walk(space, generator=generator) for _ in range(8)]
    for trace in traces:
        space.validate(Architecture(space.name, trace.values))
    log_probs, _ = controller.score(space, [trace.values for trace in traces])
    assert torch.allclose(log_probs, torch.stack([trace.log_prob for trace in traces]), atol=1e-5)
    assert len({trace.values for trace in traces}) == 8


def test_mutation_changes_one_decision_and_stays_in_the_space() -> None:
    rng = np.random.default_rng(1)
    for parent in samples(NASNET, 20, seed=2):
        child = mutate(NASNET, parent, rng)
        NASNET.validate(child)
        assert sum(a != b for a, b in zip(parent.values, child.values, strict=True)) == 1


@pytest.mark.parametrize("space", [NASNET, DARTS], ids=["nasnet", "darts"])
def test_report_draws_both_cells(space: NASNetCellSpace, tmp_path) -> None:
    from archsearch.report.plots import draw_architecture

    path = draw_architecture(space, samples(space, 1, seed=4)[0], tmp_path / "cells.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
