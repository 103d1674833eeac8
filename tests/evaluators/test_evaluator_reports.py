"""The evaluators' intermediate reports: each training evaluator reports after each epoch (or each k-th of
one), stops as "pruned" when the study's pruner says so, and behaves as before without a pruner."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import pytest
from test_language_model import ARCH as LM_ARCH
from test_language_model import TinyLMSpace, grammar_lines
from test_supervised import ARCH as MLP_ARCH
from test_supervised import SPACE as MLP_SPACE
from test_supervised import digits_arrays
from test_training import ARCH, TinySpace

import archsearch
from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.evaluators.function import FunctionEvaluator
from archsearch.evaluators.language_model import LanguageModelEvaluator
from archsearch.evaluators.supervised import ClassificationEvaluator
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.evaluators.training import TrainingEvaluator
from archsearch.executors.inline import InlineExecutor
from archsearch.spaces.nb201 import NB201Space


class Sink:
    """A study's end of one trial in miniature: records the reports; when ``decides``, says stop at the
    first report whose resource reaches ``stop_at``."""

    def __init__(self, decides: bool = True, stop_at: float = math.inf) -> None:
        self.decides = decides
        self.stop_at = stop_at
        self.reports: list[tuple[int, float, dict[str, float]]] = []

    def report(self, step, resource, values, answer):
        self.reports.append((step, resource, dict(values)))
        answer(resource >= self.stop_at)

    @property
    def resources(self) -> list[float]:
        return [resource for _, resource, _ in self.reports]


def run(
    evaluator: Evaluator, space: SearchSpace, arch: Architecture, sink: Sink | None, seed: int = 0
) -> Result:
    return InlineExecutor().submit(evaluator, space, arch, seed, reports=sink).result()


def training(**overrides: Any) -> TrainingEvaluator:
    settings: dict[str, Any] = {"dataset": "digits", "train_limit": 300, "epochs": 4, "device": "cpu"}
    return TrainingEvaluator(**{**settings, **overrides})


def test_a_training_child_reports_each_epoch_and_a_stop_ends_it_pruned_with_what_it_reached():
    full = run(training(), TinySpace(), ARCH, None)
    sink = Sink(stop_at=2)
    pruned = run(training(), TinySpace(), ARCH, sink)
    assert sink.resources == [1.0, 2.0] and [step for step, _, _ in sink.reports] == [1, 2]
    assert set(sink.reports[0][2]) == {"val_acc", "train_loss"}
    assert pruned.status == "pruned" and pruned.error == "pruned after 2 of 4 epochs"
    assert pruned.curve["val_acc"] == full.curve["val_acc"][:2]  # the same training, stopped
    assert [values["val_acc"] for _, _, values in sink.reports] == pruned.curve["val_acc"]
    assert pruned.curve["train_loss"] == full.curve["train_loss"][:2]
    assert pruned.metrics["val_acc"] == pruned.curve["val_acc"][-1]
    assert (
        pruned.metrics["best_val_acc"] == pruned.metrics["max_val_acc_last5"] == max(pruned.curve["val_acc"])
    )
    assert pruned.metrics["resource"] == pruned.metrics["epochs"] == 2.0
    assert pruned.metrics["params"] == full.metrics["params"] and "test_acc" not in pruned.metrics
    assert pruned.weights is None and 0 < pruned.cost_s < full.cost_s


def test_without_a_pruner_training_is_unchanged_and_reports_are_only_recorded():
    alone = run(training(epochs=3), TinySpace(), ARCH, None, seed=3)
    sink = Sink(decides=False, stop_at=1)
    recorded = run(training(epochs=3), TinySpace(), ARCH, sink, seed=3)
    assert alone.ok and recorded.ok
    assert recorded.curve == alone.curve and len(alone.curve["val_acc"]) == 3
    assert {k: v for k, v in recorded.metrics.items() if not k.endswith(("_s", "_per_s"))} == {
        k: v for k, v in alone.metrics.items() if not k.endswith(("_s", "_per_s"))
    }
    assert sink.resources == [1.0, 2.0, 3.0]
    assert [values["val_acc"] for _, _, values in sink.reports] == alone.curve["val_acc"]


def test_reports_per_epoch_validates_and_reports_at_fractions_of_an_epoch():
    sink = Sink()
    result = run(training(epochs=2, reports_per_epoch=3), TinySpace(), ARCH, sink)
    assert result.ok and len(result.curve["val_acc"]) == len(result.curve["train_loss"]) == 6
    assert sink.resources == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert [step for step, _, _ in sink.reports] == [1, 2, 3, 4, 5, 6]
    assert result.metrics["epochs"] == 2.0
    stopped = run(training(epochs=2, reports_per_epoch=3), TinySpace(), ARCH, Sink(stop_at=0.5))
    assert stopped.status == "pruned" and len(stopped.curve["val_acc"]) == 2
    assert stopped.metrics["resource"] == pytest.approx(2 / 3) and stopped.metrics["epochs"] == pytest.approx(
        2 / 3
    )
    with pytest.raises(archsearch.ConfigError, match="reports_per_epoch must be a positive integer, got 0"):
        training(reports_per_epoch=0)


def test_a_classifier_on_the_users_data_reports_its_curve_metrics_and_stops():
    x, y = digits_arrays()
    evaluator = ClassificationEvaluator(train=(x[:400], y[:400]), epochs=3, device="cpu")
    sink = Sink(stop_at=1)
    result = run(evaluator, MLP_SPACE, MLP_ARCH, sink)
    assert result.status == "pruned" and sink.resources == [1.0]
    assert set(sink.reports[0][2]) == {"val_acc", "val_loss", "train_loss"}
    assert result.metrics["val_acc"] == result.metrics["best_val_acc"] == result.curve["val_acc"][0]
    assert result.metrics["val_loss"] == result.curve["val_loss"][0] and result.metrics["resource"] == 1.0
    halves = ClassificationEvaluator(train=(x[:400], y[:400]), epochs=1, reports_per_epoch=2, device="cpu")
    assert halves.config()["reports_per_epoch"] == 2
    assert len(run(halves, MLP_SPACE, MLP_ARCH, None).curve["val_acc"]) == 2


def test_a_language_model_reports_perplexity_each_epoch_and_a_pruned_one_keeps_its_best(tmp_path):
    for name, count, seed in (("train", 200, 0), ("valid", 20, 1), ("test", 20, 2)):
        (tmp_path / f"ptb.{name}.txt").write_text("".join(f"{line}\n" for line in grammar_lines(count, seed)))
    evaluator = LanguageModelEvaluator(
        data_dir=str(tmp_path), embedding_size=8, hidden_size=8, num_layers=1, dropout=0.0, epochs=3,
        batch_size=8, bptt=10, device="cpu",
    )  # fmt: skip
    sink = Sink(stop_at=2)
    result = run(evaluator, TinyLMSpace(), LM_ARCH, sink)
    assert result.status == "pruned" and sink.resources == [1.0, 2.0]
    assert [values["val_ppl"] for _, _, values in sink.reports] == result.curve["val_ppl"]
    assert result.metrics["val_ppl"] == min(result.curve["val_ppl"]) and result.metrics["resource"] == 2.0


def objective_checking(child, seed, report):
    """Reports value = step for 10 steps; returns at once (with a metric of its own) when stopped."""
    for step in range(1, 11):
        report(step, {"value": float(step)}, resource=step * 10)
        if report.should_stop():
            return {"value": float(step), "stopped_at": float(step)}
    return float(10)


def objective_ignoring(child, seed, report):
    """Reports every step whatever the pruner says (its next report ends it)."""
    for step in range(1, 11):
        report(step, float(step))
    return 10.0


def objective_raising(child, seed, report):
    for step in range(1, 11):
        if report(step, float(step)):
            raise archsearch.TrialPruned("stopped by the objective")
    return 10.0


def objective_bad_resource(child, seed, report):
    report(1, 0.5, resource=math.nan)
    return 1.0


def test_a_function_objective_hears_should_stop_and_ends_pruned_with_what_it_returned():
    space = NB201Space()
    arch = space.sample(np.random.default_rng(0))
    sink = Sink(stop_at=30)
    checking = run(FunctionEvaluator(objective_checking), space, arch, sink)
    assert checking.status == "pruned" and sink.resources == [10.0, 20.0, 30.0]
    assert checking.metrics["stopped_at"] == 3 and checking.metrics["value"] == 3
    assert checking.metrics["steps"] == 3 and checking.metrics["resource"] == 30
    assert checking.curve == {"value": [1.0, 2.0, 3.0]} and "pruned at step 3" in checking.error

    ignoring = run(FunctionEvaluator(objective_ignoring), space, arch, Sink(stop_at=2))
    assert ignoring.status == "pruned" and ignoring.curve == {"value": [1.0, 2.0]}
    assert ignoring.metrics["value"] == 2.0 and ignoring.metrics["resource"] == 2.0

    raising = run(FunctionEvaluator(objective_raising), space, arch, Sink(stop_at=4))
    assert raising.status == "pruned" and raising.error == "stopped by the objective"
    assert raising.curve == {"value": [1.0, 2.0, 3.0, 4.0]}

    bad = run(FunctionEvaluator(objective_bad_resource), space, arch, Sink())
    assert bad.status == "failed" and bad.error == "report: resource must be a finite number >= 0, got nan"

    alone = run(FunctionEvaluator(objective_checking), space, arch, None)  # no study: never stopped
    assert alone.ok and alone.metrics == {"value": 10.0} and len(alone.curve["value"]) == 10


def test_the_nb201_table_reports_its_two_fidelities_and_a_pruned_cell_pays_12_epochs():
    from archsearch.evaluators.tabular import load_table

    space = NB201Space()
    arch = space.sample(np.random.default_rng(1))
    index = space.index(arch)
    table = load_table("cifar10")
    evaluator = TabularEvaluator()
    assert (evaluator.min_resource, evaluator.max_resource) == (12, 200)
    plain = run(evaluator, space, arch, None, seed=5)
    recorded = run(evaluator, space, arch, Sink(decides=False), seed=5)
    assert recorded.to_dict() == plain.to_dict()  # no pruner: one 12-epoch lookup, as before

    stopped_sink = Sink(stop_at=12)
    stopped = run(evaluator, space, arch, stopped_sink, seed=5)
    assert stopped.status == "pruned" and stopped_sink.resources == [12.0]
    assert stopped.metrics["val_acc"] == plain.metrics["val_acc"] == stopped.curve["val_acc"][0]
    assert stopped.metrics["resource"] == 12 and stopped.cost_s == pytest.approx(table.cost_s(index, 12))

    going_sink = Sink()
    going = run(evaluator, space, arch, going_sink, seed=5)
    assert going.ok and going_sink.resources == [12.0, 200.0]
    assert going.curve["val_acc"] == [plain.metrics["val_acc"], going.metrics["val_acc"]]
    assert going.metrics["val_acc"] * 100 in list(table.val_acc_200ep_seeds[index])
    assert going.cost_s == pytest.approx(table.cost_s(index, 12) + table.cost_s(index, 200))


class SlowSink(Sink):
    """Answers "go on" after ``delay_s`` from another thread (a pruner waiting for other trials)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def report(self, step, resource, values, answer):
        self.reports.append((step, resource, dict(values)))
        threading.Timer(self.delay_s, answer, args=(False,)).start()


