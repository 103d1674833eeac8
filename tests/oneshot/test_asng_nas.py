"""ASNG-NAS (SPEC.md 5): the update by hand, the order of one iteration, convergence on a toy, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot import make_method, make_supernet
from archsearch.oneshot.asng_nas import ASNGNAS
from archsearch.strategies import asng_math
from oneshot.toy_supernet import ToySupernet, assert_resumes_identically, image_batches, toy_batch


def test_update_matches_hand_computed_example():
    # D = 2 edges, K = 3 ops, theta uniform, delta = 1. Samples c1 = (0, 2), c2 = (1, 1), losses 0.1 < 0.7:
    # u = (+1, -1), G = (c1 - c2) / 2 = [[.5, -.5, 0], [0, -.5, .5]].
    # ||G||_F^2 = sum G^2 / theta = 3 (.25 + .25) + 3 (.25 + .25) = 3, so theta + G / sqrt(3) =
    # [[.622008, .044658, .333333], [.333333, .044658, .622008]].
    # theta_min = 1 / (D (K - 1)) = 1/4. Row 0: max -> [.622008, .25, .333333], sum 1.205342,
    # spare = 1.205342 - 3/4 = .455342, shrink = .205342 / .455342 = .450962,
    # row - shrink (row - 1/4) = [.454247, .25, .295753]; row 1 is its mirror image.
    # Step size: N = 2 (3 - 1) = 4, beta = 1 / sqrt(4) = .5, gamma = beta (2 - beta) = .75,
    # s = sqrt(.75) F^{1/2} G / ||G||_F has ||s||^2 = .75, delta = exp(.5 (.75 / 1.5 - .75)) = exp(-.125).
    method = ASNGNAS(ToySupernet(edges=2, ops=3), seed=0)
    method.update(np.array([[0, 2], [1, 1]]), np.array([0.1, 0.7]))
    expected = np.array([[0.454247, 0.25, 0.295753], [0.295753, 0.25, 0.454247]])
    assert method.probabilities() == pytest.approx(expected, abs=1e-6)
    assert method.step_size.delta == pytest.approx(0.882497, abs=1e-6)
    assert method.step_size.gamma == pytest.approx(0.75)
    assert float(method.step_size.s @ method.step_size.s) == pytest.approx(0.75)


def test_a_tie_leaves_the_distribution_unchanged():
    method = ASNGNAS(ToySupernet(edges=2, ops=3), seed=0)
    method.update(np.array([[0, 2], [1, 1]]), np.array([0.4, 0.4]))
    assert method.probabilities() == pytest.approx(np.full((2, 3), 1 / 3))
    assert method.step_size.delta == 1.0


def test_one_step_trains_on_both_samples_then_ranks_them_with_the_new_weights():
    generator = torch.Generator().manual_seed(0)
    train, valid = toy_batch(generator), toy_batch(generator)
    supernet = ToySupernet()
    method = ASNGNAS(supernet, seed=3, momentum=0.0, weight_decay=0.0, grad_clip=1e9, total_steps=10**9)
    # the same two samples the method draws, then by hand: w <- w - lr (1/2) sum_i grad f(w, c_i; train)
    rng = np.random.default_rng(3)
    samples = [asng_math.sample_indices(method.theta, rng) for _ in range(2)]
    reference = ToySupernet()
    losses = [
        torch.nn.functional.cross_entropy(reference(train[0], choice=torch.tensor(c)), train[1])
        for c in samples
    ]
    (gradient,) = torch.autograd.grad(sum(losses) / 2, [reference.scale])
    with torch.no_grad():
        reference.scale -= 0.025 * gradient
        valid_losses = np.array(
            [
                float(
                    torch.nn.functional.cross_entropy(reference(valid[0], choice=torch.tensor(c)), valid[1])
                )
                for c in samples
            ]
        )
    theta, _ = asng_math.asng_step(
        asng_math.uniform_theta(supernet.num_choices()),
        asng_math.StepSize.initial(8),
        asng_math.one_hot(np.array(samples), supernet.num_choices()),
        valid_losses,
        supernet.num_choices(),
    )

    metrics = method.step(train, valid)

    assert supernet.scale.detach() == pytest.approx(reference.scale.detach(), abs=1e-7)
    assert method.probabilities() == pytest.approx(theta)
    assert metrics["valid_loss"] == pytest.approx(valid_losses.mean(), rel=1e-6)
    assert metrics["train_loss"] == pytest.approx(float(sum(losses).detach()) / 2, rel=1e-6)


def test_distribution_converges_to_the_optimum_of_the_toy_problem():
    generator = torch.Generator().manual_seed(1)
    method = ASNGNAS(ToySupernet(edges=4, ops=3), seed=1, total_steps=600)
    for _ in range(600):  # about 160 steps with this seed, 70 to 210 with others
        method.step(toy_batch(generator), toy_batch(generator))
        if method.converged():
            break
    assert method.converged(), method.probabilities().round(2)
    assert method.derived_choice().tolist() == [0] * 4
    # converged means at the ceiling that clipping allows: 1 - (K - 1) theta_min, theta_min = 1 / (4 * 2)
    assert method.probabilities()[:, 0] == pytest.approx(1 - 2 / 8, abs=1e-3)


def test_not_converged_at_the_start():
    assert not ASNGNAS(ToySupernet(), seed=0).converged()


def test_state_dict_round_trip_gives_identical_next_steps():
    assert_resumes_identically(
        lambda seed: make_method(
            "asng", make_supernet("nb201", (1, 8, 8), 3, channels=2), seed=seed, total_steps=20
        ),
        image_batches(6),
    )


def test_bad_hyper_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="lam"):
        ASNGNAS(ToySupernet(), seed=0, lam=1)
    with pytest.raises(ConfigError, match="alpha"):
        make_method("asng", ToySupernet(), seed=0, alpha=-1.0)
    with pytest.raises(ConfigError, match="unknown one-shot method"):
        make_method("nope", ToySupernet(), seed=0)
