from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import Driver, GridSpace, Landscape, assert_resumes_identically

from archsearch.core import Architecture, Result
from archsearch.errors import ConfigError
from archsearch.strategies.categorical_reinforce import CategoricalReinforce
from conftest import ToyLayerSpace


def test_updates_match_the_reference_torch_code():
    """AutoDL-Projects reinforce.py: Adam on -(R - EMA.value()) * log_prob, the EMA updated first."""
    space = GridSpace(num_decisions=3, num_choices=4)
    strategy = CategoricalReinforce(space, seed=0, lr=0.05, baseline_decay=0.9)
    param = torch.nn.Parameter(torch.tensor(strategy.logits))
    optimizer = torch.optim.Adam([param], lr=0.05)
    numerator = denominator = 0.0
    picks = [(0, 1, 2), (3, 3, 0), (0, 1, 1), (2, 0, 3), (0, 1, 2)]
    for step, (values, reward) in enumerate(zip(picks, [0.5, 0.1, 0.9, 0.3, 0.7], strict=True)):
        strategy.tell(Architecture("grid", values), Result(), reward)
        numerator = 0.9 * numerator + 0.1 * reward
        denominator = 0.9 * denominator + 0.1
        dist = torch.distributions.Categorical(torch.softmax(param, dim=-1))
        loss = (-dist.log_prob(torch.tensor(values)).sum() * (reward - numerator / denominator)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert strategy.logits == pytest.approx(param.detach().numpy(), abs=1e-6), step
    assert strategy.baseline == pytest.approx(numerator / denominator)


def test_first_result_is_its_own_baseline_so_nothing_moves():
    space = GridSpace(num_decisions=2, num_choices=3)
    strategy = CategoricalReinforce(space, seed=0)
    before = strategy.logits.copy()
    strategy.tell(Architecture("grid", (0, 0)), Result(), 0.8)
    assert np.array_equal(strategy.logits, before) and strategy.baseline == pytest.approx(0.8)


def test_learns_a_separable_landscape():
    space = GridSpace()
    landscape = Landscape(space, seed=2, interaction=0.0)
    strategy = CategoricalReinforce(space, seed=0, lr=0.05)
    Driver(strategy, space, landscape, in_flight=4).step(400)
    assert landscape(strategy.most_likely()) == 1.0
    assert strategy.probabilities().max(axis=1).min() > 0.5


def test_resumes_identically_with_asks_outstanding_and_failures():
    space = GridSpace()
    assert_resumes_identically(
        lambda seed: CategoricalReinforce(space, seed=seed, lr=0.05),
        space,
        Landscape(space),
        before=9,
        after=12,
        in_flight=3,
        fail_every=4,
    )


def test_spaces_with_links_are_rejected_clearly():
    with pytest.raises(ConfigError, match="categorical_reinforce needs a space of categorical decisions"):
        CategoricalReinforce(ToyLayerSpace())


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"lr": 0}, "lr"), ({"baseline_decay": 1.0}, "baseline_decay")]
)
def test_bad_hyperparameters_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CategoricalReinforce(GridSpace(), **kwargs)
