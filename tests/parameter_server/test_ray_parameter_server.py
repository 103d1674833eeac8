"""NAS-RL's parameter server on Ray actors: equal to single-process REINFORCE, staleness, kill -9 resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from archsearch.executors.ray import RayExecutor
from archsearch.study import Study
from conftest import toy_config

TESTS = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray for the module (starting Ray takes seconds); workers import the tests' modules."""
    pytest.importorskip("ray")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), old) if p)
    executor = RayExecutor(num_cpus=2)
    yield executor
    executor.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def _ps_config(n_trials: int, replicas: int, shards: int, m: int, sleep_s: float = 0.0, **params):
    strategy = {"num_replicas": replicas, "num_shards": shards, "children_per_replica": m, "lr": 0.01}
    return toy_config(
        n_trials=n_trials,
        executor="ray",
        workers=2,
        evaluator={"name": "toy", "params": {"sleep_s": sleep_s}},
        strategy={"name": "nasrl_ps", "params": {**strategy, **params}},
    )


def _reinforce_reference(directory: Path, n_trials: int, m: int):
    """The same search with single-process REINFORCE, inline: its trials and final controller."""
    config = toy_config(
        n_trials=n_trials, strategy={"name": "reinforce", "params": {"batch_size": m, "lr": 0.01}}
    )
    study = Study.create(config, directory)
    study.run()
    trials = study.store.trials()
    params = {n: p.detach().clone() for n, p in study.strategy.controller.named_parameters()}
    study.close()
    return trials, params


def _server_params(study: Study) -> dict[str, torch.Tensor]:
    _, state = study.store.latest_checkpoint()
    assert state["kind"] == "nasrl_ps_ray"
    return {n: t for shard in state["shards"] for n, t in shard["params"].items()}


def _assert_same_search(trials, reference, params, reference_params) -> None:
    assert [t.number for t in trials] == [t.number for t in reference]
    assert [t.arch for t in trials] == [t.arch for t in reference]
    assert [t.seed for t in trials] == [t.seed for t in reference]
    assert [t.reward for t in trials] == pytest.approx([t.reward for t in reference])
    assert params.keys() == reference_params.keys()
    for name in params:
        assert torch.allclose(params[name], reference_params[name], atol=1e-6, rtol=0), name


@pytest.mark.slow
def test_one_replica_one_shard_on_ray_actors_gives_the_single_process_reinforce_updates(
    tmp_path, toy_registry, ray_executor
):
    reference, reference_params = _reinforce_reference(tmp_path / "reinforce", n_trials=12, m=4)
    study = Study.create(_ps_config(12, replicas=1, shards=1, m=4), tmp_path / "ps")
    study.run(executor=ray_executor)
    trials = study.store.trials()
    _assert_same_search(trials, reference, _server_params(study), reference_params)
    study.close()
    assert all(t.status == "ok" and t.info["replica"] == 0 for t in trials)
    pushes = [t for t in trials if "staleness" in t.info]
    assert [t.info["staleness"] for t in pushes] == [0, 0, 0]
    assert sorted(t.info["ps_version"] for t in pushes) == [0, 1, 2]


class _Watcher:
    """A study listener that samples the activity (which replica runs which trial) as trials start."""

    def __init__(self) -> None:
        self.activity = None
        self.seen: list = []

    def watch(self, activity) -> None:
        self.activity = activity

    def trial_started(self, record) -> None:
        self.seen.append(self.activity())

    def trial_finished(self, record) -> None:
        pass


@pytest.mark.slow
def test_replicas_push_without_a_barrier_and_each_gradient_s_staleness_is_stored(
    tmp_path, toy_registry, ray_executor
):
    watcher = _Watcher()
    study = Study.create(_ps_config(8, replicas=2, shards=2, m=2, sleep_s=0.05), tmp_path / "s")
    study.run([watcher], executor=ray_executor)
    trials = study.store.trials()
    study.close()
    assert [t.number for t in trials] == list(range(8)) and all(t.status == "ok" for t in trials)
    # a batch is pushed when its last result is told: the k-th push is applied at version k
    pushes = sorted((t for t in trials if "staleness" in t.info), key=lambda t: t.tell_event)
    assert len(pushes) == 4
    for applied, trial in enumerate(pushes):
        assert trial.info["staleness"] == applied - trial.info["ps_version"] >= 0
    assert {t.info["replica"] for t in trials} == {0, 1}
    # both replicas start with a batch on version 0, so the second of the first two pushes is stale
    assert max(t.info["staleness"] for t in pushes) >= 1
    # the progress display learns which replica actor runs which trial
    assert all(set(a.workers) == {"replica 0", "replica 1"} for a in watcher.seen)
    replica_of = {t.number: f"replica {int(t.info['replica'])}" for t in trials}
    for activity in watcher.seen:
        for worker, numbers in activity.workers.items():
            assert all(replica_of[n] == worker for n in numbers)
    assert max(sum(len(n) for n in a.workers.values()) for a in watcher.seen) > 2  # two batches at once