def objective_quick(child, seed, report):
    for step in range(1, 4):
        report(step, float(step))
    return 3.0


def test_waiting_for_the_pruner_counts_neither_in_the_cost_nor_against_the_time_limit():
    space = NB201Space()
    arch = space.sample(np.random.default_rng(0))
    started = time.perf_counter()
    result = run(FunctionEvaluator(objective_quick, timeout_s=0.3), space, arch, SlowSink(0.2))
    assert time.perf_counter() - started >= 0.6  # three answers of 0.2 s each were waited for
    assert result.ok and result.metrics == {"value": 3.0} and result.cost_s < 0.3

    started = time.perf_counter()
    trained = run(training(epochs=2, timeout_s=30), TinySpace(), ARCH, SlowSink(0.5))
    assert trained.ok and time.perf_counter() - started - trained.cost_s >= 0.9


def test_an_epoch_in_parts_trains_as_one_and_its_part_losses_average_to_the_epochs_loss():
    import torch

    from archsearch.evaluators.training import train_epoch

    x = torch.randn(70, 3, 4, 4)
    y = torch.randint(0, 3, (70,))

    def epoch(check_every: int, parts: int) -> tuple[float, list[tuple[int, float]], torch.Tensor]:
        torch.manual_seed(0)
        model = TinySpace().build(ARCH, (3, 4, 4), 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        seen: list[tuple[int, float]] = []
        mean = train_epoch(
            model, optimizer, x, y, 8, torch.Generator().manual_seed(1), check_every=check_every,
            parts=parts, after_part=lambda part, loss: seen.append((part, loss)),
        )  # fmt: skip
        return mean, seen, next(model.parameters()).detach().clone()

    whole, [(first, only)], weights = epoch(1, 1)
    assert first == 0 and only == pytest.approx(whole)
    for check_every in (1, 4):  # losses read back in groups, as on CUDA
        mean, parts, same_weights = epoch(check_every, 3)
        assert mean == pytest.approx(whole) and torch.equal(same_weights, weights)
        assert [part for part, _ in parts] == [0, 1, 2]
        batches = [3, 3, 3]  # 9 batches of 8 (and 6): thirds of 3 batches
        assert sum(n * loss for n, (_, loss) in zip(batches, parts, strict=True)) / 9 == pytest.approx(whole)
    _, many, _ = epoch(1, 20)  # more parts than batches: one report per batch at most
    assert len(many) == 9 and many[-1][0] == 19
