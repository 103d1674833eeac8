"""Synchronous successive halving: a bracket waits for all its members at each rung, then keeps its best."""

from __future__ import annotations

from archsearch.pruners import PruningService, SuccessiveHalvingPruner


class _Trials:
    """Trials of one service reporting by hand; ``answers[n]`` what trial n heard, in order."""

    def __init__(self, pruner: SuccessiveHalvingPruner) -> None:
        self.service = PruningService(pruner, ordered=True)
        self.answers: dict[int, list[bool]] = {}
        self.steps: dict[int, int] = {}

    def open(self, *numbers: int) -> None:
        for number in numbers:
            self.service.open(number)
            self.answers[number] = []

    def report(self, number: int, resource: float, value: float) -> None:
        self.steps[number] = self.steps.get(number, 0) + 1
        sink = self.service.sink(number)
        sink.report(self.steps[number], resource, {"val_acc": value}, self.answers[number].append)


def test_a_bracket_waits_for_every_member_at_a_rung_then_keeps_its_best():
    trials = _Trials(SuccessiveHalvingPruner(max_resource=9, bracket_size=3))
    trials.open(0, 1, 2)
    trials.report(0, 1.0, 0.5)
    trials.report(2, 1.0, 0.9)
    assert trials.answers == {0: [], 1: [], 2: []}  # trial 1 has not reached rung 1 yet
    trials.report(1, 1.0, 0.7)
    assert trials.answers == {0: [True], 1: [True], 2: [False]}  # floor(3 / 3) = 1 goes on
    assert "not among the best 1 of 3" in (trials.service.reason(1) or "")
    trials.report(2, 2.0, 0.95)
    assert trials.answers[2] == [False, False]  # alone at rung 3 later: no wait between rungs


def test_a_member_that_ends_before_a_rung_no_longer_holds_its_bracket():
    trials = _Trials(SuccessiveHalvingPruner(max_resource=27, reduction_factor=2, bracket_size=4))
    trials.open(0, 1, 2, 3)
    for number, value in ((0, 0.1), (1, 0.2), (2, 0.3)):
        trials.report(number, 1.0, value)
    assert all(not heard for heard in trials.answers.values())
    trials.service.ended(3)  # it failed before its first report
    assert trials.answers == {0: [True], 1: [True], 2: [False], 3: []}  # floor(3 / 2) = 1 of 3


def test_the_last_bracket_decides_with_the_members_asked_once_the_study_asks_no_more():
    trials = _Trials(SuccessiveHalvingPruner(max_resource=9, bracket_size=3))
    trials.open(0, 1, 2, 3, 4)
    for number in range(5):
        trials.report(number, 1.0, 0.1 * number)
    assert trials.answers[3] == [] and trials.answers[4] == []  # trial 5 may still be asked
    assert trials.answers[2] == [False] and trials.answers[0] == [True]
    trials.service.no_more_trials()
    assert trials.answers[3] == [True] and trials.answers[4] == [False]


def test_ties_go_to_the_lower_number_and_a_nan_ranks_last():
    trials = _Trials(SuccessiveHalvingPruner(max_resource=9, bracket_size=3))
    trials.open(0, 1, 2)
    trials.report(2, 1.0, 0.5)
    trials.report(0, 1.0, float("nan"))
    trials.report(1, 1.0, 0.5)
    assert trials.answers == {0: [True], 1: [False], 2: [True]}


def test_a_report_past_several_rungs_is_judged_at_each_once_the_bracket_is_in():
    trials = _Trials(SuccessiveHalvingPruner(max_resource=27, bracket_size=9))
    trials.open(*range(9))
    for number in range(9):
        trials.report(number, 12.0, 0.1 * number)  # rungs 1, 3 and 9 all reached at once
    assert [n for n, heard in trials.answers.items() if heard == [False]] == [8]
    stats = {rung.resource: (rung.reached, rung.stopped) for rung in trials.service.rungs()}
    assert stats == {1.0: (9, 6), 3.0: (3, 2), 9.0: (1, 0)}
