"""The one-shot search loop: epochs in the store, determinism, resume after interruption and kill -9,
the collapse check and the NB201 table check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.evaluators.tabular import load_table
from archsearch.oneshot.base import METHODS, OneShotMethod
from archsearch.oneshot.derived import (
    check_collapse,
    mean_entropy,
    nb201_output_is_zero,
    nb201_truth,
    skip_none_mass,
)
from archsearch.oneshot.run import (
    OneShotRun,
    epoch_batches,
    load_search_data,
    parse_oneshot_config,
)
from archsearch.spaces.nb201 import NB201Space
from archsearch.store import run_kind

TINY = {
    "dataset": "digits",
    "train_limit": 160,
    "batch_size": 32,
    "epochs": 3,
    "threads": 1,
    "supernet": {"channels": 2, "cells_per_stage": 1},
}


class GreedyCategorical(OneShotMethod):
    """A small stand-in method for the loop: sampled paths, SGD on the shared weights, and a categorical
    distribution moved towards the ops of paths that classify the validation batch well."""

    def __init__(
        self, supernet: Any, *, seed: int, total_steps: int = 1, lr: float = 0.05, rate: float = 0.3
    ):
        super().__init__(supernet, seed=seed)
        ops = len(supernet.op_names)
        self.theta = np.full((supernet.edges, ops), 1.0 / ops)
        self.rate = rate
        self.total_steps = total_steps
        self.optimizer = torch.optim.SGD(supernet.parameters(), lr=lr, momentum=0.9)

    def step(self, train_batch, valid_batch):
        choice = np.array([self.rng.choice(len(row), p=row) for row in self.theta])
        self.supernet.train()
        loss, _ = self.subnet_loss(train_batch, choice)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            _, valid_acc = self.subnet_loss(valid_batch, choice)
        self.theta[np.arange(len(choice)), choice] += self.rate * valid_acc
        self.theta /= self.theta.sum(axis=1, keepdims=True)
        self.steps_done += 1
        return {"train_loss": loss.item(), "valid_acc": valid_acc}

    def probabilities(self):
        return self.theta.copy()

    def derived_choice(self):
        return self.theta.argmax(axis=1)

    def converged(self):
        return bool(self.theta.max(axis=1).min() > 0.99)

    def state_dict(self):
        return {**self._base_state(), "theta": self.theta.copy(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self._load_base_state(state)
        self.theta = state["theta"].copy()
        self.optimizer.load_state_dict(state["optimizer"])


@pytest.fixture
def fake_asng(monkeypatch):
    """The stand-in method under the name "asng", so the loop runs without the real methods' cost."""
    import archsearch.oneshot  # noqa: F401  (registers the real methods first)

    monkeypatch.setitem(METHODS, "asng", GreedyCategorical)
    return GreedyCategorical


def tiny_config(**overrides: Any):
    return parse_oneshot_config({**TINY, **overrides})


def trajectory(directory: Path) -> list[tuple[Any, ...]]:
    """Everything an epoch records except its wall time."""
    run = OneShotRun.load(directory)
    try:
        records = run.store.epochs()
        summary = run.store.get_meta("summary")
    finally:
        run.close()
    if summary is not None:
        summary.pop("mean_epoch_s")
    return [(r.epoch, r.metrics, r.probabilities, r.arch_str) for r in records] + [summary]


class StopAfterEpoch:
    """Interrupts the run (as Ctrl-C would) in the middle of epoch ``epoch`` (0-based), after ``steps``."""

    def __init__(self, epoch: int, steps: int = 1) -> None:
        self.epoch, self.steps = epoch, steps

    def epoch_started(self, epoch, steps):
        pass

    def step_finished(self, epoch, step, metrics):
        if epoch == self.epoch and step + 1 == self.steps:
            raise KeyboardInterrupt

    def epoch_finished(self, record):
        pass


def test_run_records_every_epoch_and_the_nb201_truth(tmp_path, fake_asng) -> None:
    run = OneShotRun.create(tiny_config(), tmp_path / "run")
    seen = []

    class Listener(StopAfterEpoch):
        def epoch_finished(self, record):
            seen.append(record.epoch)

    summary = run.run([Listener(epoch=-1)])
    epochs = run.store.epochs()
    run.close()
    assert seen == [0, 1, 2] and [e.epoch for e in epochs] == [0, 1, 2]
    space = NB201Space()
    for record in epochs:
        probabilities = np.array(record.probabilities)
        assert probabilities.shape == (6, 5)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        assert space.encode(space.decode(record.arch_str)) == record.arch_str
        assert {"train_loss", "valid_acc", "entropy", "skip_none_mass"} <= set(record.metrics)
        assert record.metrics["entropy"] == pytest.approx(mean_entropy(probabilities))
        assert record.wall_s > 0
    # the distribution moved away from uniform: entropy fell below log(5)
    assert epochs[-1].metrics["entropy"] < np.log(5) - 1e-3
    assert run_kind(tmp_path / "run") == "oneshot"
    # the NB201 check: the found cell's accuracies are the table's own
    arch = Architecture.from_dict(summary["arch"])
    index = space.index(arch)
    assert summary["nb201"]["index"] == index and summary["arch_str"] == epochs[-1].arch_str
    for dataset in ("cifar10", "cifar100", "imagenet16"):
        table = load_table(dataset)
        row = summary["nb201"][dataset]
        assert row["test_acc_200ep"] == pytest.approx(table.test_acc_200ep[index])
        assert row["val_acc_200ep"] == pytest.approx(table.val_acc_200ep[index])
        assert row["rank"] == 1 + int(np.sum(table.test_acc_200ep > table.test_acc_200ep[index]))
    assert 0.0 <= summary["estimate_test_acc"] <= 1.0
    assert summary["collapse"]["verdict"] == check_collapse(space, arch).verdict


