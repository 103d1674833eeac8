from __future__ import annotations

import sqlite3

import pytest
import torch

from archsearch.core import Architecture, Result
from archsearch.errors import StoreError
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
    with pytest.raises(StoreError, match="no archsearch run in"):
        Store(tmp_path / "nothing")


def test_a_file_that_is_not_a_database_is_rejected(tmp_path):
    (tmp_path / "study.db").write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a readable study database"):
        Store(tmp_path)


def _fill_to_the_page_limit(store: Store) -> None:
    """SQLite's page limit raises the same SQLITE_FULL as a full disk: no write may add a page."""
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_rolls_the_transaction_back_and_says_how_to_resume(tmp_path):
    Store(tmp_path, create=True).close()
    store = Store(tmp_path)  # a run that has started: it can be resumed
    store.add_trial(0, ARCH, "a", seed=1, ask_event=0)
    store.finish_trial(0, Result(metrics={"val_acc": 0.5}), 0.5, 1, checkpoint={"n": 0})
    store.add_trial(1, ARCH, "b", seed=2, ask_event=2)
    _fill_to_the_page_limit(store)
    big = {"weights": torch.zeros(50_000)}  # a checkpoint that needs new pages
    with pytest.raises(
        StoreError, match=r"is full; .* intact: free some space, then continue with `archsearch resume"
    ):
        store.finish_trial(1, Result(metrics={"val_acc": 0.7}), 0.7, 3, checkpoint=big)
    assert not store._conn.in_transaction
    assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [t.status for t in store.trials()] == ["ok", "running"] and store.latest_checkpoint()[1] == {
        "n": 0
    }
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space is free again
    store.finish_trial(1, Result(metrics={"val_acc": 0.7}), 0.7, 3, checkpoint=big)
    assert [t.status for t in store.trials()] == ["ok", "ok"]
    store.close()


def test_a_full_disk_while_a_store_is_made_says_to_start_again(tmp_path):
    store = Store(tmp_path, create=True)
    _fill_to_the_page_limit(store)
    with pytest.raises(StoreError, match="is full: free some space, then start the run again"):
        store.set_meta("config", "x" * 100_000)
    store.close()


def test_errors_that_are_not_the_databases_pass_through_after_the_rollback(tmp_path):
    store = Store(tmp_path, create=True)
    with pytest.raises(KeyError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO meta VALUES ('half', '1')")
            raise KeyError("the caller's own error")
    assert store.get_meta("half") is None
    store.close()


def test_a_store_cannot_be_made_where_a_file_is(tmp_path):
    (tmp_path / "file").write_text("the user's\n")
    with pytest.raises(StoreError, match="is a file, not a directory"):
        Store(tmp_path / "file", create=True)
    with pytest.raises(StoreError, match="a part of its path is a file"):
        Store(tmp_path / "file" / "run", create=True)
    assert (tmp_path / "file").read_text() == "the user's\n"


@pytest.mark.parametrize("mode", [{}, {"create": True}, {"read_only": True}])
def test_a_foreign_sqlite_file_is_refused_by_every_open_and_left_unchanged(tmp_path, mode):
    path = tmp_path / "study.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(StoreError, match="is not an archsearch run database"):
        Store(tmp_path, **mode)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_a_new_store_has_its_schema_version_from_its_first_commit(tmp_path):
    Store(tmp_path, create=True).close()
    conn = sqlite3.connect(tmp_path / "study.db")
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    conn.close()
    assert Store(tmp_path, read_only=True).get_meta("schema_version") == 1


def test_a_checkpoint_row_with_a_crafted_event_or_state_column_is_skipped_as_corrupt(tmp_path) -> None:
    import sqlite3

    store = Store(tmp_path, create=True)
    store.add_checkpoint(3, {"x": 1})
    store.close()
    with sqlite3.connect(tmp_path / "study.db") as conn:
        conn.execute("INSERT INTO checkpoints (event, created_at, state) VALUES ('x', 0, 'text')")
        conn.execute("INSERT INTO checkpoints (event, created_at, state) VALUES (7, 0, 8589934592)")
    store = Store(tmp_path)
    assert store.latest_checkpoint() == (3, {"x": 1})
    store.close()
