from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.program import Instruction, MemoryConfig, Program


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


# -- the FEC signature on real programs (interpreter) -------------------------------------------------


def _sgd(lr: float, dead: tuple = ()) -> Program:
    """Linear regression by SGD in the demo's op set; ``dead`` instructions are appended to Learn."""
    return Program(
        setup=(Instruction(56, out=2, data=(lr, 0.0)),),
        predict=(Instruction(27, 0, 1, 1),),
        learn=(
            Instruction(2, 0, 1, 3),  # s3 = s0 - s1
            Instruction(3, 2, 3, 3),  # s3 = s2 * s3
            Instruction(18, 3, 0, 2),  # v2 = s3 * v0
            Instruction(23, 1, 2, 1),  # v1 = v1 + v2
            *dead,
        ),
    )


@pytest.fixture(scope="module")
def small_tasks():
    from archsearch.zero.tasks import make_tasks

    return make_tasks("linear", 3, 4, 30, 20, seed=1)


def test_signature_is_equal_for_programs_differing_only_by_dead_code(small_tasks):
    from archsearch.zero.interpreter import fec_signature

    memory = MemoryConfig()
    # s3 and v2 are recomputed before they are read at the next step: writing them last is dead code
    dead = (Instruction(3, 2, 2, 3), Instruction(18, 1, 0, 2))
    plain, padded = _sgd(0.1), _sgd(0.1, dead)
    assert plain != padded
    assert fec_signature(plain, small_tasks, memory) == fec_signature(padded, small_tasks, memory)
    assert fec_signature(plain, small_tasks, memory) != fec_signature(_sgd(0.11), small_tasks, memory)
    live = (Instruction(3, 2, 2, 2),)  # s2 = s2 * s2 changes the learning rate of the next step
    assert fec_signature(plain, small_tasks, memory) != fec_signature(_sgd(0.1, live), small_tasks, memory)


def test_program_fitness_reuses_the_fitness_of_an_equivalent_program(small_tasks):
    from archsearch.zero.evolution import ProgramFitness
    from archsearch.zero.interpreter import evaluate

    memory = MemoryConfig()
    fitness = ProgramFitness(small_tasks, memory, cache=FunctionalEquivalenceCache())
    dead = (Instruction(3, 2, 2, 3),)
    first = fitness(_sgd(0.1))
    assert first == evaluate(_sgd(0.1), small_tasks, memory, combine="mean")
    assert fitness(_sgd(0.1, dead)) == first
    assert fitness(_sgd(0.2)) != first
    assert fitness.evaluations == 2 and fitness.cache is not None and fitness.cache.hits == 1
