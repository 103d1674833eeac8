from __future__ import annotations

import pytest
import torch
from synthetic import Driver, GridSpace, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from archsearch.strategies.ppo import PPO, ppo_loss
from conftest import ToyLayerSpace, fraction_3x3


def test_clipped_surrogate_by_hand():
    # ratios e^0.5 = 1.6487, e^-0.5 = 0.6065, 1; advantages +1, +1, -2; eps 0.2
    # min(r A, clip(r) A): 1.2 (clipped), 0.6065 (unclipped, below), -2; loss = -mean = 0.0645
    new = torch.tensor([0.0, -1.0, -2.0], requires_grad=True)
    old = torch.tensor([-0.5, -0.5, -2.0])
    loss = ppo_loss(new, old, torch.tensor([1.0, 1.0, -2.0]), clip=0.2)
    assert loss.item() == pytest.approx(-(1.2 + torch.exp(torch.tensor(-0.5)).item() - 2) / 3, abs=1e-6)
    loss.backward()
    # the clipped term has no gradient; the others have -A r / 3
    assert new.grad.tolist() == pytest.approx(
        [0.0, -torch.exp(torch.tensor(-0.5)).item() / 3, 2 / 3], abs=1e-6
    )


def test_entropy_bonus_lowers_the_loss():
    args = (torch.zeros(2), torch.zeros(2), torch.tensor([1.0, -1.0]), 0.2)
    assert float(ppo_loss(*args, torch.tensor([2.0, 2.0]), 0.1)) == pytest.approx(-0.2)


def test_old_log_prob_is_the_one_at_ask_time():
    space = ToyLayerSpace(num_layers=2)
    strategy = PPO(space, seed=0, lr=0.05, batch_size=2, epochs=2, hidden_size=16)
    early = strategy.ask()
    with torch.no_grad():
        at_ask = float(strategy.controller.walk(space, early.values).log_prob)
    for _ in range(2):  # an update happens while `early` is out
        arch = strategy.ask()
        strategy.tell(arch, Result(), fraction_3x3(arch))
    assert strategy.num_updates == 1
    strategy.tell(early, Result(), 0.5)
    assert strategy.old_log_probs[0] == pytest.approx(at_ask, abs=1e-6)
    with torch.no_grad():
        assert float(strategy.controller.walk(space, early.values).log_prob) != pytest.approx(
            at_ask, abs=1e-6
        )


def test_baseline_is_initialised_by_the_first_batch_then_moving_average():
    space = GridSpace(num_decisions=1, num_choices=3)
    strategy = PPO(space, batch_size=2, baseline_decay=0.5)
    for reward in (1.0, 3.0):
        strategy.tell(strategy.ask(), Result(), reward)
    assert strategy.baseline == pytest.approx(2.25)  # b0 = 2, then 1.5, then 2.25


def test_policy_moves_towards_the_rewarded_choice():
    space = GridSpace(num_decisions=1, num_choices=3)
    strategy = PPO(space, seed=0, lr=0.05, batch_size=5, epochs=4, hidden_size=16)

    def p_first() -> float:
        with torch.no_grad():
            return float(strategy.controller.walk(space, (0,)).log_prob.exp())

    before = p_first()
    Driver(strategy, space, lambda a: float(a.values[0] == 0), in_flight=3).step(40)
    assert p_first() > before + 0.3


def test_resumes_identically_with_asks_outstanding_links_and_failures():
    space = ToyLayerSpace(num_layers=3)
    assert_resumes_identically(
        lambda seed: PPO(space, seed=seed, lr=0.02, batch_size=3, epochs=2, hidden_size=16),
        space,
        fraction_3x3,
        before=7,
        after=8,
        in_flight=3,
        fail_every=4,
    )


def test_a_result_told_without_an_ask_is_scored_under_the_current_policy():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = PPO(space, batch_size=5)
    strategy.tell(Architecture("grid", (1, 2)), Result(), 0.3)
    with torch.no_grad():
        expected = float(strategy.controller.walk(space, (1, 2)).log_prob)
    assert strategy.buffer == [((1, 2), 0.3)]
    assert strategy.old_log_probs == [pytest.approx(expected)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0}, "lr"),
        ({"clip": 1.5}, "clip"),
        ({"epochs": 0}, "epochs"),
        ({"baseline_decay": 1}, "baseline_decay"),
    ],
)
def test_bad_hyperparameters_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PPO(GridSpace(), **kwargs)


def test_depth_curriculum_grows_the_sampled_networks():
    space = ToyLayerSpace(num_layers=4)
    strategy = PPO(space, batch_size=3, hidden_size=16, curriculum={"start": 2, "step": 2, "every": 4})
    depths = []
    for _ in range(8):
        arch = strategy.ask()
        depths.append(len(arch.values) // 3)
        strategy.tell(arch, Result(), fraction_3x3(arch))
    assert depths == [2] * 4 + [4] * 4
    assert strategy.num_updates == 2
