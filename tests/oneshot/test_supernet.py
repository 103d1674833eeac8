"""Supernets of the NB201 and DARTS cell spaces: shapes, only the chosen paths run, mixed op = chosen op."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot.supernet import MixedEdge, make_supernet
from archsearch.spaces.nasnet_cell.supernet import DartsSupernet
from archsearch.spaces.nb201 import NB201Space
from archsearch.spaces.nb201.supernet import NB201Supernet

INPUT = (1, 8, 8)


def count_calls(supernet: torch.nn.Module) -> dict[tuple[int, int, int], int]:
    """Forward hooks on every candidate op: (mixed edge number, edge, op) -> calls so far."""
    calls: dict[tuple[int, int, int], int] = {}
    edges = [m for m in supernet.modules() if isinstance(m, MixedEdge)]
    for number, edge in enumerate(edges):
        for k, op in enumerate(edge.ops):
            key = (number, number, k)
            calls[key] = 0

            def hook(*_: object, key: tuple[int, int, int] = key) -> None:
                calls[key] += 1

            op.register_forward_hook(hook)
    return calls


def edge_of(supernet: torch.nn.Module, number: int) -> int:
    """The supernet edge (choice position) of the ``number``-th MixedEdge module."""
    if isinstance(supernet, NB201Supernet):
        return number % supernet.edges
    assert isinstance(supernet, DartsSupernet)
    cell, position = divmod(number, supernet.cell_edges)
    return position + (supernet.cell_edges if supernet.search_cells[cell].reduction else 0)


@pytest.fixture(scope="module")
def supernets() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "nb201": make_supernet("nb201", INPUT, 3, channels=2, cells_per_stage=1),
        "darts": make_supernet("darts", INPUT, 3, channels=2, cells=1),
    }


def test_shapes_and_structure(supernets):
    nb201, darts = supernets["nb201"], supernets["darts"]
    assert (nb201.edges, nb201.op_names) == (
        6,
        ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"),
    )
    assert darts.edges == 28 and len(darts.op_names) == 8 and "none" in darts.op_names
    assert [cell.reduction for cell in darts.search_cells] == [False, True, False, True, False]
    x = torch.randn(4, *INPUT)
    for net in (nb201, darts):
        choice = torch.randint(0, len(net.op_names), (net.edges,))
        weights = torch.softmax(torch.randn(net.edges, len(net.op_names)), dim=1)
        assert net(x, choice=choice).shape == (4, 3)
        assert net(x, weights=weights).shape == (4, 3)
        with pytest.raises(ValueError, match="exactly one"):
            net(x)
        with pytest.raises(ValueError, match="op indices"):
            net(x, choice=torch.zeros(net.edges + 1, dtype=torch.long))


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_only_the_chosen_op_of_each_edge_runs_and_gets_gradients(supernets, space):
    net = supernets[space]
    calls = count_calls(net)
    choice = np.random.default_rng(1).integers(0, len(net.op_names), net.edges)
    if space == "nb201":  # convolutions on the path to the output
        choice = np.array([3, 2, 0, 2, 4, 3])
    net.zero_grad(set_to_none=True)
    net(torch.randn(2, *INPUT), choice=torch.as_tensor(choice)).sum().backward()
    for (number, _, k), count in calls.items():
        chosen = k == choice[edge_of(net, number)] and net.op_names[k] != "none"
        assert count == (1 if chosen else 0), (number, k)
    # ops not chosen get no gradient (a chosen op may get none either, when none-edges cut it off)
    edges = [m for m in net.modules() if isinstance(m, MixedEdge)]
    with_grad = set()
    for number, edge in enumerate(edges):
        for k, op in enumerate(edge.ops):
            for parameter in op.parameters():
                if parameter.grad is not None:
                    with_grad.add((number, k))
    assert with_grad
    assert all(k == choice[edge_of(net, number)] for number, k in with_grad)


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_mixed_op_runs_every_path_and_one_hot_weights_equal_the_choice(supernets, space):
    net = supernets[space]
    calls = count_calls(net)
    choice = np.random.default_rng(2).integers(0, len(net.op_names), net.edges)
    one_hot = torch.nn.functional.one_hot(torch.as_tensor(choice), len(net.op_names)).float()
    x = torch.randn(3, *INPUT)
    with torch.no_grad():
        mixed = net(x, weights=one_hot)
    assert all(count == (0 if net.op_names[k] == "none" else 1) for (_, _, k), count in calls.items())
    with torch.no_grad():
        assert torch.allclose(mixed, net(x, choice=torch.as_tensor(choice)), atol=1e-6)


def test_nb201_choice_is_an_architecture_the_table_can_score(supernets):
    arch = supernets["nb201"].to_architecture([3, 1, 0, 2, 4, 3])
    space = NB201Space()
    assert space.encode(arch) == (
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    )
    assert 0 <= space.index(arch) < 15_625


def test_a_node_with_only_none_inputs_is_zero_so_the_cell_cuts_the_signal():
    torch.manual_seed(0)
    net = make_supernet("nb201", INPUT, 3, channels=2)
    x = torch.randn(4, *INPUT)
    with torch.no_grad():
        logits = net(x, choice=torch.zeros(6, dtype=torch.long))
    # every cell outputs zeros: all examples get the classifier's bias
    assert torch.allclose(logits, net.classifier.bias.expand(4, -1))


def test_darts_choice_with_a_node_missing_an_input_is_rejected(supernets):
    with pytest.raises(ValueError, match="exactly 2 non-none"):
        supernets["darts"].to_architecture(np.zeros(28, dtype=int))


def test_bad_supernet_requests_are_config_errors():
    with pytest.raises(ConfigError, match="unknown supernet space"):
        make_supernet("nasrl", INPUT, 3)
    with pytest.raises(ConfigError, match="channels"):
        make_supernet("nb201", INPUT, 3, channels=0)
    with pytest.raises(ConfigError, match="input_shape"):
        make_supernet("darts", (8, 8), 3)
    with pytest.raises(ConfigError, match="width"):
        make_supernet("nb201", INPUT, 3, width=4)
