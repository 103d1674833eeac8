"""Median stopping on hand-computed landscapes: the median of earlier trials at the same resource, the
trial's best so far, start-up trials, warm-up and interval."""

from __future__ import annotations

from archsearch.pruners import MedianPruner, PruningService
from archsearch.reporting import Report


def _run(pruner: MedianPruner, curves: dict[int, list[tuple[float, float]]]) -> dict[int, float | None]:
    """Trials one after another, each reporting its (resource, value) pairs until told to stop."""
    service = PruningService(pruner, ordered=True)
    stopped: dict[int, float | None] = {}
    for number, curve in curves.items():
        service.open(number)
        stopped[number] = None
        for step, (resource, value) in enumerate(curve, 1):
            answers: list[bool] = []
            service.sink(number).report(step, resource, {"val_acc": value, "loss": 0.0}, answers.append)
            assert len(answers) == 1
            if answers[0]:
                stopped[number] = resource
                break
        service.ended(number)
    return stopped


def _startup(count: int = 5) -> dict[int, list[tuple[float, float]]]:
    """Trials whose values at 1 and 2 are 0.5, 0.6, ... (medians 0.7 at both with five of them)."""
    return {n: [(1.0, 0.5 + 0.1 * n), (2.0, 0.5 + 0.1 * n)] for n in range(count)}


def test_a_trial_below_the_median_of_earlier_trials_is_stopped_and_one_above_goes_on():
    curves = {**_startup(), 5: [(1.0, 0.65), (2.0, 0.9)], 6: [(1.0, 0.75), (2.0, 0.75)]}
    stopped = _run(MedianPruner(), curves)
    assert stopped == {0: None, 1: None, 2: None, 3: None, 4: None, 5: 1.0, 6: None}


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    # at 1: earlier values 0.5 .. 0.9 and 0.65 (trial 5, stopped there): median (0.65 + 0.7) / 2 = 0.675
    curves = {**_startup(), 5: [(1.0, 0.65)], 6: [(1.0, 0.674)], 7: [(1.0, 0.676)]}
    stopped = _run(MedianPruner(), curves)
    assert stopped[6] == 1.0 and stopped[7] is None
    # the same decisions from the stored reports, with the reason
    service = PruningService(MedianPruner(), ordered=True)
    reports = [
        Report(n, s, r, {"val_acc": v}, 0.0) for n, c in curves.items() for s, (r, v) in enumerate(c, 1)
    ]
    service.restore(reports, list(curves))
    assert service.reason(6) == (
        "stopped at 1: best val_acc 0.674 is worse than the median 0.675 of 6 earlier trials there "
        "(median stopping)"
    )
    assert service.pruned_at(7) is None


def test_the_trials_best_value_so_far_counts_not_its_last():
    # trial 5 falls to 0.1 at 2 but reached 0.95 at 1: better than the median 0.7 at 2
    curves = {**_startup(), 5: [(1.0, 0.95), (2.0, 0.1)]}
    assert _run(MedianPruner(), curves)[5] is None


def test_nothing_is_stopped_before_the_start_up_trials_reported():
    curves = {**_startup(3), 3: [(1.0, 0.0), (2.0, 0.0)]}
    assert _run(MedianPruner(), curves)[3] is None
    assert _run(MedianPruner(n_startup_trials=3), curves)[3] == 1.0


def test_warm_up_and_interval_decide_where_a_trial_may_be_stopped():
    bad = [(r, 0.0) for r in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)]
    good = {n: [(r, 0.5 + 0.1 * n) for r, _ in bad] for n in range(5)}
    assert _run(MedianPruner(), {**good, 5: bad})[5] == 0.5
    assert _run(MedianPruner(warmup_resource=2), {**good, 5: bad})[5] == 2.0
    # good at 0.5, bad after: with an interval of 1 past a warm-up of 0.5, it is considered at 0.5, 1.5
    # and 2.5 (its first report in each interval), so it is stopped at 1.5, not at 1
    rising = {n: [(r, r * (0.5 + 0.1 * n) / 3) for r, _ in bad] for n in range(5)}  # median 0.7 r / 3
    late = [(0.5, 0.2)] + [(r, 0.0) for r in (1.0, 1.5, 2.0, 2.5, 3.0)]
    assert _run(MedianPruner(warmup_resource=0.5, interval=0.5), {**rising, 5: late})[5] == 1.0
    assert _run(MedianPruner(warmup_resource=0.5, interval=1.0), {**rising, 5: late})[5] == 1.5


def test_a_smaller_is_better_metric_stops_the_trials_above_the_median():
    curves = {**_startup(), 5: [(1.0, 0.75)], 6: [(1.0, 0.6)]}
    stopped = _run(MedianPruner(mode="min"), curves)
    # at 1 the median of 0.5 .. 0.9 is 0.7: 0.75 is worse for "min"; then median of six is 0.725
    assert stopped[5] == 1.0 and stopped[6] is None
    assert stopped[4] is None  # 0.9 is the worst so far, but only four trials came before it


def test_nan_values_are_left_out_of_the_median_and_a_nan_trial_is_stopped():
    curves = {**_startup(), 5: [(1.0, float("nan"))], 6: [(1.0, 0.72)]}
    stopped = _run(MedianPruner(), curves)
    assert stopped[5] == 1.0
    assert stopped[6] is None  # the median of 0.5 .. 0.9 without the nan is 0.7
