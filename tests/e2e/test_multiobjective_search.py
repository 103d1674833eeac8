"""End to end: NSGA-II trains real children on digits, measures each one's CPU latency, and a model is
picked off the front under a latency bound, reported and exported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.cli import main
from archsearch.front import front
from archsearch.objectives import parse_objectives
from archsearch.study import Study

pytestmark = pytest.mark.slow


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0)


def test_nsga2_on_digits_with_measured_latency_then_best_under_a_bound_report_and_export(tmp_path, capsys):
    out = tmp_path / "mo"
    assert cli(
        "search", "-o", str(out), "--strategy", "nsga2", "--dataset", "digits", "--epochs", "1",
        "--trials", "6", "--executor", "inline", "--quiet",
        "--set", "evaluator.name=latency",
        "--set", "evaluator.params.train_limit=400",
        "--set", "evaluator.params.latency_repeats=5",
        "--set", "space.params.num_layers=2",
        "--set", "space.params.num_filters=[8,32]",
        "--set", "objectives=[val_acc:max, latency_ms:min]",
        "--set", "strategy.params.population_size=3",
    ) == 0  # fmt: skip
    study = Study.load(out)
    trials = [t for t in study.store.trials() if t.status == "ok"]
    study.close()
    assert len(trials) == 6 and all(t.metrics["latency_ms"] > 0 and t.metrics["flops_m"] > 0 for t in trials)
    bound = float(np.median([t.metrics["latency_ms"] for t in trials]))
    capsys.readouterr()

    assert cli("best", str(out), "--objective", "val_acc", "--max-latency", str(bound), "--json") == 0
    picked = json.loads(capsys.readouterr().out)
    allowed = [t for t in trials if t.metrics["latency_ms"] <= bound]
    # ties in accuracy go to the faster child (so the pick lies on the front), then the earlier one
    expected = max(allowed, key=lambda t: (t.metrics["val_acc"], -t.metrics["latency_ms"], -t.number))
    assert picked["number"] == expected.number and picked["metrics"]["latency_ms"] <= bound
    members = front(trials, parse_objectives(["val_acc:max", "latency_ms:min"]))
    assert expected.number in {t.number for t in members}  # the pick lies on the front

    assert cli("front", str(out)) == 0
    assert cli("report", str(out)) == 0
    page = (out / "report" / "index.html").read_text()
    assert "Pareto front" in page and (out / "report" / "pareto_front.png").stat().st_size > 0
    member = members[-1].number
    assert cli("export", str(out), "--trial", str(member)) == 0
    assert f"exported trial {member}" in capsys.readouterr().out
    assert (out / "export" / "model.py").exists()
