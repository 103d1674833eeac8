from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.core import Architecture, Decision, Result, SearchSpace
from archsearch.errors import ConfigError
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.reinforce import Reinforce, reinforce_loss
from conftest import ToyLayerSpace, fraction_3x3


class OneChoiceSpace(SearchSpace):
    name = "one"

    def decisions(self, prefix):
        return None if prefix else Decision("op", "op", ("a", "b", "c"))

    def kinds(self):
        return {"op": Decision("op", "op", ("a", "b", "c"))}

    def encode(self, arch):
        return arch.values[0]

    def decode(self, text):
        return Architecture("one", (text,))

    def config(self):
        return {}


def test_gradient_equals_hand_computed_reinforce_estimate():
    """For one softmax decision, d log p_k / d logits = onehot(k) - p, so the head-bias gradient of the
    loss is -(1/m) sum_k (R_k - b)(onehot(k) - p)."""
    space = OneChoiceSpace()
    strategy = Reinforce(space, seed=1, batch_size=3, init_range=0.3)
    ctrl = strategy.controller
    picks, rewards, baseline = ["a", "c", "c"], torch.tensor([0.9, 0.2, 0.5]), 0.4
    traces = [ctrl.walk(space, (v,)) for v in picks]
    ctrl.zero_grad()
    reinforce_loss(torch.stack([t.log_prob for t in traces]), rewards, baseline).backward()
    with torch.no_grad():
        h, _ = ctrl._step(ctrl.start, [(torch.zeros(1, 35), torch.zeros(1, 35))] * 2)
        p = torch.softmax(ctrl.heads["op"](h)[0], dim=-1)
    expected = torch.zeros(3)
    for v, r in zip(picks, rewards, strict=True):
        expected -= (r - baseline) * (torch.nn.functional.one_hot(torch.tensor("abc".index(v)), 3) - p) / 3
    assert torch.allclose(ctrl.heads["op"].bias.grad, expected, atol=1e-6)


def test_baseline_is_initialised_by_the_first_batch_then_moving_average():
    strategy = Reinforce(OneChoiceSpace(), batch_size=2, baseline_decay=0.5)
    for reward in (1.0, 3.0):
        strategy.tell(strategy.ask(), Result(), reward)
    # b0 = mean(1, 3) = 2; then b = 0.5 * b + 0.5 * r for r in (1, 3): 1.5, 2.25
    assert strategy.baseline == pytest.approx(2.25)
    assert strategy.num_updates == 1


def _run(strategy, space, n: int) -> list[float]:
    rewards = []
    for _ in range(n):
        arch = strategy.ask()
        space.validate(arch)
        reward = fraction_3x3(arch)
        strategy.tell(arch, Result(), reward)
        rewards.append(reward)
    return rewards


def test_controller_learns_synthetic_reward_far_faster_than_random():
    space = ToyLayerSpace(num_layers=3)
    learned = _run(Reinforce(space, seed=0, lr=0.02, batch_size=4), space, 400)
    random = _run(RandomSearch(space, seed=0), space, 400)
    # random search's expected reward is 1/16; the controller must concentrate on 3x3
    assert np.mean(random[-100:]) < 0.15
    assert np.mean(learned[-100:]) > 0.6


def test_state_dict_round_trip_continues_identically():
    space = ToyLayerSpace()
    a = Reinforce(space, seed=3, lr=0.01, batch_size=2)
    _run(a, space, 9)  # leaves one result in the buffer
    b = Reinforce(space, seed=99, lr=0.01, batch_size=2)
    b.load_state_dict(a.state_dict())
    assert _run(a, space, 12) == _run(b, space, 12)
    assert a.ask() == b.ask()


def test_depth_curriculum_grows_the_sampled_networks():
    space = ToyLayerSpace(num_layers=6)
    strategy = Reinforce(space, curriculum={"start": 2, "step": 2, "every": 5})
    depths = [len(strategy.ask().values) // 3 for _ in range(20)]
    assert depths == [2] * 5 + [4] * 5 + [6] * 10
    strategy.tell(Architecture("toy", ((), 3, 3, (0,), 3, 3)), Result(), 1.0)  # shorter archs score fine


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"baseline_decay": 1.0}, "baseline_decay")],
)
def test_bad_hyperparameters_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Reinforce(ToyLayerSpace(), **kwargs)


def test_curriculum_on_a_space_without_depth_is_rejected():
    with pytest.raises(ConfigError, match="depth"):
        Reinforce(OneChoiceSpace(), curriculum={"start": 1})
