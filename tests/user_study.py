"""A user's study without torch: a space of named decisions and an evaluator reporting its own metrics.

Shared by the report and multi-objective tests: ``UserSpace`` has value choices (strings, ints, floats)
and a layer-like choice among many candidates; ``UserMetricsEvaluator`` returns ``f1``, ``rmse`` and
``params`` (no ``val_acc``) with per-epoch curves of ``f1`` and ``loss``, and fails some children.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archsearch.config import StudyConfig, parse_config
from archsearch.core import Architecture, Decision, Evaluator, Result, SearchSpace, TrialRecord
from archsearch.study import Study

BLOCKS = tuple(f"block{k}" for k in range(12))
DECISIONS = (
    Decision("act", "act", ("relu", "gelu", "tanh")),
    Decision("width", "width", (16, 32, 64)),
    Decision("dropout", "dropout", (0.0, 0.25, 0.5)),
    Decision("cell", "cell", BLOCKS),
)
FAILURE = "width 64 with tanh: 0 channels after pruning"


class UserSpace(SearchSpace):
    """Four named decisions, one of them among twelve candidates; ``values`` names them like a model space."""

    name = "user-space"

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        return DECISIONS[len(prefix)] if len(prefix) < len(DECISIONS) else None

    def kinds(self) -> dict[str, Decision]:
        return {d.kind: d for d in DECISIONS}

    def encode(self, arch: Architecture) -> str:
        return ",".join(f"{d.name}={v}" for d, v in zip(DECISIONS, arch.values, strict=True))

    def decode(self, text: str) -> Architecture:
        raw = dict(part.split("=") for part in text.split(","))
        values = [type(d.choices[0])(raw[d.name]) for d in DECISIONS]
        return Architecture(self.name, tuple(values))

    def config(self) -> dict[str, Any]:
        return {}

    def values(self, arch: Architecture) -> dict[str, Any]:
        return {d.name: v for d, v in zip(DECISIONS, arch.values, strict=True)}


class UserMetricsEvaluator(Evaluator):
    """Scores ``UserSpace`` by formula: f1 rises with width and the cell's index, params grow with width."""

    def __init__(self, epochs: int = 4, curves: bool = True) -> None:
        self.epochs = epochs
        self.curves = curves

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        act, width, dropout, cell = arch.values
        if act == "tanh" and width == 64:
            return Result.failure(FAILURE, cost_s=0.01)
        quality = 0.4 + 0.3 * width / 64 + 0.02 * BLOCKS.index(cell) - 0.1 * dropout + (seed % 7) / 1000
        f1_curve = [quality * (k + 1) / self.epochs for k in range(self.epochs)]
        return Result(
            metrics={"f1": f1_curve[-1], "rmse": 1.0 - quality, "params": float(width * 1000 + 7)},
            curve={"f1": f1_curve, "loss": [1.0 / (k + 1) for k in range(self.epochs)]}
            if self.curves
            else {},
            cost_s=0.01,
        )


DICT_CHOICES = {"depth": [1, 2, 3], "width": [8, 16], "act": ["relu", "gelu"]}


def dict_objective(values: dict[str, Any], seed: int, report: Any) -> dict[str, float]:
    """A user's function on a dict space's values: reports ``f1`` per step, returns ``f1`` and ``params``;
    a depth of 3 with gelu fails (raises)."""
    if values["depth"] == 3 and values["act"] == "gelu":
        raise ValueError("depth 3 with gelu diverged")
    f1 = 0.5 + 0.1 * values["depth"] + values["width"] / 100 + (seed % 5) / 1000
    for step in range(3):
        report(step, {"f1": f1 * (step + 1) / 3})
    return {"f1": f1, "params": float(values["depth"] * values["width"] * 10)}


def model_objective(model: Any, seed: int, report: Any) -> dict[str, float]:
    """A user's function on a model space's built child (an ``nn.Module`` on 1x8x8 inputs): runs it once,
    reports a loss per step and scores it by its size (smaller is better)."""
    import torch

    out = model(torch.zeros(2, 1, 8, 8))
    size = sum(p.numel() for p in model.parameters())
    for step in range(2):
        report(step, {"loss": 1.0 / (step + 1)})
    return {"acc": 1.0 / (1.0 + size / 1000), "outputs": float(out.shape[-1])}


def run_study(directory: Path, **overrides: Any) -> list[TrialRecord]:
    """Create and run a ``user_config`` study in ``directory``; its trials."""
    study = Study.create(user_config(**overrides), directory)
    try:
        study.run()
        return study.store.trials()
    finally:
        study.close()


def user_config(**overrides: Any) -> StudyConfig:
    """A 24-trial random search of ``UserSpace`` rewarded by ``f1``, run inline."""
    data: dict[str, Any] = {
        "seed": 0,
        "n_trials": 24,
        "executor": "inline",
        "space": {"name": "user_study:UserSpace"},
        "strategy": {"name": "random"},
        "evaluator": {"name": "user_study:UserMetricsEvaluator"},
        "reward": {"name": "metric", "params": {"metric": "f1"}},
    }
    data.update(overrides)
    return parse_config(data)
