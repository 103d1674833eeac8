"""`best --objective --max-latency --constraint` and `front` on a multi-objective NB201 study."""

from __future__ import annotations

import json

import pytest

from archsearch.cli import main
from archsearch.study import Study


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("mo") / "s"
    code = run_cli(
        "search", "--space", "nb201", "--strategy", "nsga2", "--device", "pixel3", "--max-time", "4000",
        "--quiet", "-o", str(out),
        "--set", "objectives=[val_acc:max, latency_ms:min]",
        "--set", "strategy.params.population_size=8",
    )  # fmt: skip
    assert code == 0
    return out


def _trials(directory):
    study = Study.load(directory)
    try:
        return [t for t in study.store.trials() if t.status == "ok"]
    finally:
        study.close()


def test_best_filters_by_latency_and_constraints_then_picks_by_the_objective(study_dir, capsys):
    trials = _trials(study_dir)
    bound = sorted(t.metrics["latency_ms"] for t in trials)[len(trials) // 3]
    capsys.readouterr()
    assert (
        run_cli("best", str(study_dir), "--objective", "val_acc", "--max-latency", str(bound), "--json") == 0
    )
    picked = json.loads(capsys.readouterr().out)
    allowed = [t for t in trials if t.metrics["latency_ms"] <= bound]
    expected = max(allowed, key=lambda t: (t.metrics["val_acc"], -t.metrics["latency_ms"], -t.number))
    assert picked["number"] == expected.number
    # A constraint on another metric narrows it further; --objective with :min flips the direction.
    flops = sorted(t.metrics["flops_m"] for t in allowed)[len(allowed) // 2]
    args = ["--objective", "latency_ms:min", "--constraint", f"flops_m >= {flops}", "--json"]
    assert run_cli("best", str(study_dir), "--max-latency", str(bound), *args) == 0
    picked = json.loads(capsys.readouterr().out)
    narrowed = [t for t in allowed if t.metrics["flops_m"] >= flops]
    expected = min(narrowed, key=lambda t: (t.metrics["latency_ms"], -t.metrics["flops_m"], t.number))
    assert picked["number"] == expected.number


def test_front_lists_the_non_dominated_trials(study_dir, capsys):
    assert run_cli("front", str(study_dir)) == 0
    text = capsys.readouterr().out
    trials = _trials(study_dir)
    best_acc = max(trials, key=lambda t: (t.metrics["val_acc"], -t.number))
    assert f"Pareto front of {study_dir}" in text and best_acc.arch_str[:20] in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "vall_acc"], "objective metric 'vall_acc' is not reported"),
        (["--objective", "val_acc:up"], "must be METRIC or METRIC:min"),
        (["--max-latency", "0.0001"], "no successful trial satisfies latency_ms <= 0.0001"),
        (["--constraint", "energy <= 3"], "constraint metric 'energy' is not reported"),
    ],
)
def test_bad_objectives_and_impossible_bounds_are_one_line_errors(study_dir, capsys, args, message):
    assert run_cli("best", str(study_dir), *args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_multi_objective_strategy_without_objectives_is_refused(tmp_path, capsys):
    assert (
        run_cli("search", "--space", "nb201", "--strategy", "nsga2", "--quiet", "-o", str(tmp_path / "s"))
        == 2
    )
    assert "nsga2 needs at least two objectives" in capsys.readouterr().err


def test_ties_in_the_objective_go_to_the_trial_better_on_the_constrained_metric():
    """Two children equally accurate under the bound: the faster one is picked (it is the one on the
    accuracy/latency front), not merely the earlier one."""
    from archsearch.core import Architecture, TrialRecord
    from archsearch.front import front, pick
    from archsearch.objectives import parse_constraints, parse_objectives

    def trial(number: int, acc: float, latency: float) -> TrialRecord:
        arch = Architecture("toy", (number,))
        metrics = {"val_acc": acc, "latency_ms": latency}
        return TrialRecord(number, arch, str(number), 0, "ok", number, 0.0, metrics=metrics)

    trials = [trial(0, 0.9, 4.0), trial(1, 0.9, 2.0), trial(2, 0.95, 9.0), trial(3, 0.8, 1.0)]
    (objective,) = parse_objectives(["val_acc"])
    picked = pick(trials, objective, parse_constraints(["latency_ms <= 5"]))
    assert picked is not None and picked.number == 1
    members = front(trials, parse_objectives(["val_acc:max", "latency_ms:min"]))
    assert picked.number in {t.number for t in members} and 0 not in {t.number for t in members}
    # without a constraint the earlier trial still wins a tie
    assert pick(trials[:2], objective).number == 0
