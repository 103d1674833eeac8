"""Evaluators and objectives that train in steps, for the pruning tests (importable by pool workers)."""

from __future__ import annotations

import os
import time

from archsearch.core import Evaluator, Result
from archsearch.reporting import report
from conftest import fraction_3x3


def quality(arch, seed: int) -> float:
    """The toy space's score: the fraction of 3x3 filters, plus a small deterministic per-seed noise."""
    return 0.2 + 0.7 * fraction_3x3(arch) + (seed % 97) / 100_000


class StepEvaluator(Evaluator):
    """Trains for ``steps`` steps; after step t the child reaches ``quality * (1 - 0.6**t)`` (rankings of
    children never cross, so the best child at step 1 is the best at the end) and reports it; told to
    stop, it returns what it reached as a pruned Result. ``jitter_s``: a random sleep per step drawn from
    the operating system (not the seed), so trials in parallel report in changing orders."""

    metric = "val_acc"

    def __init__(self, steps: int = 9, jitter_s: float = 0.0, report_metric: str = "val_acc") -> None:
        self.steps = steps
        self.epochs = steps
        self.jitter_s = jitter_s
        self.report_metric = report_metric

    def evaluate(self, space, arch, seed):
        score = quality(arch, seed)
        curve: list[float] = []
        for step in range(1, self.steps + 1):
            if self.jitter_s:
                time.sleep(self.jitter_s * os.urandom(1)[0] / 255)
            value = score * (1 - 0.6**step)
            curve.append(value)
            if report(step, {self.report_metric: value}):
                return Result(
                    metrics={"val_acc": value, "resource": float(step)},
                    curve={"val_acc": curve},
                    cost_s=0.01 * step,
                    status="pruned",
                    error=f"pruned at step {step}",
                )
        return Result(metrics={"val_acc": curve[-1]}, curve={"val_acc": curve}, cost_s=0.01 * self.steps)


class SilentEvaluator(Evaluator):
    """Trains without reporting a step: a pruner cannot work with it."""

    def evaluate(self, space, arch, seed):
        return Result(metrics={"val_acc": quality(arch, seed)})


class LookupEvaluator(SilentEvaluator):
    """A table lookup without fidelities: it says so, and a study with a pruner refuses it."""

    no_intermediate_reports = "the toy lookup has one fidelity only; search it without a pruner"


class RaisingStepEvaluator(StepEvaluator):
    """As StepEvaluator, but told to stop it raises TrialPruned (as the tutorial says your own may)."""

    def evaluate(self, space, arch, seed):
        from archsearch.errors import TrialPruned

        score = quality(arch, seed)
        for step in range(1, self.steps + 1):
            if report(step, {"val_acc": score * (1 - 0.6**step)}):
                raise TrialPruned(f"told to stop at step {step}")
        return Result(metrics={"val_acc": score * (1 - 0.6**self.steps)})
