"""ASHA and Hyperband: Optuna's decisions on sequential trials, known landscapes, Hyperband's budgets."""

from __future__ import annotations

import pytest
from prune_driver import Driver, quality, value

from archsearch.pruners import AshaPruner, HyperbandPruner, PruningService, make_pruner
from archsearch.pruners.halving import smooth_round_robin

STEPS = [float(step) for step in range(1, 10)]


def _optuna_pruned_at(pruner, n_trials: int, curve, direction: str) -> dict[int, float | None]:
    """Where Optuna's pruner stops each of ``n_trials`` trials run one after another."""
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stopped: dict[int, float | None] = {}

    def objective(trial):
        for step in range(1, 10):
            trial.report(curve(trial.number, step), step)
            if trial.should_prune():
                stopped[trial.number] = float(step)
                raise optuna.TrialPruned()
        stopped[trial.number] = None
        return curve(trial.number, 9)

    study = optuna.create_study(direction=direction, pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=n_trials)
    return stopped


@pytest.mark.parametrize(
    ("min_resource", "reduction_factor", "mode"), [(1, 3, "max"), (2, 2, "min"), (1, 4, "max")]
)
def test_asha_stops_the_trials_optuna_stops_when_trials_run_one_after_another(
    min_resource, reduction_factor, mode
):
    optuna = pytest.importorskip("optuna")
    sign = 1.0 if mode == "max" else -1.0

    def curve(number: int, resource: float) -> float:
        return sign * value(number, resource)

    expected = _optuna_pruned_at(
        optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=reduction_factor),
        60,
        curve,
        "maximize" if mode == "max" else "minimize",
    )
    pruner = AshaPruner(mode=mode, min_resource=min_resource, reduction_factor=reduction_factor)
    got = Driver(PruningService(pruner, ordered=True), 60, 1, STEPS, seed=0, curve=curve).run()
    assert got.pruned_at == expected
    assert sum(at is not None for at in expected.values()) > 30  # a real test: most were stopped


def test_asha_keeps_the_best_third_at_each_rung_and_never_stops_the_best_trial():
    pruner = AshaPruner(max_resource=27)
    outcome = Driver(PruningService(pruner, ordered=True), 81, 9, [float(r) for r in range(1, 28)], 3).run()
    best = max(range(81), key=quality)
    assert outcome.pruned_at[best] is None
    stats = {rung.resource: rung for rung in pruner.rung_stats()}
    assert sorted(stats) == [1.0, 3.0, 9.0]  # rungs below max_resource only
    assert stats[1.0].reached == 81
    for low, high in ((1.0, 3.0), (3.0, 9.0)):
        # at least a third goes on; more only as ASHA promotes the best so far early on
        went_on = stats[low].reached - stats[low].stopped
        assert went_on == stats[high].reached
        assert stats[low].reached // 3 <= went_on <= stats[low].reached // 2
    finished = [n for n, at in outcome.pruned_at.items() if at is None]
    assert len(finished) == stats[9.0].reached - stats[9.0].stopped
    # a reason names where the trial stopped and why
    reason = next(r for r in outcome.reasons.values() if r)
    assert reason.startswith("stopped at ") and "val_acc" in reason and "asha" in reason


def test_a_report_past_several_rungs_decides_each_of_them_with_its_value():
    """NB201 reports at 12 and 200 only: rungs 1, 3 and 9 are all decided by the report at 12."""
    pruner = AshaPruner(max_resource=200)
    outcome = Driver(PruningService(pruner, ordered=True), 30, 1, [12.0, 200.0], 0).run()
    stats = {rung.resource: rung for rung in pruner.rung_stats()}
    assert [stats[r].reached for r in (1.0, 3.0, 9.0)] == [
        30,
        30 - stats[1.0].stopped,
        30 - stats[1.0].stopped - stats[3.0].stopped,
    ]
    assert set(outcome.pruned_at.values()) <= {12.0, None}  # the final report never stops a trial


def test_asha_brackets_take_turns_and_start_higher():
    pruner = AshaPruner(max_resource=27, brackets=2)
    assert [pruner.bracket(n) for n in range(4)] == [0, 1, 0, 1]
    assert pruner.rungs(0) == [1.0, 3.0, 9.0] and pruner.rungs(1) == [3.0, 9.0]
    outcome = Driver(PruningService(pruner, ordered=True), 40, 4, [float(r) for r in range(1, 28)], 1).run()
    assert all(at != 1.0 for n, at in outcome.pruned_at.items() if n % 2 == 1)
    assert {rung.bracket for rung in pruner.rung_stats()} == {0, 1}


def test_a_nan_value_is_stopped_at_its_first_rung():
    pruner = AshaPruner(max_resource=9)

    def curve(number: int, resource: float) -> float:
        return float("nan") if number == 4 else value(number, resource)

    outcome = Driver(PruningService(pruner, ordered=True), 8, 2, STEPS, 0, curve=curve).run()
    assert outcome.pruned_at[4] == 1.0 and "nan" in (outcome.reasons[4] or "")


def test_hyperband_budgets_are_those_of_the_paper():
    """Li et al. 2018, Table 1 (R = 81, eta = 3): n = 81, 34, 15, 8, 5 trials in brackets s = 4 .. 0."""
    pruner = HyperbandPruner(max_resource=81)
    assert pruner.brackets == 5
    assert pruner.budgets == [81, 34, 15, 8, 5]
    assert [pruner.rungs(n) for n in range(1)] == [[1.0, 3.0, 9.0, 27.0]]
    cycle = [pruner.bracket(n) for n in range(sum(pruner.budgets))]
    assert [cycle.count(b) for b in range(5)] == [81, 34, 15, 8, 5]
    assert cycle == [pruner.bracket(n + sum(pruner.budgets)) for n in range(len(cycle))]
    # the last bracket's first rung would be at max_resource: its trials train fully
    last = cycle.index(4)
    assert pruner.rungs(last) == []


def test_hyperband_interleaves_its_brackets_from_the_first_trials():
    assert smooth_round_robin([3, 1]) == [0, 0, 1, 0]
    pruner = HyperbandPruner(min_resource=1, max_resource=9)
    assert pruner.budgets == [9, 5, 3]
    assert sorted({pruner.bracket(n) for n in range(8)}) == [0, 1, 2]


def test_hyperband_stops_bad_trials_in_each_bracket_and_keeps_the_best():
    pruner = make_pruner("hyperband", {}, metric="val_acc", mode="max", max_resource=27)
    outcome = Driver(PruningService(pruner, ordered=True), 90, 6, [float(r) for r in range(1, 28)], 2).run()
    assert outcome.pruned_at[max(range(90), key=quality)] is None
    stopped_by_bracket = {}
    for rung in pruner.rung_stats():
        stopped_by_bracket[rung.bracket] = stopped_by_bracket.get(rung.bracket, 0) + rung.stopped
    assert stopped_by_bracket[0] > stopped_by_bracket[1] > stopped_by_bracket[2] > 0
    assert 3 not in stopped_by_bracket  # its first rung would be 27 = max_resource
