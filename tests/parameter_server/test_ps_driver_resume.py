"""The Ray parameter-server driver stopped at each point where a kill -9 could hit it, then resumed.

Ray is replaced by an in-process stand-in that runs every actor call and task at once, so each cut point
is hit exactly and the tests take no Ray start-up; the real Ray run is in test_ray_parameter_server.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from test_ray_parameter_server import _assert_same_search, _ps_config, _reinforce_reference, _server_params

from archsearch.parameter_server.ray_driver import RayParameterServerRun
from archsearch.study import Study
from conftest import toy_config


class _Ref:
    """The outcome of a call made at once: its value, or the exception it raised."""

    def __init__(self, call: Any) -> None:
        try:
            self.value, self.error = call(), None
        except Exception as exc:
            self.value, self.error = None, exc

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class _Handle:
    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.obj, name)
        return SimpleNamespace(remote=lambda *args: _Ref(lambda: method(*args)))


class _Remote:
    def __init__(self, target: Any) -> None:
        self.target = target

    def options(self, **_: Any) -> _Remote:
        return self

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.target, type):
            return _Handle(self.target(*args, **kwargs))
        return _Ref(lambda: self.target(*args, **kwargs))


class FakeRay:
    """Just the part of the ray module that the driver and its actors use; everything runs in order."""

    def remote(self, *args: Any, **_: Any) -> Any:
        return _Remote(args[0]) if args else _Remote

    def get(self, refs: Any) -> Any:
        return [r.get() for r in refs] if isinstance(refs, list) else refs.get()

    def wait(self, refs: list, num_returns: int = 1) -> tuple[list, list]:
        return refs[:num_returns], refs[num_returns:]

    def kill(self, actor: Any) -> None:
        pass

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (a BaseException, so no handler of ours catches it)."""


@pytest.fixture
def fake_ray(monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(__import__("sys").modules, "ray", fake)  # the actors' own `import ray`
    threads = torch.get_num_threads()
    yield fake
    torch.set_num_threads(threads)  # the stand-in runs children here, and they set one thread


def _run(study: Study, fake: FakeRay) -> None:
    options = study.strategy.options
    RayParameterServerRun(study, options, SimpleNamespace(ray=fake, workers=2)).run()


def _kill_at(monkeypatch, study: Study, method: str, when) -> None:
    """Make ``study.store.<method>`` raise Killed on the call for which ``when(args, kwargs)`` is true."""
    original = getattr(study.store, method)

    def maybe_killed(*args: Any, **kwargs: Any) -> Any:
        if when(args, kwargs):
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(study.store, method, maybe_killed)


def _counter():
    calls = []

    def nth(n: int, test=lambda a, k: True):
        def when(args, kwargs):
            if test(args, kwargs):
                calls.append(1)
                return len(calls) == n
            return False

        return when

    return nth


def _with_checkpoint(args, kwargs) -> bool:
    return (args[5] if len(args) > 5 else kwargs.get("checkpoint")) is not None


@pytest.mark.parametrize(
    ("method", "nth", "test"),
    [
        # the second batch's push reached the shards, the store never heard of it
        ("finish_trial", 2, _with_checkpoint),
        # the second batch's checkpoint is written, its trial rows are not
        ("add_trial", 5, None),
        # in the middle of the second batch's results
        ("finish_trial", 6, None),
    ],
    ids=["after_a_push", "before_the_rows", "mid_batch"],
)
def test_killed_at_any_point_the_resumed_search_equals_the_uninterrupted_one(
    tmp_path, toy_registry, fake_ray, monkeypatch, method, nth, test
):
    study = Study.create(_ps_config(12, replicas=1, shards=2, m=4), tmp_path / "ps")
    _kill_at(monkeypatch, study, method, _counter()(nth, test or (lambda a, k: True)))
    with pytest.raises(Killed):
        _run(study, fake_ray)
    finished = {t.number: t for t in study.store.trials() if t.finished}
    study.close()
    resumed = Study.load(tmp_path / "ps")
    _run(resumed, fake_ray)
    trials = resumed.store.trials()
    params = _server_params(resumed)
    resumed.close()
    for number, trial in finished.items():
        assert (trials[number].reward, trials[number].finished_at) == (trial.reward, trial.finished_at)
    reference, reference_params = _reinforce_reference(tmp_path / "reinforce", n_trials=12, m=4)
    _assert_same_search(trials, reference, params, reference_params)
    assert [t.info["staleness"] for t in trials if "staleness" in t.info] == [0, 0, 0]


def test_a_checkpoint_of_the_in_process_mode_is_not_resumed_on_actors(tmp_path, toy_registry, fake_ray):
    from archsearch.errors import ConfigError

    config = toy_config(n_trials=4, strategy={"name": "nasrl_ps", "params": {"children_per_replica": 2}})
    study = Study.create(config, tmp_path / "s")
    study.run()  # inline: the in-process parameter server writes its own checkpoints
    with pytest.raises(ConfigError, match="written by nasrl_ps without Ray actors"):
        _run(study, fake_ray)
    study.close()
