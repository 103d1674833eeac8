"""Pruning inside a study: pruned trials recorded, determinism, kill -9 and resume, one-line errors."""

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
from conftest import toy_config

ASHA = {"name": "asha", "params": {"min_resource": 1, "reduction_factor": 3}}


@pytest.fixture
def step_registry(toy_registry, monkeypatch):
    monkeypatch.setitem(toy_registry.EVALUATORS, "step", "pruning_toys:StepEvaluator")
    monkeypatch.setitem(toy_registry.EVALUATORS, "silent", "pruning_toys:SilentEvaluator")
    return toy_registry


def _config(**overrides):
    data = {
        "n_trials": 27,
        "strategy": {"name": "random"},
        "evaluator": {"name": "step"},
        "reward": {"name": "metric", "params": {"metric": "val_acc"}},
        "pruner": ASHA,
    }
    data.update(overrides)
    return toy_config(**data)


def _trials(directory: Path):
    study = Study.load(directory)
    try:
        return study.store.trials(), study.store.reports()
    finally:
        study.close()


def _run(directory: Path, **overrides):
    study = Study.create(_config(**overrides), directory)
    try:
        study.run()
    finally:
        study.close()
    return _trials(directory)


def test_asha_stops_bad_children_early_and_keeps_the_good_ones(tmp_path, step_registry):
    trials, reports = _run(tmp_path / "s")
    pruned = [t for t in trials if t.status == "pruned"]
    done = [t for t in trials if t.status == "ok"]
    assert len(trials) == 27 and pruned and done
    steps = {t.number: [r.step for r in reports if r.number == t.number] for t in trials}
    for t in pruned:  # stopped at a rung (1, 3) with what it reached, its reason the pruner's
        assert steps[t.number] == list(range(1, len(steps[t.number]) + 1))
        assert len(steps[t.number]) in (1, 3)
        assert t.metrics["val_acc"] == pytest.approx(t.curve["val_acc"][-1])
        assert t.error and "asha" in t.error and "stopped at" in t.error
        assert t.reward == pytest.approx(t.metrics["val_acc"])  # a pruned child is not a failed one
    for t in done:
        assert steps[t.number] == list(range(1, 10))
    assert sum(map(len, steps.values())) < 0.6 * 27 * 9  # most of the training was saved
    best = best_trial(trials)
    assert best.status == "ok"
    # the curves never cross: no pruned child would have beaten the best one
    finals = {t.number: t.curve["val_acc"][0] / (1 - 0.6) for t in trials}
    assert finals[best.number] == max(finals.values())
    assert best_trial(trials, include_pruned=True).status == "ok"


