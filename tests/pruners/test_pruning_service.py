"""The pruning service: answers, ordered decisions whatever the arrival order (simulated and with threads),
resume from stored reports, reports collected for the store, errors."""

from __future__ import annotations

import random
import threading
import time

import pytest
from prune_driver import Driver, value

from archsearch.errors import ConfigError
from archsearch.pruners import PruningService, make_pruner
from archsearch.reporting import Report

EPOCHS = [float(r) for r in range(1, 10)]
PRUNERS = [("asha", {}), ("hyperband", {}), ("median", {}), ("successive_halving", {"bracket_size": 4})]


def _pruner(name: str, params: dict, max_resource: float | None = 9):
    return make_pruner(name, params, metric="val_acc", mode="max", max_resource=max_resource, concurrency=4)


def _answer() -> tuple[list[bool], object]:
    answers: list[bool] = []
    return answers, answers.append


@pytest.mark.parametrize(("name", "params"), PRUNERS)
def test_ordered_decisions_do_not_depend_on_the_order_reports_arrive_in(name, params):
    one_at_a_time = Driver(PruningService(_pruner(name, params), True), 40, 4, EPOCHS, seed=0)
    one_at_a_time.slots = 4
    expected = one_at_a_time.run()
    assert any(at is not None for at in expected.pruned_at.values())
    assert any(at is None for at in expected.pruned_at.values())
    for seed in range(1, 8):
        outcome = Driver(PruningService(_pruner(name, params), True), 40, 4, EPOCHS, seed=seed).run()
        assert outcome.pruned_at == expected.pruned_at
        assert outcome.reasons == expected.reasons


@pytest.mark.parametrize(("name", "params"), PRUNERS[:3])
def test_ordered_decisions_equal_those_of_trials_run_one_after_another(name, params):
    sequential = Driver(PruningService(_pruner(name, params), True), 40, 1, EPOCHS, seed=0).run()
    parallel = Driver(PruningService(_pruner(name, params), True), 40, 6, EPOCHS, seed=5).run()
    assert parallel.pruned_at == sequential.pruned_at


@pytest.mark.parametrize(("name", "params"), PRUNERS)
def test_unordered_decisions_answer_every_report_once_and_never_deadlock(name, params):
    for seed in range(4):
        service = PruningService(_pruner(name, params), ordered=False)
        outcome = Driver(service, 40, 4, EPOCHS, seed=seed).run()  # the driver asserts one answer each
        assert len(outcome.pruned_at) == 40
        assert any(at is not None for at in outcome.pruned_at.values())


