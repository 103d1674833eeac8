from __future__ import annotations

import numpy as np

from archsearch.core import Result
from archsearch.strategies.random import RandomSearch
from conftest import ToyLayerSpace


def test_random_search_samples_valid_uniform_architectures():
    space = ToyLayerSpace(num_layers=2)
    strategy = RandomSearch(space, seed=0)
    archs = [strategy.ask() for _ in range(2000)]
    for arch in archs[:50]:
        space.validate(arch)
    heights = np.array([a.values[1] for a in archs])
    for size in space.sizes:
        assert abs((heights == size).mean() - 0.25) < 0.04
    links = np.array([a.values[3] == (0,) for a in archs])
    assert abs(links.mean() - 0.5) < 0.04


def test_random_search_resumes_from_state_dict():
    space = ToyLayerSpace()
    a = RandomSearch(space, seed=4)
    a.tell(a.ask(), Result(), 0.0)
    b = RandomSearch(space, seed=0)
    b.load_state_dict(a.state_dict())
    assert [a.ask() for _ in range(5)] == [b.ask() for _ in range(5)]
