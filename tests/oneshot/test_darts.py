"""DARTS (SPEC.md 3.4): the finite-difference Hessian-vector product and the unrolled gradient against
autograd, the discretisation of given alphas, learning on a toy supernet, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot import make_method, make_supernet
from archsearch.oneshot.darts import DARTS, finite_difference_hvp, second_order_alpha_gradient
from oneshot.toy_supernet import ToySupernet, assert_resumes_identically, image_batches, toy_batch


def tiny_problem(seed: int) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights (a 3x4 and a 4x2 matrix), alphas over 3 ops and one batch, all float64."""
    generator = torch.Generator().manual_seed(seed)
    weights = [
        torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True),
        torch.randn(4, 2, generator=generator, dtype=torch.float64, requires_grad=True),
    ]
    alpha = torch.randn(3, generator=generator, dtype=torch.float64, requires_grad=True)
    x = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    y = torch.randn(5, 2, generator=generator, dtype=torch.float64)
    return weights, alpha, x, y


def mixed_loss(
    weights: list[torch.Tensor], alpha: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """A mixed op of three paths (tanh, sin, identity) weighted by softmax(alpha), then a linear map."""
    mix = torch.softmax(alpha, dim=0)
    hidden = x @ weights[0]
    hidden = mix[0] * torch.tanh(hidden) + mix[1] * torch.sin(hidden) + mix[2] * hidden
    return ((hidden @ weights[1] - y) ** 2).mean()


def test_finite_difference_hvp_matches_autograd_double_backward():
    weights, alpha, x, y = tiny_problem(0)
    generator = torch.Generator().manual_seed(3)
    vector = [torch.randn(w.shape, generator=generator, dtype=w.dtype) for w in weights]
    before = [w.detach().clone() for w in weights]

    approx = finite_difference_hvp(lambda: mixed_loss(weights, alpha, x, y), weights, [alpha], vector)

    gradients = torch.autograd.grad(mixed_loss(weights, alpha, x, y), weights, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(gradients, vector, strict=True))
    (exact,) = torch.autograd.grad(dot, [alpha])
    # central differences with eps = 0.01 / ||v|| leave an O(eps^2) error: a few 1e-4 of the largest entry
    assert (approx[0] - exact).abs().max() <= 1e-3 * exact.abs().max()
    assert exact.abs().max() > 1e-3  # the check is not vacuous
    assert all(torch.equal(w, b) for w, b in zip(weights, before, strict=True))


def test_second_order_gradient_matches_autograd_through_the_unrolled_step():
    weights, alpha, x_train, y_train = tiny_problem(1)
    _, _, x_valid, y_valid = tiny_problem(2)
    xi = 0.05
    before = [w.detach().clone() for w in weights]

    (approx,), valid_loss = second_order_alpha_gradient(
        lambda: mixed_loss(weights, alpha, x_train, y_train),
        lambda: mixed_loss(weights, alpha, x_valid, y_valid),
        weights,
        [alpha],
        xi,
    )

    # exact: d/d alpha of L_val(w - xi grad_w L_train(w, alpha), alpha), differentiating through the step
    gradients = torch.autograd.grad(mixed_loss(weights, alpha, x_train, y_train), weights, create_graph=True)
    unrolled = [w - xi * g for w, g in zip(weights, gradients, strict=True)]
    exact_loss = mixed_loss(unrolled, alpha, x_valid, y_valid)
    (exact,) = torch.autograd.grad(exact_loss, [alpha])
    (first_order,) = torch.autograd.grad(mixed_loss(weights, alpha, x_valid, y_valid), [alpha])
    assert approx == pytest.approx(exact, rel=1e-4, abs=1e-8)
    assert float(valid_loss) == pytest.approx(float(exact_loss.detach()))
    assert not torch.allclose(first_order, exact, rtol=1e-2)  # the second-order term matters here
    assert all(torch.equal(w, b) for w, b in zip(weights, before, strict=True))


def test_nb201_discretisation_is_the_argmax_of_each_edge_none_included():
    supernet = make_supernet("nb201", (1, 8, 8), 3, channels=2)
    weights = np.full((6, 5), 0.1)
    strongest = [0, 3, 1, 4, 2, 0]
    weights[np.arange(6), strongest] = 0.6
    assert supernet.derive(weights).tolist() == strongest
    assert supernet.to_architecture(supernet.derive(weights)).values[0] == "none"


def test_darts_discretisation_keeps_the_two_strongest_non_none_edges_of_each_node():
    supernet = make_supernet("darts", (1, 8, 8), 3, channels=2)
    ops = supernet.op_names  # none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, ...
    weights = np.full((28, 8), 0.05)
    # normal cell, node 1 = edges 2, 3, 4 from states 0, 1, 2: edge 2 is mostly none (strength .1),
    # edge 3 strongest sep_conv_5x5 (.3), edge 4 strongest skip_connect (.2) -> keep states 1 and 2
    weights[2, ops.index("none")] = 0.8
    weights[2, ops.index("max_pool_3x3")] = 0.1
    weights[3, ops.index("sep_conv_5x5")] = 0.3
    weights[4, ops.index("skip_connect")] = 0.2
    # normal cell, node 3 = edges 9..13 from states 0..4: states 4 and 0 win with dil_conv_3x3 / avg_pool
    weights[13, ops.index("dil_conv_3x3")] = 0.7
    weights[9, ops.index("avg_pool_3x3")] = 0.6
    weights[9, ops.index("none")] = 0.9  # none never counts
    choice = supernet.derive(weights)

    normal = supernet.to_architecture(choice)
    space = supernet.space()
    cells = space.cells_of(normal)
    node1, node3 = cells["normal"][1], cells["normal"][3]
    assert (node1.input_a, node1.op_a, node1.input_b, node1.op_b) == (1, "sep_conv_5x5", 2, "skip_connect")
    assert (node3.input_a, node3.op_a, node3.input_b, node3.op_b) == (0, "avg_pool_3x3", 4, "dil_conv_3x3")
    # all ties elsewhere: the two earliest states, each with the first non-none op
    assert all((b.input_a, b.input_b, b.op_a, b.op_b) == (0, 1, ops[1], ops[1]) for b in cells["reduction"])
    assert (choice != 0).sum() == 2 * 2 * 4  # two edges per node, four nodes, two cells
    # the derived architecture is a darts_cell architecture the normal evaluator can build and train
    assert space.build(normal, (1, 8, 8), 3)(torch.randn(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize("order", [1, 2])
def test_alpha_moves_to_the_informative_op_of_the_toy_supernet(order):
    generator = torch.Generator().manual_seed(0)
    method = DARTS(ToySupernet(edges=4, ops=3), seed=0, order=order, total_steps=60)
    for _ in range(60):
        method.step(toy_batch(generator), toy_batch(generator))
    probabilities = method.probabilities()
    # alpha starts at zero (all ops equal), so only a strict lead of op 0 shows learning
    assert (probabilities[:, 0] > probabilities[:, 1:].max(axis=1) + 1e-3).all(), probabilities
    assert method.derived_choice().tolist() == [0, 0, 0, 0]


def test_state_dict_round_trip_gives_identical_next_steps():
    assert_resumes_identically(
        lambda seed: make_method(
            "darts", make_supernet("nb201", (1, 8, 8), 3, channels=2), seed=seed, order=2, total_steps=10
        ),
        image_batches(6),
    )


def test_bad_order_is_a_config_error():
    with pytest.raises(ConfigError, match="order"):
        DARTS(ToySupernet(), seed=0, order=3)
    with pytest.raises(ConfigError, match="arch_betas"):
        DARTS(ToySupernet(), seed=0, arch_betas=(0.5, 1.5))
