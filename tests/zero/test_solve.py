"""Evolution rediscovers linear regression: a smaller instance of the default demo, end to end."""

from __future__ import annotations

import time

from archsearch.zero.run import Experiment, make_config

# The demo's search (regularized evolution, P = 100 here, T = 10, U = 0.9, its mutations, FEC, random
# initial programs) on a reduced space: per-component op lists, the sizes the hand-written SGD program
# needs (1 / 1 / 4) and a memory of 3 scalars / 3 vectors, 3 search tasks. Held-out numbers come from the
# demo's protocol (select and final tasks with 1,000 training examples).
SIZES = {"setup": 1, "predict": 1, "learn": 4}
SMALL_DEMO = {
    "memory": {"scalars": 3, "vectors": 3, "matrices": 1, "dim": 4},
    "ops": {"setup": [56], "predict": [27], "learn": [2, 3, 18, 23]},
    "min_sizes": SIZES,
    "max_sizes": SIZES,
    "init_sizes": SIZES,
    "population_size": 100,
    "search_tasks": 3,
    "select_tasks": 10,
    "final_tasks": 10,
    "budget": 150_000,
    "round_size": 2_000,
    "checkpoint_every_s": 1e9,
}


def test_evolution_solves_small_linear_regression_on_held_out_tasks(tmp_path):
    config = make_config("linear", seed=3, **SMALL_DEMO)
    experiment = Experiment.create(config, tmp_path / "run")
    start = time.perf_counter()
    result = experiment.run()
    elapsed = time.perf_counter() - start
    assert result is not None
    # Stopped by the select check (sufficient fitness), well before the budget ran out.
    assert experiment.individuals() < config.budget
    assert result.select_fitness > config.sufficient_fitness
    assert result.metrics["final_rmse_mean"] < 1e-3
    assert result.metrics["solved"] == 1.0
    # The found program learns: its Learn function changes the weights its Predict reads.
    assert any(instruction.op == 23 for instruction in result.program.pruned().learn)
    print(f"solved after {experiment.individuals():,} individuals in {elapsed:.1f} s")
    experiment.close()
