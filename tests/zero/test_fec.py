from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.zero.fec import FunctionalEquivalenceCache


def test_lookup_misses_then_hits_and_counts_the_rate():
    cache = FunctionalEquivalenceCache()
    assert cache.lookup(b"a") is None
    cache.insert(b"a", 0.75)
    assert cache.lookup(b"a") == 0.75
    assert cache.lookup(b"a") == 0.75
    assert cache.lookup(b"b") is None
    assert (cache.hits, cache.misses) == (2, 2)
    assert cache.hit_rate == 0.5


def test_entry_is_remeasured_after_max_hits():
    cache = FunctionalEquivalenceCache(max_hits=3)
    cache.insert(b"a", 0.5)
    assert [cache.lookup(b"a") for _ in range(4)] == [0.5, 0.5, 0.5, None]
    assert len(cache) == 0  # dropped: the caller measures again and inserts a fresh entry
    cache.insert(b"a", 0.6)
    assert cache.lookup(b"a") == 0.6


def test_least_recently_used_entry_is_evicted():
    cache = FunctionalEquivalenceCache(capacity=2)
    cache.insert(b"a", 1.0)
    cache.insert(b"b", 2.0)
    cache.lookup(b"a")  # a is now more recent than b
    cache.insert(b"c", 3.0)
    assert cache.lookup(b"b") is None
    assert cache.lookup(b"a") == 1.0 and cache.lookup(b"c") == 3.0


def test_state_round_trip_keeps_order_hits_and_counts():
    cache = FunctionalEquivalenceCache(capacity=2, max_hits=2)
    cache.insert(b"a", 1.0)
    cache.insert(b"b", 2.0)
    cache.lookup(b"a")
    copy = FunctionalEquivalenceCache(capacity=2, max_hits=2)
    copy.load_state_dict(cache.state_dict())
    for twin in (cache, copy):
        twin.insert(b"c", 3.0)  # evicts b in both
    assert [twin.lookup(b"b") for twin in (cache, copy)] == [None, None]
    assert [twin.lookup(b"a") for twin in (cache, copy)] == [1.0, 1.0]
    assert [twin.lookup(b"a") for twin in (cache, copy)] == [None, None]  # third lookup: over max_hits
    assert copy.hit_rate == cache.hit_rate


def test_bad_sizes_are_rejected():
    with pytest.raises(ConfigError, match="capacity"):
        FunctionalEquivalenceCache(capacity=0)
    with pytest.raises(ConfigError, match="max_hits"):
        FunctionalEquivalenceCache(max_hits=0)
