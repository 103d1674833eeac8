"""Measured CPU latency: it measures, and bad options are rejected (a trained child with its latency:
tests/e2e/test_multiobjective_search.py)."""

from __future__ import annotations

import pytest
from torch import nn

from archsearch.errors import ConfigError
from archsearch.evaluators.latency import LatencyEvaluator, count_macs, measure_latency_ms


def test_a_much_bigger_network_measures_slower():
    small = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    big = nn.Sequential(*[nn.Conv2d(64, 64, 3, padding=1) for _ in range(6)], nn.Flatten())
    fast = measure_latency_ms(small, (1, 8, 8), repeats=5)
    slow = measure_latency_ms(big, (64, 32, 32), repeats=5)
    assert 0 < fast < slow


@pytest.mark.parametrize(
    "option", [{"latency_repeats": 0}, {"latency_batch_size": 1.5}, {"latency_warmup": -1}]
)
def test_bad_latency_options_are_config_errors(option):
    with pytest.raises(ConfigError, match=next(iter(option))):
        LatencyEvaluator(dataset="digits", **option)


def test_macs_of_a_small_network_by_hand():
    # conv 3->4, 3x3, padding 1 on 5x5: 25 positions x 4 outputs x 27 = 2,700; linear 100 -> 2: 200.
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(100, 2))
    assert count_macs(model, (3, 5, 5)) == 2_900