def test_same_seed_same_trajectory_other_seed_another(tmp_path, fake_asng) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        run = OneShotRun.create(tiny_config(seed=seed, epochs=2), tmp_path / name)
        run.run()
        run.close()
        runs[name] = trajectory(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_resume_after_an_interrupt_mid_epoch_equals_an_uninterrupted_run(tmp_path, fake_asng) -> None:
    whole = OneShotRun.create(tiny_config(), tmp_path / "whole")
    whole.run()
    whole.close()
    cut = OneShotRun.create(tiny_config(), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.run([StopAfterEpoch(epoch=1, steps=2)])
    assert [e.epoch for e in cut.store.epochs()] == [0]  # the half-done epoch 1 is not recorded
    cut.close()
    resumed = OneShotRun.load(tmp_path / "cut")
    resumed.run()
    resumed.close()
    assert trajectory(tmp_path / "cut") == trajectory(tmp_path / "whole")
    # a finished run resumes to the same summary without another epoch
    again = OneShotRun.load(tmp_path / "cut")
    summary = again.run()
    summary.pop("mean_epoch_s")
    assert summary == trajectory(tmp_path / "whole")[-1]
    assert again.completed_epochs() == 3
    again.close()


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_run import GreedyCategorical
from archsearch.oneshot import METHODS
from archsearch.oneshot.run import OneShotRun
if {fake!r}:
    METHODS["asng"] = GreedyCategorical
cls = METHODS["asng"]
original = cls.step
calls = [0]
def step(self, train_batch, valid_batch):
    calls[0] += 1
    if calls[0] == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, train_batch, valid_batch)
cls.step = step
OneShotRun.load({directory!r}).run()
"""


def _run_script(directory: Path, kill_at: int, fake: bool) -> int:
    """Continue the run in ``directory`` in a fresh process that kills itself with SIGKILL at step ``kill_at``
    of this process (0: never); its exit code."""
    script = KILL_SCRIPT.format(
        tests=str(Path(__file__).parent), fake=fake, kill_at=kill_at, directory=str(directory)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", script], env=env, timeout=120).returncode


@pytest.mark.slow
def test_kill_9_mid_epoch_resumes_to_the_uninterrupted_end(tmp_path) -> None:
    """With the real ASNG-NAS: its weights, optimizer, distribution, step size and generator all resume."""
    config = tiny_config()
    whole = OneShotRun.create(config, tmp_path / "whole")
    whole.run()
    whole.close()
    OneShotRun.create(config, tmp_path / "killed").close()
    steps = 160 // 2 // 32  # the training half of 160 images in batches of 32
    # SIGKILL in the middle of the second epoch: the first epoch is recorded, the rest is lost
    assert _run_script(tmp_path / "killed", kill_at=steps + 2, fake=False) == -9
    killed = OneShotRun.load(tmp_path / "killed")
    assert killed.completed_epochs() == 1
    killed.run()
    killed.close()
    assert trajectory(tmp_path / "killed") == trajectory(tmp_path / "whole")


def test_epoch_batches_cover_the_training_half_once_and_depend_only_on_seed_and_epoch() -> None:
    data = load_search_data(tiny_config(), torch.device("cpu"))
    batches = list(epoch_batches(data, 32, seed=1, epoch=2))
    assert len(batches) == len(data.train_x) // 32
    seen = torch.cat([train[0] for train, _ in batches])
    assert len(torch.unique(seen.flatten(1), dim=0)) == len(seen)  # no training image twice
    again = list(epoch_batches(data, 32, seed=1, epoch=2))
    assert all(
        torch.equal(a[0][0], b[0][0]) and torch.equal(a[1][0], b[1][0])
        for a, b in zip(batches, again, strict=True)
    )
    other = list(epoch_batches(data, 32, seed=1, epoch=3))
    assert not torch.equal(batches[0][0][0], other[0][0][0])


def test_collapse_is_judged_on_the_live_edges_of_the_cell() -> None:
    space = NB201Space()

    def verdict(*ops: str) -> str:
        return check_collapse(space, Architecture("nb201", ops)).verdict

    skip = check_collapse(
        space, Architecture("nb201", ("skip_connect",) * 4 + ("nor_conv_3x3", "avg_pool_3x3"))
    )
    assert (
        skip.collapsed
        and skip.skip == 4
        and skip.verdict == "collapsed: 4 of 6 live edges are skip connections"
    )
    healthy = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3", "avg_pool_3x3")
    assert (
        verdict(*healthy)
        == "not collapsed: 1 of 5 live edges skip, 3 with weights; 1 of 6 edges none or dead"
    )
    # one 3x3 convolution from input to output, everything else none or dead: a plain conv cell, not a collapse
    single = ("none", "none", "nor_conv_3x3", "nor_conv_3x3", "none", "none")
    assert (
        verdict(*single) == "not collapsed: 0 of 1 live edges skip, 1 with weights; 5 of 6 edges none or dead"
    )
    # every path from node 0 to node 3 crosses none: the cell outputs zeros
    cut = ("none", "none", "nor_conv_3x3", "none", "nor_conv_3x3", "nor_conv_3x3")
    assert nb201_output_is_zero(cut) and "outputs zeros" in verdict(*cut)
    assert not nb201_output_is_zero(("nor_conv_3x3", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3"))
    # node 2 feeds only none, so the convolutions into it are dead: the cell is average pooling and skips
    dead_convs = ("skip_connect", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none")
    assert verdict(*dead_convs).startswith(
        "collapsed: 2 of 3 live edges are skip connections; no live op has weights"
    )
    pooled = check_collapse(space, Architecture("nb201", ("avg_pool_3x3",) * 4 + ("nor_conv_3x3", "none")))
    assert not pooled.collapsed and pooled.parameter_free_dominated
    assert pooled.verdict == (
        "parameter-free ops dominate: 2 of 3 live edges are pooling/skip, 1 with weights; 3 of 6 edges none or dead"
    )
    assert not check_collapse(space, Architecture("nb201", healthy)).parameter_free_dominated
    assert verdict(*("avg_pool_3x3",) * 6) == "collapsed: no live op has weights"


def test_collapse_of_a_darts_cell_counts_its_normal_cell() -> None:
    from archsearch.spaces.nasnet_cell import Block, DartsCellSpace

    space = DartsCellSpace()
    conv = [Block(0, 1, "sep_conv_3x3", "dil_conv_3x3") for _ in range(4)]
    skips = [Block(0, 1, "skip_connect", "skip_connect")] * 3 + [Block(0, 1, "skip_connect", "sep_conv_3x3")]
    collapsed = check_collapse(space, space.from_cells(skips, conv))
    assert collapsed.collapsed and collapsed.verdict == "collapsed: 7 of 8 live edges are skip connections"
    healthy = check_collapse(space, space.from_cells(conv, skips))  # the reduction cell does not count
    assert not healthy.collapsed and healthy.ops == ("sep_conv_3x3", "dil_conv_3x3") * 4


def test_entropy_and_skip_mass_by_hand() -> None:
    probabilities = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    assert mean_entropy(probabilities) == pytest.approx(np.log(2) / 2, abs=1e-9)
    assert skip_none_mass(probabilities, ("none", "conv", "skip_connect")) == pytest.approx((0.5 + 1.0) / 2)


def test_nb201_truth_ranks_the_best_cell_first() -> None:
    table = load_table("cifar10")
    best = int(np.argmax(table.test_acc_200ep))
    truth = nb201_truth(NB201Space().from_index(best))
    assert truth["index"] == best and truth["cifar10"]["rank"] == 1
    assert truth["cifar10"]["test_acc_200ep"] == pytest.approx(truth["cifar10"]["optimum_test_acc_200ep"])


def test_bad_options_are_one_line_config_errors(tmp_path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="--order is DARTS' gradient order; method 'asng' has none"):
        parse_oneshot_config({"method": "asng", "order": 2})
    with pytest.raises(ConfigError, match="bad one-shot option method"):
        parse_oneshot_config({"method": "nasnet"})
    with pytest.raises(ConfigError, match="unknown data set 'svhn'"):
        parse_oneshot_config({"dataset": "svhn"})
    with pytest.raises(ConfigError, match="batch_size 512 is larger than the 80 training"):
        OneShotRun.create(tiny_config(batch_size=512), tmp_path / "big")
    assert not (tmp_path / "big").exists()
    with pytest.raises(ConfigError, match="cells_per_stage"):
        OneShotRun.create(tiny_config(supernet={"cells_per_stage": 0}), tmp_path / "bad")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="asked for CUDA, which this machine lacks"):
        OneShotRun.create(tiny_config(device="cuda"), tmp_path / "cuda")
