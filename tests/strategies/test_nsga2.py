"""NSGA-II on architectures: variation keeps architectures valid, it beats random search on the NB201
pixel3 latency table, and a resumed study equals an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.bench.nb201_mo import run_search
from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.spaces.nb201 import NB201Space
from archsearch.strategies.nsga2 import NSGA2, crossover, mutate_each
from archsearch.study import Study
from conftest import StopAfter, ToyLayerSpace, tabular_config

GOALS = ["val_acc:max", "latency_ms:min"]


def test_crossover_keeps_shared_values_and_mutation_changes_something():
    space, rng = NB201Space(), np.random.default_rng(0)
    for _ in range(50):
        a, b = space.sample(rng), space.sample(rng)
        child = crossover(space, a, b, rng)
        space.validate(child)
        for x, y, z in zip(a.values, b.values, child.values, strict=True):
            assert z in (x, y)
        mutated = mutate_each(space, child, rng, None)
        space.validate(mutated)
        assert mutated != child


def test_variation_on_a_space_with_links_stays_valid():
    space, rng = ToyLayerSpace(4), np.random.default_rng(1)
    for _ in range(50):
        a, b = space.sample(rng), space.sample(rng)
        child = crossover(space, a, b, rng)
        space.validate(child)
        for decision, x, y, z in zip(space.walk(child.values), a.values, b.values, child.values, strict=True):
            if decision.is_links:
                assert set(x) & set(y) <= set(z) <= set(x) | set(y)
        space.validate(mutate_each(space, child, rng, 0.3))


def test_elitist_survival_keeps_the_first_front():
    space = NB201Space()
    strategy = NSGA2(space, seed=0, objectives=["a:max", "b:min"], population_size=4)
    values = [(0.9, 9.0), (0.5, 1.0), (0.7, 5.0), (0.4, 8.0), (0.2, 9.5), (0.8, 3.0), (0.6, 2.0), (0.3, 7.0)]
    archs = [space.from_index(i) for i in range(len(values))]
    for arch, (a, b) in zip(archs, values, strict=True):
        strategy.tell(arch, Result(metrics={"a": a, "b": b}), 0.0)
    # Front of all eight: (0.9, 9), (0.8, 3), (0.6, 2), (0.5, 1); (0.7, 5) is dominated by (0.8, 3).
    assert {m.arch for m in strategy.parents} == {archs[0], archs[5], archs[6], archs[1]}
    assert strategy.rank.tolist() == [0, 0, 0, 0] and strategy.generation == 2


def test_needs_two_objectives():
    with pytest.raises(ConfigError, match="at least two objectives"):
        NSGA2(NB201Space(), objectives=["val_acc"])


def test_beats_random_search_on_nb201_pixel3_at_equal_budget():
    seeds = range(4)  # "nsga2" in the bench: population 20
    nsga2 = [run_search("nsga2", "pixel3", 15_000, s).final_ratio for s in seeds]
    rand = [run_search("random", "pixel3", 15_000, s).final_ratio for s in seeds]
    assert np.mean(nsga2) > np.mean(rand) + max(np.std(nsga2), np.std(rand))


def _trajectory(study: Study) -> list[tuple]:
    return [(t.number, t.arch, t.reward, t.metrics.get("latency_ms")) for t in study.store.trials()]


def test_resumed_nsga2_study_equals_an_uninterrupted_one(tmp_path):
    def config():
        return tabular_config(
            "nsga2",
            {"population_size": 8},
            objectives=GOALS,
            constraints=["latency_ms <= 12"],
            evaluator={"name": "tabular", "params": {"dataset": "cifar100", "device": "pixel3"}},
        )

    full = Study.create(config(), tmp_path / "full")
    full.run()
    expected = _trajectory(full)
    full.close()
    assert 15 < len(expected) < 80 and all(latency is not None for *_, latency in expected)
    cut = Study.create(config(), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([StopAfter(len(expected) // 2 + 3)])  # mid-generation
    cut.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    assert _trajectory(resumed) == expected
    resumed.close()
