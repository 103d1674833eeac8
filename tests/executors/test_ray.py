from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.errors import ConfigError
from archsearch.executors.ray import RayExecutor
from archsearch.study import Study
from conftest import toy_config


def test_without_ray_installed_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install archsearch\[ray\]"):
        RayExecutor()


@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray for the module (starting Ray takes seconds); workers import the tests' modules."""
    pytest.importorskip("ray")
    tests = str(Path(__file__).parents[1])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (tests, str(Path(__file__).parent), old) if p)
    executor = RayExecutor(num_cpus=2)
    yield executor
    executor._owns_session = True
    executor.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only_and_keeps_its_token_out_of_home(ray_executor):
    assert ray_executor.workers == 2
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ray_lines = [line for line in out.splitlines() if "ray" in line or "gcs_server" in line]
    assert ray_lines
    for line in ray_lines:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), line
    assert not (Path.home() / ".ray" / "auth_token").exists()


@pytest.mark.slow
def test_ray_retries_a_trial_whose_worker_died_and_fails_one_that_always_kills(
    tmp_path, toy_registry, monkeypatch, ray_executor
):
    # the evaluator of the pool tests: it kills the (Ray) worker process it runs in
    monkeypatch.setitem(toy_registry.EVALUATORS, "killer", "test_pool:KillingEvaluator")
    for always in (False, True):
        markers = tmp_path / f"m{always}"
        markers.mkdir()
        config = toy_config(
            n_trials=4,
            executor="ray",
            max_retries=2,
            evaluator={"name": "killer", "params": {"marker_dir": str(markers), "always": always}},
        )
        study = Study.create(config, tmp_path / f"s{always}")
        study.run(executor=ray_executor)
        trials = study.store.trials()
        study.close()
        assert [t.number for t in trials] == list(range(4))
        for t in trials:
            if always and t.arch.values[1] == 1:
                assert t.status == "failed" and t.error.startswith("worker died 3 times:"), t.error
            else:
                assert t.status == "ok", t.error


@pytest.mark.slow
def test_search_on_ray_through_the_cli(tmp_path, toy_registry, ray_executor):
    args = ["search", "--out", str(tmp_path / "s"), "--executor", "ray", "--max-concurrent", "2"]
    args += ["--trials", "6", "--quiet", "--space", "toy"]
    args += ["--set", "evaluator.name=toy", "--set", "evaluator.params={}"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert not exit_info.value.code
    study = Study.load(tmp_path / "s")
    trials = study.store.trials()
    study.close()
    assert study.config.executor == "ray" and study.config.max_concurrent == 2
    assert [t.status for t in trials] == ["ok"] * 6


@pytest.mark.slow
def test_ray_says_which_worker_process_runs_which_trial(ray_executor, toy_space):
    import time

    import numpy as np

    from conftest import ToyEvaluator

    evaluator = ToyEvaluator(sleep_s=3.0)
    ray_executor.activity({})  # starts the small actor that the trial tasks report to
    archs = [toy_space.sample(np.random.default_rng(n)) for n in range(3)]
    futures = {n: ray_executor.submit(evaluator, toy_space, arch, n) for n, arch in enumerate(archs)}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the study passes the trials in flight, as here
        activity = ray_executor.activity({n: f for n, f in futures.items() if not f.done()})
        # Two running and the third waiting, read in one call (a trial ending between the reads of a
        # loaded machine could otherwise show two busy workers next to no waiting trial).
        if activity.busy == 2 and activity.queued == 1:
            break
        time.sleep(0.1)
    busy = {name: trials for name, trials in activity.workers.items() if trials}
    assert len(busy) == 2 and sorted(n for t in busy.values() for n in t) in ([0, 1], [0, 2], [1, 2])
    assert len(activity.unplaced) == 1 and activity.queued == 1
    for name in busy:  # Ray worker processes on this machine
        cmdline = Path(f"/proc/{int(name.removeprefix('pid '))}/cmdline").read_bytes()
        assert cmdline.startswith(b"ray::"), cmdline
    assert all(future.result().ok for future in futures.values())
    after = ray_executor.activity({})
    assert set(busy) <= set(after.workers) and after.busy == 0