_DRIVER = """
import sys
from archsearch import registry
from archsearch.study import Study
from test_ray_parameter_server import _ps_config

registry.SPACES["toy"] = "conftest:ToyLayerSpace"
registry.EVALUATORS["toy"] = "conftest:ToyEvaluator"
Study.create(_ps_config(16, replicas=1, shards=2, m=4, sleep_s=0.3), sys.argv[1]).run()
"""


def _finished(directory: Path) -> int:
    try:
        with sqlite3.connect(directory / "study.db", timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _processes_with(environ_entry: bytes) -> list[int]:
    """Processes whose environment holds ``environ_entry``: those the killed driver started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if environ_entry in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_a_driver_killed_with_kill_9_resumes_from_its_parameter_server_checkpoint(
    tmp_path, toy_registry, ray_executor
):
    directory = tmp_path / "s"
    ray_tmp = tempfile.mkdtemp(prefix="k")  # short: Ray's socket paths live under it
    env = dict(
        os.environ, TMPDIR=ray_tmp, PYTHONPATH=os.pathsep.join([str(TESTS), str(Path(__file__).parent)])
    )
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, str(directory)], env=env)
    try:
        deadline = time.monotonic() + 120
        while _finished(directory) < 6 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert driver.poll() is None, "the driver ended before it could be killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
        # Ray's dashboard and runtime-env agents outlive a driver killed with -9: end the ones it started
        for pid in _processes_with(b"TMPDIR=" + ray_tmp.encode()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    study = Study.load(directory)
    before = {t.number: t for t in study.store.trials() if t.finished}
    assert 6 <= len(before) < 16
    study.run(executor=ray_executor)
    trials = study.store.trials()
    params = _server_params(study)
    study.close()
    for number, trial in before.items():  # finished trials are kept, not run again
        assert (trials[number].reward, trials[number].finished_at) == (trial.reward, trial.finished_at)
    assert all(t.status == "ok" for t in trials)
    # and the search goes on exactly as an uninterrupted one (K = 1: the single-process REINFORCE)
    reference, reference_params = _reinforce_reference(tmp_path / "reinforce", n_trials=16, m=4)
    _assert_same_search(trials, reference, params, reference_params)


@pytest.mark.slow
def test_a_replica_actor_killed_mid_batch_is_restarted_from_the_checkpoint_and_its_children_retried(
    tmp_path, toy_registry, ray_executor, monkeypatch
):
    from archsearch.parameter_server.ray_driver import RayParameterServerRun

    finish = RayParameterServerRun._finish
    killed = []

    def finish_then_kill_the_replica(run, child, result):
        finish(run, child, result)
        if not killed:  # the first result is in, the other three children of the batch are running
            killed.append(run.ray.get(run.replicas[0].pid.remote()))
            os.kill(killed[0], signal.SIGKILL)

    monkeypatch.setattr(RayParameterServerRun, "_finish", finish_then_kill_the_replica)
    study = Study.create(_ps_config(8, replicas=1, shards=1, m=4, sleep_s=0.2), tmp_path / "ps")
    study.run(executor=ray_executor)
    trials = study.store.trials()
    params = _server_params(study)
    study.close()
    assert killed
    assert all(t.status == "ok" for t in trials)
    reference, reference_params = _reinforce_reference(tmp_path / "reinforce", n_trials=8, m=4)
    _assert_same_search(trials, reference, params, reference_params)


@pytest.mark.slow
def test_children_that_request_more_gpus_than_the_cluster_has_are_refused(
    tmp_path, toy_registry, ray_executor
):
    from archsearch.errors import ConfigError

    study = Study.create(_ps_config(4, replicas=1, shards=1, m=2, child_gpus=1), tmp_path / "s")
    with pytest.raises(
        ConfigError, match=r"each child requests 1 GPUs \(child_gpus\) but the Ray cluster has 0"
    ):
        study.run(executor=ray_executor)
    assert study.store.trials() == []
    study.close()


@pytest.mark.slow
def test_a_corrupt_newest_checkpoint_falls_back_and_the_trials_after_the_older_one_run_again(
    tmp_path, toy_registry, ray_executor, caplog
):
    import logging
    import sqlite3

    study = Study.create(_ps_config(8, replicas=1, shards=1, m=4), tmp_path / "ps")
    study.run(executor=ray_executor)
    study.close()
    with sqlite3.connect(tmp_path / "ps" / "study.db") as conn:  # all but the oldest kept are cut in half
        conn.execute(
            "UPDATE checkpoints SET state = substr(state, 1, length(state) / 2)"
            " WHERE id > (SELECT min(id) FROM checkpoints)"
        )
    study = Study.load(tmp_path / "ps")
    study.config = study.config.model_copy(update={"n_trials": 12})
    with caplog.at_level(logging.WARNING):
        study.run(executor=ray_executor)
    assert "cannot be read" in caplog.text and "run again" in caplog.text
    trials, params = study.store.trials(), _server_params(study)
    study.close()
    reference, reference_params = _reinforce_reference(tmp_path / "reinforce", n_trials=12, m=4)
    _assert_same_search(trials, reference, params, reference_params)
