"""Evolution rediscovers linear regression: the default demo (``archsearch zero --task linear``), end to end."""

from __future__ import annotations

import time

from archsearch.zero.run import TASK_DEFAULTS, Experiment, make_config


def test_default_demo_solves_linear_regression_on_held_out_tasks(tmp_path):
    """The released demo's search and protocol unchanged (sizes 10 / 2 / 8, its 6 ops, P = 1000, T = 10,
    U = 0.9, FEC, restarts every 1M individuals, select and final tasks with 1,000 training examples), on
    a seed that solves within the first experiment; the budget is the only thing made smaller."""
    config = make_config("linear", seed=5, budget=400_000)
    assert (
        config.engine == "compiled"
        and config.experiment_individuals == TASK_DEFAULTS["linear"]["experiment_individuals"]
    )
    experiment = Experiment.create(config, tmp_path / "run")
    start = time.perf_counter()
    result = experiment.run()
    elapsed = time.perf_counter() - start
    assert result is not None
    # Stopped by the select check (sufficient fitness), before the budget ran out.
    assert experiment.individuals() < config.budget
    assert result.select_fitness > config.sufficient_fitness
    assert result.metrics["final_rmse_mean"] < 1e-3
    assert result.metrics["solved"] == 1.0
    # The found program learns: its Learn function changes the weights its Predict reads.
    assert any(instruction.op == 23 for instruction in result.program.pruned().learn)
    print(f"solved after {experiment.individuals():,} individuals in {elapsed:.1f} s")
    experiment.close()
