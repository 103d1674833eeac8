"""The compiled search engine: valid children with their exact fitness, the Python cache's semantics,
exact resume, islands (that it makes the Python engine's children is test_engines.py)."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.store.codec import decode_state, encode_state
from archsearch.zero import compiled
from archsearch.zero.compiled import CompiledSearch
from archsearch.zero.evolution import RegularizedEvolution
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.interpreter import evaluate
from archsearch.zero.run import Experiment, build_searcher, make_config, program_space, task_split

SMALL = {
    "population_size": 60,
    "search_tasks": 3,
    "select_tasks": 3,
    "final_tasks": 3,
    "n_train": 20,
    "n_valid": 20,
    "target_rmse": None,
    "sufficient_fitness": None,
}


def searcher(task: str = "nonlinear", **overrides) -> CompiledSearch:
    config = make_config(task, engine="compiled", **{**SMALL, **overrides})
    made = build_searcher(config.model_dump(mode="json"), 0)
    assert isinstance(made, CompiledSearch)
    return made


def population(search: CompiledSearch):
    return [(member.program, member.fitness) for member in search.members()]  # oldest first


@pytest.mark.parametrize("task", ["linear", "nonlinear"])
def test_every_member_is_a_valid_program_with_its_exact_fitness(task):
    search = searcher(task, fec=False)  # every fitness measured, none from the cache
    search.run(1500)
    config = make_config(task, **SMALL)
    space, tasks = program_space(config), task_split(config).search
    members = population(search)
    assert len(members) == 60 and search.evaluated == 1500
    for program, fitness in members + [(e.program, e.fitness) for e in search.elite()]:
        space.check(program)  # ops, addresses, sizes within bounds
        assert fitness == evaluate(program, tasks, space.memory, rng_seed=config.seed, combine="mean")
    if task == "nonlinear":  # insertions and removals happened
        assert (
            len({tuple(len(p.component(n)) for n in ("setup", "predict", "learn")) for p, _ in members}) > 1
        )
    fitness = [e.fitness for e in search.elite()]
    assert fitness == sorted(fitness, reverse=True) and search.best.fitness >= max(f for _, f in members)


def test_cache_hits_and_evictions_match_the_python_cache():
    search = searcher(fec_capacity=5, fec_max_hits=3)
    table, key0, key1, fit, hits, prev, nxt, free = search._fec
    counters = search._counters
    reference = FunctionalEquivalenceCache(capacity=5, max_hits=3)
    rng = np.random.default_rng(0)
    for step in range(3000):
        k0, k1 = np.uint64(rng.integers(1, 9) * 7919), np.uint64(rng.integers(0, 2))
        got = compiled._fec_lookup(table, key0, key1, fit, hits, prev, nxt, free, counters, 3, k0, k1)
        want = reference.lookup(int(k0).to_bytes(8, "little") + int(k1).to_bytes(8, "little"))
        assert (None if got < 0 else got) == want, step
        if want is None:
            value = float(step % 97) / 97
            compiled._fec_insert(table, key0, key1, fit, hits, prev, nxt, free, counters, 5, k0, k1, value)
            reference.insert(int(k0).to_bytes(8, "little") + int(k1).to_bytes(8, "little"), value)
        assert counters[compiled.C_FEC_SIZE] == len(reference)
        if step == 1500:  # a save and restore in the middle keeps the recency order
            state = search.state_dict()
            search.load_state_dict(state)
    assert (counters[compiled.C_HITS], counters[compiled.C_MISSES]) == (reference.hits, reference.misses)


def test_resumed_search_continues_exactly_and_seeds_repeat():
    first = searcher("linear")
    first.run(2000)
    state = first.state_dict()
    first.run(3000)
    second = searcher("linear")
    second.load_state_dict(decode_state(encode_state(state)))  # as a checkpoint stores it
    second.run(3000)
    assert population(first) == population(second) and first.elite() == second.elite()
    assert first.stats() == second.stats() and first.stats()["fec_hits"] > 0
    again = searcher("linear")
    again.run(5000)
    assert population(again) == population(first)
    other = searcher("linear", seed=1)
    other.run(5000)
    assert population(other) != population(first)


def test_python_checkpoint_is_refused_with_a_message():
    python = build_searcher(make_config("linear", engine="python", **SMALL).model_dump(mode="json"), 0)
    assert isinstance(python, RegularizedEvolution)
    python.run(10)
    with pytest.raises(ConfigError, match="Python search engine"):
        searcher("linear").load_state_dict(python.state_dict())
    with pytest.raises(ConfigError, match="compiled search engine"):
        python.load_state_dict(searcher("linear").state_dict())


def test_evolution_beats_random_search_at_equal_budget():
    """The linear demo's space (P = 100, 3 search tasks of 100 + 100 examples), 30,000 individuals: on each
    of 4 seeds evolution's best program is fitter than random search's."""
    best = {}
    for strategy in ("evolution", "random"):
        best[strategy] = []
        for seed in range(4):
            config = make_config("linear", strategy=strategy, seed=seed, population_size=100, search_tasks=3)
            search = build_searcher(config.model_dump(mode="json"), 0)
            search.run(30_000)
            best[strategy].append(search.best.fitness)
    assert all(e > r for e, r in zip(best["evolution"], best["random"], strict=True)), best
    assert np.mean(best["evolution"]) > np.mean(best["random"]) + 0.02, best


def test_islands_exchange_migrants_deterministically(tmp_path):
    config = make_config("linear", engine="compiled", workers=2, budget=4000, round_size=500,
                         checkpoint_every_s=0.0, **SMALL)  # fmt: skip
    runs = []
    for name in ("a", "b"):
        experiment = Experiment.create(config, tmp_path / name)
        result = experiment.run()
        runs.append(([(s.individuals, s.best_fitness) for s in experiment.progress()], result.to_json()))
        assert experiment.individuals() == 4000
        experiment.close()
    assert runs[0] == runs[1]


def test_immigrants_join_population_and_elite():
    search = searcher("linear")
    search.run(100)
    donor = searcher("linear", seed=9)
    donor.run(100)
    arrivals = donor.emigrants(3)
    assert len(arrivals) == 3
    search.immigrate(arrivals)
    members = population(search)
    assert members[-3:] == [(a.program, a.fitness) for a in arrivals]
    assert len(members) == 60


def test_tasks_and_memory_that_do_not_fit_are_refused():
    config = make_config("linear", **SMALL)
    space = program_space(config)
    tasks = task_split(config).search
    wider = program_space(make_config("linear", memory={"scalars": 4, "vectors": 3, "matrices": 1, "dim": 5}))
    with pytest.raises(ConfigError, match="F=5 but the tasks have 4 features"):
        CompiledSearch(wider, tasks, wider.memory)
    with pytest.raises(ConfigError, match="not the program space's"):
        CompiledSearch(space, tasks, wider.memory)
    with pytest.raises(ConfigError, match="elite_size"):
        CompiledSearch(space, tasks, space.memory, elite_size=0)
