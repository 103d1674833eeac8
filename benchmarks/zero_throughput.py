"""AutoML-Zero throughput: evaluations per second on one core, compiled vs plain Python, without and with FEC.

Usage: python benchmarks/zero_throughput.py [--programs 2000] [--reference-programs 40] [--individuals 20000]

The paper's linear-regression setting (Real et al. 2020; SPEC.md 4.5): F = 4 features, 100 training and
100 validation examples per task, 10 tasks; memory 4 scalars / 3 vectors / 1 matrix; programs of
10 / 2 / 8 instructions (the released demo's sizes) drawn from the full op set (OP0-OP64). One evaluation
is one program run on one task: Setup, 100 Predict+Learn steps, 100 Predict steps.

1. the same random programs through ``interpreter.evaluate_each`` (numba) and
   ``reference.evaluate_each_reference`` (plain Python/numpy): evaluations/s and their ratio;
2. the programs regularized evolution (P = 1000, T = 10, U = 0.9) proposes on those tasks, evaluated in
   the same order without and with the functional equivalence cache: programs/s, the FEC hit rate and
   evaluation-equivalents/s (programs x tasks); and the whole evolution loop's individuals/s;
3. the same search in the compiled engine (``zero/compiled.py``), with and without FEC: individuals/s;
   with FEC it is the Python loop's search child for child (one random stream), so their best agree.
All in one process, one after the other, so the numbers share the machine's state (its load is printed).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from archsearch.zero.compiled import CompiledSearch
from archsearch.zero.evolution import ProgramFitness, RegularizedEvolution
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.interpreter import evaluate_each, task_batch
from archsearch.zero.mutation import PAPER_MUTATIONS, Mutator, ProgramSpace, random_program
from archsearch.zero.ops import OP_SETS
from archsearch.zero.program import COMPONENTS, MemoryConfig
from archsearch.zero.reference import evaluate_each_reference
from archsearch.zero.stream import Stream
from archsearch.zero.tasks import make_tasks

MEMORY = MemoryConfig(4, 3, 1, 4)
SIZES = {"setup": 10, "predict": 2, "learn": 8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--programs", type=int, default=2000, help="random programs for the compiled interpreter"
    )
    parser.add_argument("--reference-programs", type=int, default=40, help="of those, run by the reference")
    parser.add_argument("--individuals", type=int, default=20000, help="evolution individuals, each FEC mode")
    args = parser.parse_args()

    tasks = make_tasks("linear", 10, 4, 100, 100, seed=0)
    batch = task_batch(tasks)
    space = ProgramSpace(MEMORY, {n: OP_SETS["full"] for n in COMPONENTS}, SIZES, SIZES, SIZES)
    rng = Stream(0)
    programs = [random_program(space, rng) for _ in range(args.programs)]
    print(f"load average before: {os.getloadavg()[0]:.1f} (machine shared; 1 process)")

    evaluate_each(programs[0], batch, MEMORY)  # compile / load the cached kernel outside the timing
    start = time.perf_counter()
    compiled = [evaluate_each(p, batch, MEMORY) for p in programs]
    compiled_rate = len(programs) * len(tasks) / (time.perf_counter() - start)

    subset = programs[: args.reference_programs]
    start = time.perf_counter()
    reference = [evaluate_each_reference(p, tasks, MEMORY) for p in subset]
    reference_rate = len(subset) * len(tasks) / (time.perf_counter() - start)
    same = all(np.array_equal(a, b) for a, b in zip(compiled, reference, strict=False))

    print(
        f"compiled interpreter : {compiled_rate:>10,.0f} evaluations/s ({len(programs):,} programs x 10 tasks)"
    )
    print(
        f"reference (Python)   : {reference_rate:>10,.0f} evaluations/s ({len(subset):,} programs x 10 tasks)"
    )
    print(f"ratio compiled / reference: {compiled_rate / reference_rate:,.0f}x; identical fitness: {same}")

    # The programs regularized evolution proposes (recorded from one FEC run), then the same sequence
    # evaluated with a fresh cache and without one, so both modes see exactly the same programs.
    proposed: list = []
    recorder = ProgramFitness(batch, MEMORY, combine="mean", cache=FunctionalEquivalenceCache())

    def record(program):  # type: ignore[no-untyped-def]
        proposed.append(program)
        return recorder(program)

    search = RegularizedEvolution(
        space, record, Mutator(space, 0.9, PAPER_MUTATIONS), population_size=1000, tournament_size=10, seed=0
    )
    start = time.perf_counter()
    search.run(args.individuals)
    search_rate = args.individuals / (time.perf_counter() - start)
    rates = {}
    for label, cache in (("without FEC", None), ("with FEC", FunctionalEquivalenceCache())):
        fitness = ProgramFitness(batch, MEMORY, combine="mean", cache=cache)
        start = time.perf_counter()
        for program in proposed:
            fitness(program)
        rates[label] = len(proposed) / (time.perf_counter() - start)
        hit = "" if cache is None else f", FEC hit rate {cache.hit_rate:.0%}"
        print(
            f"{label:<11}: {rates[label]:>8,.0f} programs/s = {rates[label] * len(tasks):>9,.0f}"
            f" evaluation-equivalents/s ({fitness.evaluations:,} full evaluations{hit})"
        )
    print(f"ratio with / without FEC: {rates['with FEC'] / rates['without FEC']:.2f}x")
    print(
        f"whole evolution loop with FEC (mutation, selection, bookkeeping included): {search_rate:,.0f} individuals/s"
    )
    # The same search (space, tasks, P, T, U, mutations) in the compiled engine, with and without FEC.
    loops = {}
    for fec in (True, False):
        engine = CompiledSearch(
            space, batch, MEMORY, population_size=1000, tournament_size=10, mutate_prob=0.9,
            mutations=PAPER_MUTATIONS, seed=0, fec=fec,
        )  # fmt: skip
        engine.run(10)  # compile / load the cached loop outside the timing
        start = time.perf_counter()
        engine.run(args.individuals)
        loops[fec] = args.individuals / (time.perf_counter() - start)
        stats = engine.stats()
        hit = f", FEC hit rate {stats['fec_hits'] / stats['fec_lookups']:.0%}" if fec else ""
        same = f"; same best program as the Python loop: {engine.best == search.best}" if fec else ""
        print(
            f"whole evolution loop, compiled engine, {'with' if fec else 'without'} FEC: {loops[fec]:,.0f}"
            f" individuals/s ({stats['full_evaluations']:,.0f} full evaluations{hit}){same}"
        )
    print(f"ratio compiled / Python evolution loop (with FEC): {loops[True] / search_rate:.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
