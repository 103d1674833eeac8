"""`bench nb201-mo`: the true front of the table, hypervolume ratios, the command and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.bench.nb201_mo import run_benchmark, run_search, table_losses, true_front
from archsearch.cli import main
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.objectives import parse_objectives
from archsearch.pareto import dominates


@pytest.mark.parametrize("device", ["pixel3", "eyeriss"])
def test_true_front_is_non_dominated_and_covers_every_cell(device):
    truth = true_front(device)
    front = truth.losses
    assert not any(dominates(a, b) for a in front for b in front)
    cells = table_losses(TabularEvaluator(device=device), parse_objectives(["val_acc:max", "latency_ms:min"]))
    # Every cell is weakly dominated by the front member with the largest first loss not above its own.
    order = np.argsort(front[:, 0])
    position = np.searchsorted(front[order, 0], cells[:, 0], side="right") - 1
    assert np.all(position >= 0)
    assert np.all(front[order][position, 1] <= cells[:, 1])
    assert truth.hypervolume > 0 and np.all(truth.reference > front.max(axis=0))


def test_found_fronts_never_exceed_the_true_one_and_improve_over_time():
    trace = run_search("random", "raspi4", 8_000, seed=1)
    ratios = np.array(trace.hv_ratio)
    assert trace.queries == len(ratios) > 40 and np.all(np.diff(trace.times) > 0)
    # Not monotone in general (a noisy observation can push a truly better cell off the found front).
    assert 0 < ratios[0] < ratios[-1] <= 1


def test_single_objective_strategies_run_on_the_mnasnet_reward():
    traces = run_benchmark(["evolution", "lemonade"], ["fpga"], runs=1, budget_s=3_000, workers=1)
    assert {t.strategy for t in traces} == {"evolution", "lemonade"}
    assert all(0 < t.final_ratio <= 1 for t in traces)


def test_command_writes_a_summary_and_rejects_bad_names(tmp_path, capsys):
    args = ["bench", "nb201-mo", "--device", "pixel3", "--strategies", "nsga2,random", "--runs", "2"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--budget", "3000", "--workers", "1", "-o", str(tmp_path)])
    assert exit_info.value.code == 0
    assert "HV / true HV" in capsys.readouterr().out
    traces = json.loads((tmp_path / "traces.json").read_text())
    assert len(traces) == 4 and (tmp_path / "hypervolume.png").exists()
    for bad, message in [
        (["--device", "pixel9"], "unknown latency device 'pixel9'"),
        (["--strategies", "nsga3"], "unknown strategy 'nsga3'"),
        (["--objectives", "val_acc:max,energy:min"], "no column for one of"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", "nb201-mo", *bad, "-o", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and message in err and len(err.splitlines()) == 1
