"""NAS-RL's parameter-server mode as a Strategy: K = 1 equals Reinforce, staleness, exact resume."""

from __future__ import annotations

import pytest
import torch

from archsearch.core import Architecture, Result
from archsearch.parameter_server.strategy import ParameterServerReinforce
from archsearch.spaces.nb201 import NB201Space
from archsearch.strategies.reinforce import Reinforce
from archsearch.study import Study
from conftest import StopAfter, tabular_config, toy_config


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These controllers are tiny: extra intra-op threads only contend for the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _reward(space: NB201Space, arch: Architecture) -> float:
    return space.index(arch) / 15_625


def _server_params(strategy: ParameterServerReinforce) -> dict[str, torch.Tensor]:
    return strategy.server.pull()[0]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6, rtol=0), name


def test_one_replica_one_shard_equals_reinforce():
    space = NB201Space()
    ps = ParameterServerReinforce(space, seed=5, num_replicas=1, children_per_replica=8, num_shards=1)
    single = Reinforce(space, seed=5, batch_size=8)
    _assert_same(_server_params(ps), {n: p.detach() for n, p in single.controller.named_parameters()})
    for _ in range(5):
        archs = [ps.ask() for _ in range(8)]
        assert archs == [single.ask() for _ in range(8)]
        for arch in reversed(archs):  # the order of the tells is the same for both, whatever it is
            ps.tell(arch, Result(), _reward(space, arch))
            single.tell(arch, Result(), _reward(space, arch))
        assert ps.progress()["staleness"] == 0
    assert ps.server.version == single.num_updates == 5
    _assert_same(_server_params(ps), {n: p.detach() for n, p in single.controller.named_parameters()})
    assert ps.replicas[0].baseline == pytest.approx(single.baseline)


def _interleaved(strategy: ParameterServerReinforce, space: NB201Space, rounds: int) -> list[dict]:
    """Ask two replicas' batches, then tell them alternately: replicas push on older parameters."""
    infos = []
    for _ in range(rounds):
        m = strategy.replicas[0].batch_size
        asked = [strategy.ask() for _ in range(2 * m)]
        for a, b in zip(asked[:m], asked[m:], strict=True):
            for arch in (a, b):
                strategy.tell(arch, Result(), _reward(space, arch))
                infos.append(strategy.progress())
    return infos


def test_staleness_grows_with_interleaved_replicas_and_every_replica_pushes():
    space = NB201Space()
    strategy = ParameterServerReinforce(space, seed=1, num_replicas=4, children_per_replica=4, num_shards=5)
    infos = _interleaved(strategy, space, rounds=4)
    staleness = [i["staleness"] for i in infos if "staleness" in i]
    assert max(staleness) >= 1
    assert strategy.server.version == 8
    assert all(p == 2 for p in strategy.pushes)
    assert all(strategy.replicas[r].baseline is not None for r in range(4))
    assert strategy.server.staleness_log == [0, 1] * 4
    assert infos[-1]["replicas_waiting"] == 0


def test_replicas_differ_but_replica_zero_uses_the_seed():
    space = NB201Space()
    a = ParameterServerReinforce(space, seed=2, num_replicas=3, children_per_replica=4)
    b = Reinforce(space, seed=2, batch_size=4)
    assert [a.ask() for _ in range(4)] == [b.ask() for _ in range(4)]
    assert [a.ask() for _ in range(4)] != [b.ask() for _ in range(4)]  # replica 1 has its own stream


def test_state_dict_round_trip_mid_batch_continues_identically():
    space = NB201Space()
    source = ParameterServerReinforce(space, seed=4, num_replicas=3, children_per_replica=4, num_shards=3)
    _interleaved(source, space, rounds=2)
    open_asks = [source.ask() for _ in range(6)]  # one batch out, another half out
    for arch in open_asks[:3]:
        source.tell(arch, Result(), _reward(space, arch))
    copy_ = ParameterServerReinforce(space, seed=99, num_replicas=3, children_per_replica=4, num_shards=3)
    copy_.load_state_dict(source.state_dict())
    assert copy_.progress() == source.progress()
    for strategy in (source, copy_):
        for arch in open_asks[3:]:
            strategy.tell(arch, Result(), _reward(space, arch))
    runs = [_interleaved(s, space, rounds=2) for s in (source, copy_)]
    assert runs[0] == runs[1]
    assert [source.ask() for _ in range(5)] == [copy_.ask() for _ in range(5)]
    _assert_same(_server_params(source), _server_params(copy_))
    for a, b in zip(source.server.shards, copy_.server.shards, strict=True):
        assert a.version == b.version
    assert source.pushes == copy_.pushes


def test_tell_of_an_unasked_architecture_is_an_error():
    space = NB201Space()
    strategy = ParameterServerReinforce(space, seed=0, num_replicas=2, children_per_replica=2)
    arch = strategy.ask()
    strategy.tell(arch, Result(), 0.5)
    with pytest.raises(Exception, match="no outstanding ask"):
        strategy.tell(arch, Result(), 0.5)


@pytest.mark.parametrize("option", ["child_cpus", "child_gpus"])
def test_negative_child_resources_are_rejected(option):
    from archsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="child_cpus and child_gpus must not be negative"):
        ParameterServerReinforce(NB201Space(), **{option: -1})


def test_without_the_ray_executor_the_strategy_leaves_the_loop_to_the_study(tmp_path, toy_registry):
    config = toy_config(n_trials=4, strategy={"name": "nasrl_ps", "params": {"num_replicas": 2}})
    study = Study.create(config, tmp_path / "s")
    assert study.strategy.drive(study, [], None) is False
    study.close()


def _config():
    params = {"num_replicas": 3, "children_per_replica": 4, "num_shards": 4}
    return tabular_config("nasrl_ps", params, max_concurrent=12)


def _trajectory(study: Study) -> list[tuple]:
    return [(t.number, t.arch, t.reward, t.cost_s, t.info) for t in study.store.trials()]


def test_tabular_study_records_staleness_and_resumes_exactly(tmp_path):
    full = Study.create(_config(), tmp_path / "full")
    full.run()
    expected = _trajectory(full)
    full.close()
    assert 15 < len(expected) < 80
    staleness = [info["staleness"] for *_, info in expected if info and "staleness" in info]
    assert staleness and max(staleness) >= 1
    assert all("ps_version" in info for *_, info in expected if info is not None)

    cut = Study.create(_config(), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([StopAfter(len(expected) // 2 + 1)])
    cut.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    assert _trajectory(resumed) == expected
    resumed.close()


def test_asks_beyond_all_replicas_give_a_busy_replica_another_batch():
    space = NB201Space()
    strategy = ParameterServerReinforce(space, seed=0, num_replicas=2, children_per_replica=2, num_shards=2)
    asked = [strategy.ask() for _ in range(6)]
    assert [b.replica for b in strategy.batches] == [0, 1, 0]
    assert strategy.progress()["replicas_waiting"] == 2
    for arch in reversed(asked):
        strategy.tell(arch, Result(), _reward(space, arch))
    assert strategy.pushes == [2, 1]
    assert strategy.server.staleness_log == [0, 1, 2]
    assert strategy.progress() == {"ps_version": 3.0, "replicas_waiting": 0.0, "staleness": 2.0}
