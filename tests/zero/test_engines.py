"""One search, two engines: the Python engine and the compiled one make the same children from one seed.

Both draw from ``stream.Stream`` in the same order, so after every child the generators hold the same
words, the newest member is the same program with the same fitness, and the counts, the elite and the
population agree; a whole experiment records the same trajectory with either engine.
"""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.zero.compiled import CompiledSearch
from archsearch.zero.evolution import RegularizedEvolution
from archsearch.zero.mutation import MUTATION_TYPES, PAPER_MUTATIONS
from archsearch.zero.run import Experiment, build_searcher, make_config
from archsearch.zero.stream import Stream, seed_state

TINY = {
    "population_size": 30,
    "tournament_size": 5,
    "search_tasks": 2,
    "n_train": 10,
    "n_valid": 10,
    "fec_capacity": 40,  # small enough that the least recently used leave
    "fec_max_hits": 3,  # and used-up entries are re-measured
    "target_rmse": None,
    "sufficient_fitness": None,
}
VARIABLE = {
    "ops": {"setup": "full", "predict": "full", "learn": "full"},  # no-ops and random ops too
    "min_sizes": {"setup": 0, "predict": 0, "learn": 0},
    "max_sizes": {"setup": 4, "predict": 5, "learn": 6},
    "init_sizes": {"setup": 2, "predict": 2, "learn": 3},
}
SEARCHES = {
    "linear demo": make_config("linear", **TINY),
    "nonlinear, every mutation": make_config("nonlinear", mutations=list(MUTATION_TYPES), **TINY),
    "paper mutations from empty programs": make_config(
        "linear", mutations=list(PAPER_MUTATIONS), initial="empty", mutate_prob=0.7, **TINY, **VARIABLE
    ),
    "random search": make_config("nonlinear", strategy="random", **TINY, **VARIABLE),
}


def test_the_python_stream_draws_the_compiled_generators_numbers():
    stream = Stream(12345)
    np.testing.assert_array_equal(stream.getstate(), seed_state(12345))
    words = [stream.next_word() for _ in range(3)]
    # xoshiro256** of splitmix64(12345), computed independently with numpy's wrapping uint64 arithmetic
    s = seed_state(12345).astype(np.uint64)

    def rotl(x: np.uint64, k: int) -> np.uint64:
        return (x << np.uint64(k)) | (x >> np.uint64(64 - k))

    with np.errstate(over="ignore"):
        for want in words:
            result = rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
            t = s[1] << np.uint64(17)
            s[2] ^= s[0]
            s[3] ^= s[1]
            s[1] ^= s[2]
            s[0] ^= s[3]
            s[2] ^= t
            s[3] = rotl(s[3], 45)
            assert int(result) == want


@pytest.mark.parametrize("name", list(SEARCHES))
def test_both_engines_make_the_same_children_in_the_same_order(name):
    data = SEARCHES[name].model_dump(mode="json")
    python = build_searcher({**data, "engine": "python"}, 0)
    fast = build_searcher({**data, "engine": "compiled"}, 0)
    assert isinstance(fast, CompiledSearch) and not isinstance(python, CompiledSearch)
    for child in range(300):
        python.run(1)
        fast.run(1)
        np.testing.assert_array_equal(
            python.state_dict()["rng"], fast.state_dict()["rng"], err_msg=f"child {child}"
        )
        assert python.stats() == fast.stats(), child
        if isinstance(python, RegularizedEvolution):
            assert python.members()[-1] == fast.members()[-1], child
    assert python.members() == fast.members()
    assert python.elite() == fast.elite()
    assert python.best == fast.best
    # migration draws from the same stream too
    assert python.emigrants(3) == fast.emigrants(3)
    np.testing.assert_array_equal(python.state_dict()["rng"], fast.state_dict()["rng"])


def test_an_experiment_records_the_same_trajectory_with_either_engine(tmp_path):
    from zero.test_run import SMALL, trajectory

    runs = {}
    for engine in ("python", "compiled"):
        experiment = Experiment.create(make_config("linear", engine=engine, **SMALL), tmp_path / engine)
        experiment.run()
        runs[engine] = trajectory(experiment)
        experiment.close()
    assert runs["python"] == runs["compiled"]
