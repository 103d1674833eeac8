"""Trained weights in the study database: only the best k trials' are kept, and older databases still open."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.store.sqlite import Store
from archsearch.study import Study
from conftest import fraction_3x3, toy_config

ARCH = Architecture("toy", ())


def trial_weights(arch: Architecture, seed: int) -> bytes:
    """The stand-in weights a trial of ``arch`` from ``seed`` returns: distinct bytes per trial."""
    return hashlib.sha256(f"{arch.to_json()} {seed}".encode()).digest() * 8


class WeightsEvaluator(Evaluator):
    """The toy evaluator's scores, with stand-in weights (``trial_weights``) in every result."""

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        score = 0.5 + 0.5 * fraction_3x3(arch) - (seed % 97) / 10000
        return Result(
            metrics={"val_acc": score},
            curve={"val_acc": [score]},
            cost_s=0.01,
            weights=trial_weights(arch, seed),
        )


@pytest.fixture
def weights_registry(toy_registry: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(toy_registry.EVALUATORS, "weights", f"{__name__}:WeightsEvaluator")
    return toy_registry


def finish(store: Store, number: int, reward: float, keep: int, status: str = "ok") -> bool:
    store.add_trial(number, ARCH, "toy", seed=number, ask_event=2 * number)
    result = Result(metrics={"val_acc": reward}, status=status)  # type: ignore[arg-type]
    return store.finish_trial(
        number, result, reward, 2 * number + 1, weights=b"w%d" % number, keep_weights=keep
    )


def test_the_weights_of_the_best_k_trials_are_kept_and_those_that_fall_out_deleted(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    kept = []
    for number, reward in enumerate([0.3, 0.9, 0.1, 0.5, 0.95, 0.5]):
        finish(store, number, reward, keep=2)
        kept.append(store.kept_weights())
    # trial 0 falls out when trial 3 beats it; 2 and 5 (a tie with 3, which came first) never get in
    assert kept == [[0], [1, 0], [1, 0], [1, 3], [4, 1], [4, 1]]
    assert store.weights(4) == b"w4" and store.weights(1) == b"w1"
    assert all(store.weights(n) is None for n in (0, 2, 3, 5))
    assert store._conn.execute("SELECT COUNT(*) FROM weights").fetchone()[0] == 2
    store.close()


def test_failed_trials_nan_rewards_and_keep_zero_store_no_weights(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    assert finish(store, 0, 0.9, keep=0) is False
    assert finish(store, 1, 0.9, keep=3, status="failed") is False
    assert finish(store, 2, float("nan"), keep=3) is False
    assert finish(store, 3, 0.1, keep=3) is True
    assert store.kept_weights() == [3]
    store.close()


def test_a_study_keeps_the_weights_of_its_best_two_of_five_trials(
    tmp_path: Path, weights_registry: Any
) -> None:
    sizes: list[int] = []

    class CountKept:
        def trial_started(self, record: Any) -> None:
            pass

        def trial_finished(self, record: Any) -> None:
            sizes.append(len(study.store.kept_weights()))

    config = toy_config(n_trials=5, keep_weights=2, evaluator={"name": "weights"})
    study = Study.create(config, tmp_path / "s")
    study.run([CountKept()])
    trials = study.store.trials()
    ranked = sorted(trials, key=lambda t: (-(t.reward or 0.0), t.number))
    assert sizes == [1, 2, 2, 2, 2]
    assert study.store.kept_weights() == [t.number for t in ranked[:2]]
    assert study.store.kept_weights()[0] == study.best().number  # type: ignore[union-attr]
    for t in trials:
        expected = trial_weights(t.arch, t.seed) if t in ranked[:2] else None
        assert study.store.weights(t.number) == expected
    study.close()


@pytest.mark.parametrize("executor", ["pool", pytest.param("ray", marks=pytest.mark.slow)])
def test_weights_come_back_from_worker_processes(
    executor: str, toy_space: SearchSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archsearch.study import make_executor

    if executor == "ray":
        pytest.importorskip("ray")
        here, tests = str(Path(__file__).parent), str(Path(__file__).parents[1])  # Ray's workers import
        paths = (here, tests, os.environ.get("PYTHONPATH"))  # this module to unpickle its evaluator
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    workers = make_executor(toy_config(executor=executor, workers=1))
    try:
        arch = toy_space.sample(np.random.default_rng(0))
        result = workers.submit(WeightsEvaluator(), toy_space, arch, 7).result(timeout=300)
    finally:
        workers.shutdown()
    assert result.ok and result.weights == trial_weights(arch, 7)


def test_a_database_written_before_weights_were_kept_still_opens(
    tmp_path: Path, weights_registry: Any
) -> None:
    directory = tmp_path / "s"
    study = Study.create(toy_config(n_trials=2, evaluator={"name": "weights"}), directory)
    study.run()
    study.close()
    with sqlite3.connect(directory / "study.db") as conn:  # as an archsearch before weights wrote it
        conn.execute("DROP TABLE weights")
    conn.close()
    before = (directory / "study.db").read_bytes()

    old = Study.load(directory, read_only=True)
    assert old.store.kept_weights() == [] and old.store.weights(0) is None and old.store.count() == 2
    old.close()
    assert (directory / "study.db").read_bytes() == before  # the read-only open wrote nothing

    resumed = Study.load(directory)  # a writable open adds the table; the resumed trials keep weights
    resumed.config = resumed.config.model_copy(update={"n_trials": 4})
    resumed.run()
    assert set(resumed.store.kept_weights()) <= {2, 3} and resumed.store.kept_weights()
    resumed.close()


def test_trials_discarded_for_a_rerun_lose_their_weights(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    for number in range(3):
        finish(store, number, 0.1 * number, keep=3)
    assert store.discard_trials_from(1) == [1, 2]
    assert store.kept_weights() == [0]
    store.close()
