"""ENAS (SPEC.md 3.3): the controller learns the rewarding sub-network of a toy supernet, the SGDR schedule,
reading the marginals or deriving leaves training untouched, exact resume."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot import make_method, make_supernet
from archsearch.oneshot.enas import ENAS, EdgeChoiceSpace, cosine_restarts_lr
from oneshot.toy_supernet import ToySupernet, assert_resumes_identically, image_batches, toy_batch


def test_edge_choice_space_is_one_op_decision_per_edge():
    space = EdgeChoiceSpace(edges=3, num_ops=5)
    assert [space.decisions((0,) * k).name for k in range(3)] == ["edge0", "edge1", "edge2"]
    assert space.decisions((0, 0, 0)) is None
    assert space.kinds()["op"].choices == (0, 1, 2, 3, 4)
    assert space.decode(space.encode(space.decode("4,0,2"))).values == (4, 0, 2)


def test_controller_reward_improves_and_it_prefers_the_informative_ops():
    generator = torch.Generator().manual_seed(0)
    # ten times the paper's controller lr, so that 150 steps show learning
    method = ENAS(
        ToySupernet(edges=4, ops=3), seed=0, total_steps=150, controller_lr=0.0035, controller_steps=1
    )
    rewards = [method.step(toy_batch(generator), toy_batch(generator))["reward"] for _ in range(150)]
    assert np.mean(rewards[-40:]) > np.mean(rewards[:40]) + 0.1
    assert (method.probabilities()[:, 0] > 0.5).all()
    assert method.derived_choice().tolist() == [0, 0, 0, 0]


def test_controller_logits_are_shaped_as_in_the_cifar_micro_code():
    # c = 1.1 bounds every logit, so with 3 ops no op's probability can pass e^1.1 / (e^1.1 + 2 e^-1.1)
    bound = math.exp(1.1) / (math.exp(1.1) + 2 * math.exp(-1.1))
    peaks = {}
    for tanh_constant in (1.1, None):
        generator = torch.Generator().manual_seed(0)
        method = ENAS(
            ToySupernet(edges=2, ops=3),
            seed=0,
            total_steps=60,
            controller_lr=0.05,
            controller_steps=1,
            controller_tanh_constant=tanh_constant,
        )
        for _ in range(60):
            method.step(toy_batch(generator, edges=2), toy_batch(generator, edges=2))
        with torch.no_grad():  # every conditional choice probability, exactly
            log_p = {
                values: method.controller.walk(method.edge_space, values).log_prob.item()
                for values in [(a,) for a in range(3)] + [(a, b) for a in range(3) for b in range(3)]
            }
        peaks[tanh_constant] = max(
            math.exp(lp - (log_p[values[:1]] if len(values) == 2 else 0.0)) for values, lp in log_p.items()
        )
    assert ENAS(ToySupernet(), seed=0).controller.tanh_constant == 1.1  # the default
    assert 0.6 < peaks[1.1] <= bound + 1e-6 < peaks[None]


def test_paper_controller_steps_are_spread_over_the_epoch():
    method = ENAS(ToySupernet(), seed=0, total_steps=600, steps_per_epoch=281)
    counts = [method.controller_steps_at(step) for step in range(2 * 281)]
    assert sum(counts[:281]) == sum(counts[281:]) == 2000  # the paper's 2,000 per pass over the data
    assert set(counts) == {7, 8}
    fixed = ENAS(ToySupernet(), seed=0, steps_per_epoch=281, controller_steps=3)
    assert {fixed.controller_steps_at(step) for step in range(300)} == {3}


def test_minibatches_without_a_controller_step_leave_the_controller_alone():
    generator = torch.Generator().manual_seed(1)
    method = ENAS(ToySupernet(), seed=0, total_steps=8, steps_per_epoch=4, controller_steps_per_epoch=1)
    before = copy.deepcopy(method.controller.state_dict())
    unchanged = lambda: all(  # noqa: E731
        torch.equal(before[k], v) for k, v in method.controller.state_dict().items()
    )
    for expected in (0, 0, 0):
        metrics = method.step(toy_batch(generator), toy_batch(generator))
        assert metrics["controller_steps"] == expected and 0.0 <= metrics["valid_acc"] <= 1.0
        assert unchanged()
    assert method.step(toy_batch(generator), toy_batch(generator))["controller_steps"] == 1
    assert not unchanged()


def test_sgdr_schedule_restarts_after_10_then_20_epochs():
    lr = lambda step: cosine_restarts_lr(step, 100, 0.05, 0.0005, 10, 2)  # noqa: E731
    assert lr(0) == pytest.approx(0.05)
    assert lr(500) == pytest.approx(0.0005 + 0.5 * 0.0495)  # half-way through the first 10 epochs
    assert lr(999) < 0.001
    assert lr(1000) == pytest.approx(0.05)  # restart, then a period of 20 epochs
    assert lr(2000) == pytest.approx(0.0005 + 0.5 * 0.0495)
    assert lr(3000) == pytest.approx(0.05)


def test_reading_marginals_and_deriving_do_not_change_the_trajectory():
    generator = torch.Generator().manual_seed(3)
    batches = [toy_batch(generator) for _ in range(8)]
    hyper = {"total_steps": 4, "marginal_samples": 10, "controller_steps": 1}
    plain = ENAS(ToySupernet(), seed=4, **hyper)
    plain_metrics = [plain.step(batches[2 * i], batches[2 * i + 1]) for i in range(4)]
    peeking = ENAS(ToySupernet(), seed=4, **hyper)
    peeking_metrics = []
    for i in range(4):
        peeking_metrics.append(peeking.step(batches[2 * i], batches[2 * i + 1]))
        peeking.probabilities()
        peeking.derive()
    assert peeking_metrics == plain_metrics
    assert np.array_equal(peeking.probabilities(), plain.probabilities())
    assert peeking.probabilities().sum(axis=1) == pytest.approx(np.ones(4))


def test_state_dict_round_trip_gives_identical_next_steps():
    hyper = {"total_steps": 10, "controller_steps": 2, "marginal_samples": 10}
    assert_resumes_identically(
        lambda seed: make_method(
            "enas", make_supernet("nb201", (1, 8, 8), 3, channels=2), seed=seed, **hyper
        ),
        image_batches(6),
    )


def test_bad_hyper_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="baseline_decay"):
        ENAS(ToySupernet(), seed=0, baseline_decay=1.0)
    with pytest.raises(ConfigError, match="controller_steps"):
        ENAS(ToySupernet(), seed=0, controller_steps=0)
    with pytest.raises(ConfigError, match="not both"):
        ENAS(ToySupernet(), seed=0, controller_steps=1, controller_steps_per_epoch=2000)
    with pytest.raises(ConfigError, match="controller_tanh_constant"):
        ENAS(ToySupernet(), seed=0, controller_tanh_constant=0)
