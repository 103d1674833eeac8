from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.store.codec import decode_state, encode_state
from archsearch.zero.evolution import (
    Individual,
    Islands,
    RandomSearch,
    RegularizedEvolution,
    individuals_from_state,
)
from archsearch.zero.mutation import DEMO_MUTATIONS, Mutator, ProgramSpace
from archsearch.zero.ops import OP_SETS
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program

TARGET = (
    Instruction(2, 0, 1, 3),
    Instruction(3, 2, 3, 3),
    Instruction(18, 3, 0, 2),
    Instruction(23, 1, 2, 1),
)


def space() -> ProgramSpace:
    sizes = {"setup": 1, "predict": 1, "learn": 4}
    return ProgramSpace(MemoryConfig(), {n: OP_SETS["linear_demo"] for n in COMPONENTS}, sizes, sizes, sizes)


def matching(program: Program) -> float:
    """Stand-in fitness: the fraction of Learn's op codes and addresses equal to linear regression's by SGD."""
    fields = ("op", "in1", "in2", "out")
    pairs = zip(program.learn, TARGET, strict=True)
    return sum(getattr(a, f) == getattr(b, f) for a, b in pairs for f in fields) / (4 * len(TARGET))


def evolution(seed: int = 0, population_size: int = 30, fitness=matching) -> RegularizedEvolution:
    s = space()
    return RegularizedEvolution(
        s,
        fitness,
        Mutator(s, 0.9, DEMO_MUTATIONS),
        population_size=population_size,
        tournament_size=5,
        seed=seed,
    )


def test_same_seed_same_trajectory_other_seed_other():
    runs = [evolution(seed) for seed in (1, 1, 2)]
    for run in runs:
        run.run(400)
    first, again, other = ([m.program for m in run.population] for run in runs)
    assert first == again
    assert first != other


def test_population_ages_out_the_oldest_and_keeps_its_size():
    run = evolution(population_size=20)
    run.run(20)
    initial = list(run.population)
    run.run(5)
    assert len(run.population) == 20
    assert list(run.population)[:15] == initial[5:]  # the five oldest left, whatever their fitness


def test_evolution_climbs_the_stand_in_landscape_and_beats_random_search():
    run = evolution(population_size=50)
    run.run(3000)
    baseline = RandomSearch(space(), matching, seed=0)
    baseline.run(3000)
    assert run.best is not None and baseline.best is not None
    assert run.best.fitness == 1.0  # all four instructions of the target found
    assert baseline.best.fitness <= 0.75


def test_state_round_trip_continues_exactly():
    whole = evolution(seed=3)
    whole.run(500)
    half = evolution(seed=3)
    half.run(250)
    resumed = evolution(seed=3)
    resumed.load_state_dict(decode_state(encode_state(half.state_dict())))  # as a checkpoint stores it
    resumed.run(250)
    assert [m.program for m in resumed.population] == [m.program for m in whole.population]
    assert resumed.elite() == whole.elite() and resumed.evaluated == whole.evaluated == 500


def test_elite_holds_the_fittest_distinct_programs():
    run = evolution()
    run.run(600)
    elite = run.elite()
    assert len(elite) == 10
    assert [m.fitness for m in elite] == sorted((m.fitness for m in elite), reverse=True)
    assert len({m.program for m in elite}) == 10
    assert elite[0].fitness == run.best.fitness  # type: ignore[union-attr]


def test_immigrants_join_as_youngest_and_can_become_best():
    run = evolution(population_size=10)
    run.run(10)
    star = Individual(Program(learn=TARGET), 2.0)
    run.immigrate([star])
    assert run.population[-1] is star and len(run.population) == 10
    assert run.best is star and run.elite()[0] is star


def test_empty_initial_population_needs_zero_minimum_sizes():
    with pytest.raises(ConfigError, match="minimum size to be 0"):
        RegularizedEvolution(space(), matching, Mutator(space()), initial="empty")


def _island(index: int) -> RegularizedEvolution:
    return evolution(seed=10 + index, population_size=20)


@pytest.mark.slow
def test_islands_in_processes_exchange_migrants_as_a_ring():
    with Islands(_island, workers=2, migrants=3) as islands:
        for _ in range(3):
            islands.run_round([100, 100])
        stats = islands.stats()
        elite = islands.elite()
        populations = [individuals_from_state(s["population"]) for s in decode_state(islands.state_dict())]
    # the same rounds in this process: run, then island i receives three tournament winners of island i - 1
    local = [_island(0), _island(1)]
    for _ in range(3):
        for run in local:
            run.run(100)
        outgoing = [run.emigrants(3) for run in local]
        local[0].immigrate(outgoing[1])
        local[1].immigrate(outgoing[0])
    assert populations == [list(run.population) for run in local]
    assert [s["evaluated"] for s in stats] == [300, 300]  # migrants are not counted as evaluated
    assert elite[0].fitness == max(run.best.fitness for run in local)  # type: ignore[union-attr]
