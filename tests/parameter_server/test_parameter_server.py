from __future__ import annotations

import pytest
import torch

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.parameter_server.replicas import ControllerReplica
from archsearch.parameter_server.servers import ParameterServer, shard_names
from archsearch.spaces.nb201 import NB201Space
from archsearch.strategies.reinforce import Reinforce
from conftest import ToyLayerSpace, fraction_3x3


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6, rtol=0), name


@pytest.mark.parametrize("space", [ToyLayerSpace(), NB201Space()], ids=["toy_with_links", "nb201"])
def test_one_replica_one_shard_gives_the_single_process_reinforce_updates(space):
    seed, batch_size, updates = 3, 4, 6
    strategy = Reinforce(space, seed=seed, batch_size=batch_size)
    replica = ControllerReplica(space, seed=seed, batch_size=batch_size)
    server = ParameterServer(replica.initial_state(), num_shards=1)
    _assert_same(server.pull()[0], _params(strategy.controller))
    reward = fraction_3x3 if isinstance(space, ToyLayerSpace) else (lambda a: space.index(a) / 15_625)
    for _ in range(updates):
        params, version = server.pull()
        archs = replica.sample(params)
        expected = [strategy.ask() for _ in range(batch_size)]
        assert archs == expected
        rewards = [reward(a) for a in archs]
        for arch, r in zip(expected, rewards, strict=True):
            strategy.tell(arch, Result(), r)
        assert server.push(replica.gradient(archs, rewards), version) == 0
        _assert_same(server.pull()[0], _params(strategy.controller))
        assert replica.baseline == pytest.approx(strategy.baseline)
    assert strategy.num_updates == server.version == updates


@pytest.mark.parametrize("num_shards", [1, 2, 3, 7, 20, 50])
def test_sharding_covers_every_parameter_exactly_once(num_shards):
    names = list(ControllerReplica(ToyLayerSpace()).initial_state())
    shards = shard_names(names, num_shards)
    assert len(shards) == num_shards
    flat = [n for shard in shards for n in shard]
    assert sorted(flat) == sorted(names)
    assert len(flat) == len(set(flat))
    assert shard_names(list(reversed(names)), num_shards) == shards  # independent of dict order
    server = ParameterServer(ControllerReplica(ToyLayerSpace()).initial_state(), num_shards=num_shards)
    assert server.pull()[0].keys() == set(names)


def test_sharding_rejects_zero_shards():
    with pytest.raises(ConfigError, match="num_shards"):
        shard_names(["a"], 0)


def test_staleness_is_zero_for_one_replica_and_grows_with_interleaved_pushes():
    space = ToyLayerSpace()
    replicas = [ControllerReplica(space, seed=k, batch_size=2) for k in range(3)]
    server = ParameterServer(replicas[0].initial_state(), num_shards=4)
    for _ in range(3):
        params, version = server.pull()
        archs = replicas[0].sample(params)
        assert server.push(replicas[0].gradient(archs, [fraction_3x3(a) for a in archs]), version) == 0
    # all three pull the same version, then push one after another: staleness 0, 1, 2
    pulled = [(replica, *server.pull()) for replica in replicas]
    staleness = []
    for replica, params, version in pulled:
        archs = replica.sample(params)
        staleness.append(server.push(replica.gradient(archs, [fraction_3x3(a) for a in archs]), version))
    assert staleness == [0, 1, 2]
    assert server.staleness_log == [0, 0, 0, 0, 1, 2]
    assert server.version == 6


def _random_grads(state: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {n: torch.randn(t.shape, generator=generator) for n, t in state.items()}


@pytest.mark.parametrize("num_shards", [1, 5, 20])
def test_adam_on_shards_equals_torch_adam_on_the_whole_when_pushes_are_sequential(num_shards):
    state = ControllerReplica(ToyLayerSpace(), seed=0).initial_state()
    server = ParameterServer(state, num_shards=num_shards, lr=0.01)
    whole = {n: t.clone().requires_grad_(True) for n, t in state.items()}
    adam = torch.optim.Adam(list(whole.values()), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for step in range(5):
        grads = _random_grads(state, generator)
        assert server.push(grads, step) == 0
        for n, p in whole.items():
            p.grad = grads[n]
        adam.step()
        _assert_same(server.pull()[0], {n: p.detach() for n, p in whole.items()})


def test_accumulate_averages_that_many_gradients_before_one_adam_step():
    state = ControllerReplica(ToyLayerSpace(), seed=0).initial_state()
    server = ParameterServer(state, num_shards=3, lr=0.01, accumulate=2)
    whole = {n: t.clone().requires_grad_(True) for n, t in state.items()}
    adam = torch.optim.Adam(list(whole.values()), lr=0.01)
    generator = torch.Generator().manual_seed(1)
    first, second = _random_grads(state, generator), _random_grads(state, generator)
    assert server.push(first, 0) == 0
    assert server.version == 0
    _assert_same(server.pull()[0], state)  # nothing applied after one gradient
    assert server.push(second, 0) == 0
    assert server.version == 1
    for n, p in whole.items():
        p.grad = (first[n] + second[n]) / 2
    adam.step()
    _assert_same(server.pull()[0], {n: p.detach() for n, p in whole.items()})


def test_push_with_an_unknown_parameter_is_rejected():
    server = ParameterServer(ControllerReplica(ToyLayerSpace()).initial_state(), num_shards=2)
    with pytest.raises(ConfigError, match="unknown"):
        server.push({"nope": torch.zeros(1)}, 0)


def test_gradient_needs_one_reward_per_architecture():
    replica = ControllerReplica(ToyLayerSpace(), batch_size=2)
    archs = replica.sample(replica.initial_state())
    with pytest.raises(ConfigError, match="one reward per architecture"):
        replica.gradient(archs, [1.0])
