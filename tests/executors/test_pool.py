from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from archsearch.core import Evaluator, Result
from archsearch.executors.pool import PoolExecutor
from archsearch.study import Study
from conftest import toy_config


class KillingEvaluator(Evaluator):
    """Kills its own worker process (SIGKILL) for an architecture: once, or every time if ``always``.

    A marker file per architecture in ``marker_dir`` remembers the first kill across worker processes.
    ``always`` kills only architectures whose first layer is 1 high; the others succeed.
    """

    def __init__(self, marker_dir: str, always: bool = False) -> None:
        self.marker_dir = marker_dir
        self.always = always

    def evaluate(self, space, arch, seed):
        marker = Path(self.marker_dir) / ("arch-" + "-".join(map(str, arch.values)).replace(" ", ""))
        if (self.always and arch.values[1] == 1) or (not self.always and not marker.exists()):
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return Result(metrics={"val_acc": 0.5, "test_acc": 0.5}, cost_s=0.01)


def _study(directory: Path, registry, module: str, **params) -> list:
    registry.EVALUATORS["killer"] = f"{module}:KillingEvaluator"
    config = toy_config(
        n_trials=4,
        executor="pool",
        workers=1,
        max_retries=2,
        evaluator={"name": "killer", "params": params},
    )
    study = Study.create(config, directory)
    try:
        study.run()
        return study.store.trials()
    finally:
        study.close()


def test_a_trial_whose_worker_died_once_is_retried_and_ends_ok_once(tmp_path, toy_registry, monkeypatch):
    monkeypatch.setitem(toy_registry.EVALUATORS, "killer", "test_pool:KillingEvaluator")
    (tmp_path / "m").mkdir()
    trials = _study(tmp_path / "s", toy_registry, "test_pool", marker_dir=str(tmp_path / "m"))
    assert [t.number for t in trials] == list(range(4))
    assert all(t.status == "ok" for t in trials)
    assert len(list((tmp_path / "m").iterdir())) == len({t.arch_str for t in trials})


def test_a_trial_that_always_kills_its_worker_fails_after_max_retries_and_the_search_goes_on(
    tmp_path, toy_registry, monkeypatch
):
    monkeypatch.setitem(toy_registry.EVALUATORS, "killer", "test_pool:KillingEvaluator")
    (tmp_path / "m").mkdir()
    trials = _study(tmp_path / "s", toy_registry, "test_pool", marker_dir=str(tmp_path / "m"), always=True)
    assert [t.number for t in trials] == list(range(4))
    killers = [t for t in trials if t.arch.values[1] == 1]
    others = [t for t in trials if t.arch.values[1] != 1]
    assert killers and others
    assert all(t.status == "failed" and t.error.startswith("worker died 3 times:") for t in killers)
    assert all(t.status == "ok" for t in others)


def _wait_for(condition, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_the_pool_says_which_worker_process_runs_which_trial_and_which_wait(toy_space):
    from conftest import ToyEvaluator

    executor = PoolExecutor(workers=2)
    try:
        evaluator = ToyEvaluator(sleep_s=1.5)
        archs = [toy_space.sample(np.random.default_rng(n)) for n in range(3)]
        futures = {n: executor.submit(evaluator, toy_space, arch, n) for n, arch in enumerate(archs)}
        busy = _wait_for(lambda: (a := executor.activity(futures)).busy == 2 and a)
        assert sorted(n for trials in busy.workers.values() for n in trials) == [0, 1]
        assert busy.unplaced == [2] and busy.queued == 1
        for name in busy.workers:  # real worker processes of this pool
            pid = int(name.removeprefix("pid "))
            status = Path(f"/proc/{pid}/status").read_text()
            assert f"PPid:\t{os.getpid()}\n" in status
        for future in futures.values():
            assert future.result().ok
        idle = executor.activity({})
        assert set(idle.workers) == set(busy.workers) and idle.busy == 0 and idle.queued == 0
    finally:
        executor.shutdown()
