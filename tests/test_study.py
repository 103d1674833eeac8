from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archsearch.errors import ConfigError
from archsearch.study import Study, best_trial
from conftest import StopAfter, toy_config


def _trajectory(directory: Path) -> list[tuple]:
    study = Study.load(directory)
    try:
        return [(t.number, t.arch, t.status, t.reward) for t in study.store.trials()]
    finally:
        study.close()


def _run(directory: Path, **overrides) -> list[tuple]:
    study = Study.create(toy_config(**overrides), directory)
    study.run()
    study.close()
    return _trajectory(directory)


def test_study_runs_all_trials_and_records_them(tmp_path, toy_registry):
    trials = _run(tmp_path / "s")
    assert [t[0] for t in trials] == list(range(12))
    assert all(status == "ok" for _, _, status, _ in trials)


def test_same_seed_gives_the_same_trajectory(tmp_path, toy_registry):
    assert _run(tmp_path / "a") == _run(tmp_path / "b")
    assert _run(tmp_path / "a2", seed=1) != _run(tmp_path / "b2")


def test_failing_children_are_recorded_and_the_search_goes_on(tmp_path, toy_registry):
    trials = _run(tmp_path / "s", n_trials=30, evaluator={"name": "toy", "params": {"fail_when_h1": True}})
    failed = [t for t in trials if t[2] == "failed"]
    assert failed and len(trials) == 30
    study = Study.load(tmp_path / "s")
    record = next(t for t in study.store.trials() if t.status == "failed")
    assert "nan" in record.error and record.reward == 0.0
    assert best_trial(study.store.trials()).status == "ok"


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, toy_registry):
    expected = _run(tmp_path / "full", n_trials=20)
    study = Study.create(toy_config(n_trials=20), tmp_path / "cut")

    with pytest.raises(KeyboardInterrupt):
        study.run([StopAfter(7)])
    study.close()
    resumed = Study.load(tmp_path / "cut")
    resumed.run()
    resumed.close()
    assert _trajectory(tmp_path / "cut") == expected


def test_creating_over_an_existing_study_needs_overwrite(tmp_path, toy_registry):
    _run(tmp_path / "s", n_trials=2)
    with pytest.raises(ConfigError, match="already holds a study"):
        Study.create(toy_config(), tmp_path / "s")
    Study.create(toy_config(), tmp_path / "s", overwrite=True).close()


def test_unknown_names_and_options_are_config_errors(tmp_path, toy_registry):
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        Study.create(toy_config(strategy={"name": "nope"}), tmp_path / "a")
    with pytest.raises(ConfigError, match="unknown option 'learning_rate'"):
        Study.create(
            toy_config(strategy={"name": "reinforce", "params": {"learning_rate": 1}}), tmp_path / "b"
        )
    assert not (tmp_path / "a").exists()


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from archsearch import registry
    registry.SPACES["toy"] = "conftest:ToyLayerSpace"
    registry.EVALUATORS["toy"] = "conftest:ToyEvaluator"
    from conftest import StopAfter, toy_config
    from archsearch.study import Study
    if __name__ == "__main__":
        config = toy_config(n_trials=24, executor={executor!r}, workers=2,
                            evaluator={{"name": "toy", "params": {{"sleep_s": 0.05}}}})
        if sys.argv[1] == "create":
            study = Study.create(config, sys.argv[2])
        else:
            study = Study.load(sys.argv[2])
        study.run()
    """
)


@pytest.mark.parametrize("executor", ["inline", "pool"])
def test_kill_9_then_resume_loses_and_repeats_no_trial(tmp_path, toy_registry, executor):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent), executor=executor))
    full = tmp_path / "full"
    subprocess.run([sys.executable, str(script), "create", str(full)], check=True, timeout=120)
    expected = _trajectory(full)
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, str(script), "create", str(cut)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it mid-search, once some trials are done
        if (cut / "study.db").exists() and sum(t[2] != "running" for t in _safe_trajectory(cut)) >= 8:
            break
        time.sleep(0.02)
    workers = _children_of(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [t for t in _trajectory(cut) if t[2] != "running"]
    assert 8 <= len(before) < 24
    if executor == "pool":  # the killed driver's workers must not outlive it
        assert workers
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
    subprocess.run([sys.executable, str(script), "resume", str(cut)], check=True, timeout=120)
    after = _trajectory(cut)
    assert after[: len(before)] == before  # nothing finished was lost or changed
    assert after == expected


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    return [
        int(path.name)
        for path in Path("/proc").glob("[0-9]*")
        if _status(int(path.name)).get("PPid", "").strip() == str(pid)
    ]


def _alive(pid: int) -> bool:
    state = _status(pid).get("State", "")
    return bool(state) and not state.startswith("Z")


def _safe_trajectory(directory: Path) -> list[tuple]:
    try:
        return _trajectory(directory)
    except Exception:
        return []


def test_cost_clock_stops_when_summed_result_costs_reach_the_budget(tmp_path, toy_registry):
    # each toy result costs 0.01 simulated seconds: a 0.1 s budget admits 10 trials (inline, one at a time)
    trials = _run(tmp_path / "s", n_trials=50, max_time_s=0.1, clock="cost")
    assert 10 <= len(trials) <= 11


def test_trials_dataframe_has_one_row_per_trial_with_its_metrics_and_decisions(tmp_path, toy_registry):
    study = Study.create(toy_config(n_trials=3, strategy={"name": "random"}), tmp_path / "s")
    study.run()
    frame = study.trials_dataframe()
    trials = study.store.trials()
    study.close()
    assert list(frame["number"]) == [0, 1, 2]
    assert list(frame["reward"]) == [t.reward for t in trials]
    assert any(c.startswith("metric_") for c in frame.columns)
    assert any(c.startswith("decision_") for c in frame.columns)
