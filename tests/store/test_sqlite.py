from __future__ import annotations

import pytest
import torch

from archsearch.errors import StoreError
from archsearch.evaluators.base import Result
from archsearch.spaces.base import Architecture
from archsearch.store.sqlite import Store

ARCH = Architecture("toy", ((), 3, 3, (0,), 5, 1))


def test_trial_round_trip_keeps_every_field(tmp_path):
    store = Store(tmp_path, create=True)
    store.add_trial(0, ARCH, "a", seed=11, ask_event=0)
    (running,) = store.trials()
    assert running.status == "running" and not running.finished and running.arch == ARCH
    result = Result(metrics={"val_acc": 0.9}, cost_s=1.5, curve={"val_acc": [0.5, 0.9]})
    store.finish_trial(
        0, result, reward=0.729, tell_event=1, info={"baseline": 0.5}, checkpoint={"w": torch.ones(2)}
    )
    (done,) = store.trials()
    assert done.status == "ok" and done.reward == pytest.approx(0.729) and done.tell_event == 1
    assert done.result().curve == {"val_acc": [0.5, 0.9]} and done.info == {"baseline": 0.5}
    event, state = store.latest_checkpoint()
    assert event == 1 and torch.equal(state["w"], torch.ones(2))


def test_a_trial_cannot_be_finished_twice(tmp_path):
    store = Store(tmp_path, create=True)
    store.add_trial(0, ARCH, "a", seed=1, ask_event=0)
    store.finish_trial(0, Result(), 1.0, 1)
    with pytest.raises(StoreError, match="finished twice"):
        store.finish_trial(0, Result(), 1.0, 2)


def test_unserialisable_checkpoint_leaves_the_trial_running(tmp_path):
    store = Store(tmp_path, create=True)
    store.add_trial(0, ARCH, "a", seed=1, ask_event=0)
    with pytest.raises(TypeError, match="not storable"):
        store.finish_trial(
            0, Result(), 1.0, 1, checkpoint={"bad": (x for x in ())}
        )  # generators do not pickle
    assert store.trials()[0].status == "running"


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    store = Store(tmp_path, create=True)
    for n in range(6):
        store.add_trial(n, ARCH, "a", seed=1, ask_event=2 * n)
        store.finish_trial(n, Result(), 1.0, 2 * n + 1, checkpoint={"n": n})
    assert store.latest_checkpoint()[1] == {"n": 5}
    assert store._conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 3


def test_opening_a_directory_without_a_study_says_so(tmp_path):
    with pytest.raises(StoreError, match="no study in"):
        Store(tmp_path / "nothing")


def test_a_file_that_is_not_a_database_is_rejected(tmp_path):
    (tmp_path / "study.db").write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a readable study database"):
        Store(tmp_path)