def test_the_same_seed_gives_the_same_pruned_trajectory_on_two_workers(tmp_path, step_registry):
    """Decisions are made on the values in ask order: reports arriving in another order (random
    sleeps between steps) change nothing."""
    options = {"executor": "pool", "workers": 2, "n_trials": 14}
    evaluator = {"name": "step", "params": {"jitter_s": 0.02}}
    first, _ = _run(tmp_path / "a", evaluator=evaluator, **options)
    second, _ = _run(tmp_path / "b", evaluator=evaluator, **options)
    inline, _ = _run(tmp_path / "c", evaluator={"name": "step"}, n_trials=14)

    def trajectory(trials):
        return [(t.number, t.arch, t.status, t.reward, len(t.curve["val_acc"])) for t in trials]

    assert trajectory(first) == trajectory(second)
    assert any(t.status == "pruned" for t in first)
    # inline runs one trial at a time: the same asks, and the same decisions (ask order) too
    assert [t[:3] for t in trajectory(first)] == [t[:3] for t in trajectory(inline)]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from archsearch import registry
    registry.SPACES["toy"] = "conftest:ToyLayerSpace"
    registry.EVALUATORS["step"] = "pruning_toys:StepEvaluator"
    from test_pruning_study import _config
    from archsearch.study import Study
    if __name__ == "__main__":
        config = _config(n_trials=30, executor="pool", workers=2,
                         evaluator={{"name": "step", "params": {{"jitter_s": 0.02}}}})
        study = Study.create(config, sys.argv[2]) if sys.argv[1] == "create" else Study.load(sys.argv[2])
        study.run()
    """
)


def _finished(directory: Path) -> int:
    try:
        trials, _ = _trials(directory)
    except Exception:  # noqa: BLE001 (not created yet, or being written)
        return 0
    return sum(t.finished for t in trials)


def test_kill_9_during_a_pruned_search_then_resume_equals_an_uninterrupted_run(tmp_path, step_registry):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    full = tmp_path / "full"
    subprocess.run([sys.executable, str(script), "create", str(full)], check=True, timeout=180)
    expected, expected_reports = _trials(full)
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, str(script), "create", str(cut)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _finished(cut) < 8:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    trials, _ = _trials(cut)
    assert 8 <= sum(t.finished for t in trials) < 30
    assert any(t.status == "pruned" for t in trials)
    subprocess.run([sys.executable, str(script), "resume", str(cut)], check=True, timeout=180)
    resumed, reports = _trials(cut)

    def trajectory(trials):
        return [(t.number, t.arch, t.status, t.reward, t.curve) for t in trials]

    assert trajectory(resumed) == trajectory(expected)
    assert [(r.number, r.step, r.values) for r in reports] == [
        (r.number, r.step, r.values) for r in expected_reports
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"min_resource": 12, "max_resource": 9}, "min_resource"),
        ({"brackets": 0}, "brackets"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_pruner_options_are_one_line_errors(tmp_path, step_registry, params, message):
    with pytest.raises(ConfigError, match=message) as caught:
        Study.create(_config(pruner={"name": "asha", "params": params}), tmp_path / "s")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "s").exists()


def test_an_unknown_pruner_names_the_known_ones(tmp_path, step_registry):
    with pytest.raises(ConfigError, match="asha") as caught:
        Study.create(_config(pruner={"name": "nope"}), tmp_path / "s")
    assert "nope" in str(caught.value)


def test_a_metric_the_evaluator_never_reports_stops_the_study_with_one_line(tmp_path, step_registry):
    study = Study.create(
        _config(evaluator={"name": "step", "params": {"report_metric": "acc"}}), tmp_path / "s"
    )
    with pytest.raises(ConfigError, match="val_acc") as caught:
        study.run()
    study.close()
    assert "acc" in str(caught.value) and "\n" not in str(caught.value)


def test_an_evaluator_that_never_reports_is_refused_after_its_first_trial(tmp_path, step_registry):
    study = Study.create(_config(evaluator={"name": "silent"}), tmp_path / "s")
    with pytest.raises(ConfigError, match="intermediate reports"):
        study.run()
    study.close()


def test_a_table_lookup_without_fidelities_refuses_a_pruner(tmp_path, step_registry, monkeypatch):
    monkeypatch.setitem(step_registry.EVALUATORS, "lookup", "pruning_toys:LookupEvaluator")
    with pytest.raises(ConfigError, match="pruner asha: the toy lookup has one fidelity only"):
        Study.create(_config(evaluator={"name": "lookup"}), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_the_nb201_table_prunes_at_its_two_fidelities(tmp_path):
    """The table's children report their 12-epoch accuracy, then (unless stopped) the 200-epoch one; the
    pruner's first rung is the table's 12 epochs without being told."""
    config = toy_config(
        n_trials=30,
        space={"name": "nb201"},
        evaluator={"name": "tabular", "params": {"dataset": "cifar10"}},
        strategy={"name": "random"},
        reward={"name": "metric", "params": {"metric": "val_acc"}},
        pruner={"name": "asha", "params": {"reduction_factor": 3}},
    )
    study = Study.create(config, tmp_path / "s")
    try:
        study.run()
        trials, reports = study.store.trials(), study.store.reports()
    finally:
        study.close()
    pruned = [t for t in trials if t.status == "pruned"]
    done = [t for t in trials if t.status == "ok"]
    assert pruned and done and len(pruned) > len(done)
    assert {r.resource for r in reports} == {12.0, 200.0}
    assert all(t.metrics["resource"] == 12.0 for t in pruned)
    cost = {t.number: t.cost_s for t in trials}
    assert max(cost[t.number] for t in pruned) < min(cost[t.number] for t in done)


def test_synchronous_successive_halving_needs_its_bracket_running_at_once(tmp_path, step_registry):
    study = Study.create(
        _config(pruner={"name": "successive_halving", "params": {"bracket_size": 4}}), tmp_path / "s"
    )
    with pytest.raises(ConfigError, match="bracket"):
        study.run()
    study.close()


def test_synchronous_successive_halving_finishes_an_incomplete_last_bracket(tmp_path, step_registry):
    """Brackets of 2 trials running at once; the fifth trial's bracket never fills up: once the budget is
    spent it is decided with the member it has, and the study ends."""
    trials, reports = _run(
        tmp_path / "s",
        n_trials=5,
        executor="pool",
        workers=2,
        pruner={"name": "successive_halving", "params": {"reduction_factor": 2}},
    )
    assert [t.status for t in trials].count("running") == 0 and len(trials) == 5
    by_bracket = [trials[0:2], trials[2:4]]
    for pair in by_bracket:  # of each pair the better child goes on, the other stops at the first rung
        better = max(pair, key=lambda t: t.curve["val_acc"][0])
        worse = min(pair, key=lambda t: t.curve["val_acc"][0])
        assert worse.status == "pruned" and len(worse.curve["val_acc"]) == 1
        assert better.status in ("ok", "pruned") and len(better.curve["val_acc"]) > 1


def test_bohb_says_which_pruner_it_brings_when_that_pruner_lacks_an_option(tmp_path, step_registry):
    with pytest.raises(ConfigError, match="strategy bohb searches on hyperband's brackets: .*max_resource"):
        Study.create(
            _config(strategy={"name": "bohb"}, evaluator={"name": "silent"}, pruner=None), tmp_path / "s"
        )


def test_bohb_searches_with_hyperband_when_no_pruner_is_named(tmp_path, step_registry):
    trials, _ = _run(tmp_path / "s", strategy={"name": "bohb"}, pruner=None, n_trials=20)
    assert {t.status for t in trials} == {"ok", "pruned"}
    assert len({t.arch for t in trials}) == 20  # BOHB never asks an architecture twice


def test_an_evaluator_that_raises_trial_pruned_is_scored_on_what_it_reported(
    tmp_path, step_registry, monkeypatch
):
    monkeypatch.setitem(step_registry.EVALUATORS, "raising", "pruning_toys:RaisingStepEvaluator")
    trials, reports = _run(tmp_path / "s", evaluator={"name": "raising"}, n_trials=12)
    pruned = [t for t in trials if t.status == "pruned"]
    assert pruned
    for t in pruned:
        reported = [r.values["val_acc"] for r in reports if r.number == t.number]
        assert t.curve["val_acc"] == reported
        assert t.metrics["val_acc"] == t.reward == reported[-1]  # not the failed reward
        assert t.metrics["resource"] == len(reported)


def test_a_pruner_metric_of_its_own_takes_its_own_direction(tmp_path, step_registry):
    study = Study.create(_config(pruner={"name": "asha", "params": {"metric": "val_loss"}}), tmp_path / "a")
    assert (study.pruner.metric, study.pruner.mode) == ("val_loss", "min")
    study.close()
    study = Study.create(_config(pruner="median"), tmp_path / "b")  # a name alone, as strategy="random"
    assert (study.pruner.metric, study.pruner.mode) == ("val_acc", "max")
    study.close()


def test_synchronous_successive_halving_of_one_trial_at_a_time_is_refused(tmp_path, step_registry):
    with pytest.raises(ConfigError, match="a bracket of one trial prunes nothing"):
        Study.create(_config(pruner={"name": "successive_halving"}), tmp_path / "s")


def test_the_stored_config_pins_every_pruner_option_as_resolved(tmp_path, step_registry):
    """A resume on another machine (other cores, so another default bracket) decides as the first run."""
    study = Study.create(
        _config(executor="pool", workers=2, pruner={"name": "successive_halving"}), tmp_path / "s"
    )
    study.close()
    stored = Study.load(tmp_path / "s", read_only=True)
    try:
        assert stored.config.pruner.params == {
            "metric": "val_acc",
            "mode": "max",
            "max_resource": 9.0,
            "min_resource": 1.0,
            "reduction_factor": 3.0,
            "bracket_size": 2,
        }
    finally:
        stored.close()
