"""A study database with pruned trials, written straight through its store (no pruner, no run): for the
tests of what ``status``, ``best``, ``trials``, the report and the progress display show of pruning.

Trials of ``user_study.UserSpace`` rewarded by ``f1`` (4 epochs in full), each reporting ``f1`` and
``loss`` per epoch:

- 0: ok, trained 4 epochs, reward 0.60
- 1: pruned at 1 epoch, reward 0.10
- 2: pruned at 2 epochs, reward 0.95 (higher than any trial trained to the end)
- 3: failed after 1 epoch
- 4: ok, trained 4 epochs, reward 0.80 (the best trial)
- 5: running, 2 epochs reported so far
"""

from __future__ import annotations

from pathlib import Path

from archsearch.core import Architecture, Result
from archsearch.reporting import Report
from archsearch.study import Study
from user_study import user_config

CURVES = {
    0: [0.3, 0.45, 0.55, 0.60],
    1: [0.10],
    2: [0.90, 0.95],
    3: [0.20],
    4: [0.4, 0.6, 0.7, 0.80],
    5: [0.35, 0.50],
}
STATUS = {0: "ok", 1: "pruned", 2: "pruned", 3: "failed", 4: "ok", 5: "running"}
REASON = "pruned at {r} epochs: f1 below the top 1/3 of its rung"
ARCHS = [
    ("relu", 16, 0.0, "block0"),
    ("gelu", 16, 0.25, "block1"),
    ("relu", 32, 0.0, "block2"),
    ("tanh", 64, 0.0, "block3"),
    ("gelu", 64, 0.0, "block11"),
    ("relu", 32, 0.5, "block5"),
]


def make_pruned_study(directory: Path, statuses: dict[int, str] | None = None) -> Path:
    """Write the study above into ``directory`` (``statuses`` replaces some trials' statuses, e.g. every
    ok trial pruned); its directory."""
    status = {**STATUS, **(statuses or {})}
    study = Study.create(user_config(n_trials=8), directory)
    try:
        store, space = study.store, study.space
        event = 0
        for number, values in enumerate(ARCHS):
            arch = Architecture(space.name, values)
            store.add_trial(number, arch, space.encode(arch), seed=number, ask_event=event)
            event += 1
            curve = CURVES[number]
            store.add_reports(
                Report(number, step, float(step), {"f1": f1, "loss": 1.0 / step}, time=100.0 + number + step)
                for step, f1 in enumerate(curve, start=1)
            )
            if status[number] == "running":
                continue
            series = {"f1": list(curve), "loss": [1.0 / s for s in range(1, len(curve) + 1)]}
            metrics = {"f1": curve[-1], "rmse": 1.0 - curve[-1], "params": 1000.0 * (number + 1)}
            error = None
            if status[number] == "pruned":
                metrics["resource"] = float(len(curve))
                error = REASON.format(r=len(curve))
            elif status[number] == "failed":
                metrics, series, error = {}, {}, "width 64 with tanh: 0 channels after pruning"
            result = Result(
                metrics=metrics, cost_s=0.5 * len(curve), status=status[number], error=error, curve=series
            )  # type: ignore[arg-type]
            reward = curve[-1] if status[number] != "failed" else 0.0
            store.finish_trial(number, result, reward, tell_event=event)
            event += 1
    finally:
        study.close()
    return directory