class _Heard:
    """An answer a worker waits for."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.stop: bool | None = None

    def __call__(self, stop: bool) -> None:
        assert self.stop is None, "answered twice"
        self.stop = stop
        self.event.set()


def _run_threads(service: PruningService, n_trials: int, workers: int, seed: int) -> dict[int, float | None]:
    """Where each trial stopped when ``workers`` threads take trials in number order (opened under a
    driver lock, as the study opens them) and report with random sleeps, each waiting for its answer as
    a pool worker does."""
    lock = threading.Lock()
    numbers = iter(range(n_trials))
    pruned_at: dict[int, float | None] = {}
    errors: list[BaseException] = []
    jitter = random.Random(seed)

    def train(number: int, delays: list[float]) -> None:
        pruned_at[number] = None
        for step, resource in enumerate(EPOCHS, 1):
            time.sleep(delays[(number * 9 + step) % len(delays)])
            heard = _Heard()
            service.sink(number).report(step, resource, {"val_acc": value(number, resource)}, heard)
            assert heard.event.wait(10), f"trial {number} never heard at {resource}"
            if heard.stop:
                pruned_at[number] = resource
                return

    def worker(delays: list[float]) -> None:
        try:
            while True:
                with lock:
                    number = next(numbers, None)
                    if number is None:  # the study's budget is spent: it asks no more
                        service.no_more_trials()
                        return
                    service.open(number)
                train(number, delays)
                service.ended(number)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=([jitter.random() * 0.002 for _ in range(7)],))
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return pruned_at


@pytest.mark.parametrize(("name", "params"), PRUNERS)
def test_ordered_decisions_with_threads_and_random_delays_match_the_simulation(name, params):
    expected = Driver(PruningService(_pruner(name, params), True), 24, 4, EPOCHS, seed=0).run().pruned_at
    for seed in range(2):
        assert _run_threads(PruningService(_pruner(name, params), True), 24, 4, seed) == expected


@pytest.mark.parametrize(("name", "params"), PRUNERS)
@pytest.mark.parametrize("cut", [7, 60, 150])
def test_restoring_stored_reports_gives_the_decisions_of_an_uninterrupted_run(name, params, cut):
    expected = Driver(PruningService(_pruner(name, params), True), 30, 4, EPOCHS, seed=1).run()
    first = Driver(PruningService(_pruner(name, params), True), 30, 4, EPOCHS, seed=2)
    first.run(max_events=cut)  # killed here: what was stored is the reports and the finished trials
    stored = first.service.drain()
    running = sorted(first.active)
    resumed = PruningService(_pruner(name, params), True)
    resumed.restore(stored, sorted(first.ended))
    if first.told_last:  # the resumed study asks no more either (its budget is spent)
        resumed.no_more_trials()
    for number in first.ended:  # the trials that finished before the kill keep their reasons
        assert resumed.reason(number) == expected.reasons[number]
        assert resumed.pruned_at(number) == expected.pruned_at[number]
    second = Driver(resumed, 30, 4, EPOCHS, seed=3)
    second.next = first.next
    second.resume(running)  # they run again from their first step and report the same
    outcome = second.run()
    assert {**first.outcome.pruned_at, **outcome.pruned_at} == expected.pruned_at
    assert {**first.outcome.reasons, **outcome.reasons} == expected.reasons
    again = resumed.drain()
    assert {(r.number, r.step) for r in again}.isdisjoint({(r.number, r.step) for r in stored})


def test_without_a_pruner_reports_are_collected_and_answered_go_on():
    service = PruningService(None, ordered=True, clock=lambda: 12.5)
    sink = service.sink(0)
    assert sink.decides is False
    answers, answer = _answer()
    service.open(0)
    sink.report(1, 0.5, {"val_acc": 0.3}, answer)
    sink.report(2, 1.0, {"val_acc": 0.4}, answer)
    assert answers == [False, False]
    assert service.drain() == [
        Report(0, 1, 0.5, {"val_acc": 0.3}, 12.5),
        Report(0, 2, 1.0, {"val_acc": 0.4}, 12.5),
    ]
    assert service.drain() == []
    assert service.rungs() == [] and service.reason(0) is None and service.error is None


def test_a_report_without_the_pruners_metric_is_stopped_and_names_the_problem():
    service = PruningService(_pruner("asha", {}), ordered=True)
    answers, answer = _answer()
    service.open(0)
    service.sink(0).report(1, 1.0, {"acc": 0.5, "loss": 2.0}, answer)
    assert answers == [True]
    assert (
        service.error
        == "the pruner's metric 'val_acc' is not among the values the evaluator reports (acc, loss)"
    )
    assert service.reason(0) == service.error


def test_a_trial_run_again_hears_the_same_answers_and_its_repeats_are_not_stored_twice():
    service = PruningService(_pruner("asha", {}), ordered=True)
    for number, quality in enumerate([0.9, 0.1]):
        service.open(number)
        answers, answer = _answer()
        service.sink(number).report(1, 1.0, {"val_acc": quality}, answer)
        assert answers == [number == 1]
    answers, answer = _answer()
    service.sink(1).report(1, 1.0, {"val_acc": 0.95}, answer)  # its worker died; the same step again
    assert answers == [True]  # the first value and verdict stand
    assert len(service.drain()) == 2
    assert service.pruned_at(1) == 1.0 and "0.1" in (service.reason(1) or "")


def test_a_report_waits_for_a_slower_earlier_trial_and_is_answered_when_it_catches_up():
    service = PruningService(_pruner("asha", {}), ordered=True)
    service.open(0)
    service.open(1)
    late, answer_late = _answer()
    service.sink(1).report(1, 1.0, {"val_acc": 0.2}, answer_late)
    assert late == []  # trial 0 may still reach rung 1 with a better value
    early, answer_early = _answer()
    service.sink(0).report(1, 1.0, {"val_acc": 0.8}, answer_early)
    assert early == [False] and late == [True]


def test_an_earlier_trial_that_ends_before_the_rung_releases_the_waiting_one():
    service = PruningService(_pruner("asha", {}), ordered=True)
    service.open(0)
    service.open(1)
    answers, answer = _answer()
    service.sink(1).report(1, 1.0, {"val_acc": 0.2}, answer)
    assert answers == []
    service.ended(0)  # it failed without a report
    assert answers == [False]


def test_a_fully_trained_trials_last_report_is_never_stopped():
    service = PruningService(_pruner("asha", {}, max_resource=3), ordered=True)
    for number, quality in enumerate([0.9, 0.8, 0.1]):
        service.open(number)
        answers, answer = _answer()
        service.sink(number).report(1, 3.0, {"val_acc": quality}, answer)
        assert answers == [False]
        service.ended(number)


def test_rungs_count_trials_reached_and_stopped():
    service = PruningService(_pruner("asha", {}, max_resource=27), ordered=True)
    Driver(service, 12, 3, [float(r) for r in range(1, 28)], seed=0).run()
    rungs = service.rungs()
    assert [r.resource for r in rungs] == [1.0, 3.0, 9.0]
    assert rungs[0].reached == 12 and rungs[1].reached == rungs[0].reached - rungs[0].stopped


def test_successive_halving_refuses_a_bracket_larger_than_what_runs_at_once():
    service = PruningService(_pruner("successive_halving", {"bracket_size": 8}), ordered=True)
    service.check_concurrency(8, 8)
    with pytest.raises(ConfigError, match="bracket of 8 trials must run at once.*at most 4") as caught:
        service.check_concurrency(4, None)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="at most 2"):
        service.check_concurrency(8, 2)
    PruningService(_pruner("asha", {}), ordered=True).check_concurrency(1, 1)


@pytest.mark.parametrize(("name", "params"), PRUNERS)
def test_a_pruner_given_to_a_new_service_forgets_the_old_ones_reports(name, params):
    """A study run again builds a new service on its pruner and restores the stored reports into it."""
    pruner = _pruner(name, params)
    first = Driver(PruningService(pruner, True), 30, 4, EPOCHS, seed=1)
    expected = first.run()
    rungs = first.service.rungs()
    again = PruningService(pruner, True)
    again.restore(first.service.drain(), range(30))
    again.no_more_trials()
    assert {n: again.pruned_at(n) for n in range(30)} == expected.pruned_at
    assert again.rungs() == rungs  # not twice as many trials at each rung
