"""Intermediate reports through the executors: each report of a running trial reaches the sink it was
submitted with, in order and before its future resolves, and a stop answer ends the trial as pruned."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import test_ray

from archsearch import reporting
from archsearch.core import Evaluator, Result
from archsearch.errors import TrialPruned
from archsearch.executors.base import run_trial
from archsearch.executors.inline import InlineExecutor
from archsearch.executors.pool import PoolExecutor


class CountingEvaluator(Evaluator):
    """Reports ``val_acc`` = step / 10 at steps 1..``steps`` (resource = step / 2), sleeping ``sleep_s``
    before each; stops with TrialPruned when told to. ``bad_step`` reports a string at that step."""

    def __init__(self, steps: int = 5, sleep_s: float = 0.0, bad_step: int | None = None) -> None:
        self.steps = steps
        self.sleep_s = sleep_s
        self.bad_step = bad_step

    def evaluate(self, space, arch, seed):
        curve: list[float] = []
        for step in range(1, self.steps + 1):
            time.sleep(self.sleep_s)
            value = "high" if step == self.bad_step else step / 10
            curve.append(step / 10)
            if reporting.report(step, {"val_acc": value, "pid": os.getpid()}, resource=step / 2):
                raise TrialPruned(f"pruned at step {step} (seed {seed})")
        return Result(metrics={"val_acc": curve[-1]}, curve={"val_acc": curve}, cost_s=0.01)


class DyingEvaluator(CountingEvaluator):
    """Kills its own worker (SIGKILL) after its first report while ``marker`` does not exist (once)."""

    def __init__(self, marker: str) -> None:
        super().__init__(steps=3)
        self.marker = marker

    def evaluate(self, space, arch, seed):
        if not Path(self.marker).exists():
            reporting.report(1, {"val_acc": 0.0})
            Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(space, arch, seed)


class FakeSink:
    """Records each report; when ``decides``, answers stop once the resource reaches ``stop_at``, after
    ``delay_s`` from another thread (a deferred answer, as a pruner waiting for its peers gives)."""

    def __init__(self, decides: bool = True, stop_at: float | None = None, delay_s: float = 0.0) -> None:
        self.decides = decides
        self.stop_at = stop_at
        self.delay_s = delay_s
        self.reports: list[tuple[int, float, dict[str, float]]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def report(self, step, resource, values, answer):
        with self.lock:
            self.reports.append((step, resource, dict(values)))
            self.threads.add(threading.current_thread().name)
        stop = self.stop_at is not None and resource >= self.stop_at
        if self.delay_s:
            threading.Timer(self.delay_s, answer, args=(stop,)).start()
        else:
            answer(stop)

    def steps(self) -> list[int]:
        return [step for step, _, _ in self.reports]


def test_inline_hands_each_report_to_the_sink_and_a_stop_answer_prunes_the_trial(toy_space):
    arch = toy_space.sample(__import__("numpy").random.default_rng(0))
    executor = InlineExecutor()
    sink = FakeSink(stop_at=1.5, delay_s=0.05)
    result = executor.submit(CountingEvaluator(), toy_space, arch, 7, reports=sink).result()
    assert result.status == "pruned" and result.error == "pruned at step 3 (seed 7)"
    assert [(s, r) for s, r, _ in sink.reports] == [(1, 0.5), (2, 1.0), (3, 1.5)]
    assert sink.reports[0][2]["val_acc"] == 0.1 and sink.reports[0][2]["pid"] == os.getpid()

    recording = FakeSink(decides=False, stop_at=0.5)  # would stop, but only records
    assert executor.submit(CountingEvaluator(), toy_space, arch, 7, reports=recording).result().ok
    assert recording.steps() == [1, 2, 3, 4, 5]
    assert executor.submit(CountingEvaluator(), toy_space, arch, 7).result().ok  # no sink: as before


def test_a_malformed_report_fails_the_trial_and_a_raising_sink_lets_it_go_on(toy_space):
    arch = toy_space.sample(__import__("numpy").random.default_rng(0))
    result = run_trial(CountingEvaluator(bad_step=2), toy_space, arch, 0, None)
    assert result.status == "failed" and result.error == "report: val_acc must be a number, got 'high'"

    class Raising(FakeSink):
        def report(self, step, resource, values, answer):
            super().report(step, resource, values, lambda stop: None)
            raise RuntimeError("bookkeeping bug")

    sink = Raising()
    assert InlineExecutor().submit(CountingEvaluator(), toy_space, arch, 0, reports=sink).result().ok
    assert sink.steps() == [1, 2, 3, 4, 5]


def test_the_pool_carries_reports_and_answers_between_workers_and_sinks(toy_space):
    import numpy as np

    arch = toy_space.sample(np.random.default_rng(0))
    executor = PoolExecutor(workers=2)
    try:
        stopped = FakeSink(stop_at=1.0, delay_s=0.1)  # deferred answers, from a timer thread
        recorded = FakeSink(decides=False, stop_at=0.5)
        going = FakeSink(stop_at=100.0)
        evaluator = CountingEvaluator(steps=6, sleep_s=0.02)
        futures = [
            executor.submit(evaluator, toy_space, arch, 1, reports=stopped),
            executor.submit(evaluator, toy_space, arch, 2, reports=recorded),
            executor.submit(evaluator, toy_space, arch, 3, reports=going),
            executor.submit(evaluator, toy_space, arch, 4),  # no sink: nothing sent
        ]
        results = [future.result(timeout=120) for future in futures]
        assert results[0].status == "pruned" and results[0].error == "pruned at step 2 (seed 1)"
        assert results[0].cost_s > 0
        assert [r.status for r in results[1:]] == ["ok", "ok", "ok"]
        # every report reached its sink before the trial's future resolved, in order
        assert stopped.steps() == [1, 2]
        assert recorded.steps() == going.steps() == [1, 2, 3, 4, 5, 6]
        assert [r for _, r, _ in going.reports] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        worker_pids = {values["pid"] for sink in (stopped, recorded, going) for _, _, values in sink.reports}
        assert os.getpid() not in worker_pids and len(worker_pids) in (1, 2)
        assert stopped.threads | recorded.threads | going.threads == {"pool-activity"}
        # a worker waiting for an answer and one that is not both go on to their next trials
        again = FakeSink(stop_at=0.5)
        assert executor.submit(evaluator, toy_space, arch, 5, reports=again).result(timeout=60).status == (
            "pruned"
        )
        assert again.steps() == [1]
    finally:
        executor.shutdown()


def test_a_pool_rebuilt_after_a_worker_died_carries_reports_on_fresh_queues(toy_space, tmp_path):
    import numpy as np

    from archsearch.executors.base import WorkerDiedError

    arch = toy_space.sample(np.random.default_rng(0))
    executor = PoolExecutor(workers=1)
    try:
        evaluator = DyingEvaluator(str(tmp_path / "died"))
        first = FakeSink(stop_at=100.0)
        with pytest.raises(WorkerDiedError):
            executor.submit(evaluator, toy_space, arch, 1, reports=first).result(timeout=60)
        assert first.steps() == [1]  # reached the driver before the worker died
        again = FakeSink(stop_at=1.0)
        result = executor.submit(evaluator, toy_space, arch, 1, reports=again).result(timeout=60)
        assert result.status == "pruned" and again.steps() == [1, 2]
    finally:
        executor.shutdown()


ray_executor = test_ray.ray_executor  # the fixture: one local Ray for this module, made as test_ray's


@pytest.mark.slow
def test_ray_carries_reports_and_answers_through_its_mailbox_actor(ray_executor, toy_space):
    import numpy as np

    arch = toy_space.sample(np.random.default_rng(0))
    stopped = FakeSink(stop_at=1.5, delay_s=0.2)
    recorded = FakeSink(decides=False, stop_at=0.5)
    evaluator = CountingEvaluator(steps=5)
    futures = [
        ray_executor.submit(evaluator, toy_space, arch, 1, reports=stopped),
        ray_executor.submit(evaluator, toy_space, arch, 2, reports=recorded),
        ray_executor.submit(evaluator, toy_space, arch, 3),
    ]
    results = [future.result(timeout=120) for future in futures]
    assert results[0].status == "pruned" and results[0].error == "pruned at step 3 (seed 1)"
    assert [r.status for r in results[1:]] == ["ok", "ok"]
    assert stopped.steps() == [1, 2, 3]
    assert recorded.steps() == [1, 2, 3, 4, 5]
    assert [r for _, r, _ in recorded.reports] == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert os.getpid() not in {values["pid"] for _, _, values in recorded.reports}
    assert stopped.threads | recorded.threads == {"ray-reports"}
