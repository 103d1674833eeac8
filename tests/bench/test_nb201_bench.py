from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from archsearch.bench.nb201 import plan, regret_curves, run_benchmark, run_search, summarize
from archsearch.errors import ConfigError
from archsearch.evaluators.tabular import load_table
from test_cli import run_cli


def test_a_search_stops_before_the_budget_and_reports_its_incumbent():
    trace = run_search("random", "cifar10", 12_000, seed=0)
    assert 80 < trace.queries < 140 and trace.times[-1] <= 12_000
    table = load_table("cifar10")
    cost = 12 / 200 * table.train_time_200ep_s
    assert trace.times[-1] + cost.min() > 12_000 or trace.times[-1] + cost.max() > 12_000
    # the incumbent never gets worse by the search signal; the final one is the last incumbent
    assert trace.final_index == trace.incumbents[-1]
    assert np.all(np.diff(trace.times) > 0)


def test_same_seed_same_search_and_other_seed_another():
    a, b = run_search("evolution", "cifar100", 40_000, 3), run_search("evolution", "cifar100", 40_000, 3)
    assert a.incumbents == b.incumbents and a.times == b.times
    assert run_search("evolution", "cifar100", 40_000, 4).incumbents != a.incumbents


def test_nb201_protocol_searches_cifar10_and_reports_on_every_dataset():
    assert plan("nb201", ["cifar10", "cifar100"], None) == [("cifar10", 12_000.0)]
    assert plan("nats", ["cifar100", "imagenet16"], None) == [
        ("cifar100", 40_000.0),
        ("imagenet16", 120_000.0),
    ]
    traces = run_benchmark(["random"], ["cifar10", "imagenet16"], runs=3, workers=1)
    rows = summarize(traces, ["cifar10", "imagenet16"])
    assert [(r.dataset, r.runs) for r in rows] == [("cifar10", 3), ("imagenet16", 3)]
    found = [t.final_index for t in traces]
    assert rows[1].test_mean == pytest.approx(np.mean(load_table("imagenet16").test_acc_200ep[found]))


def test_regret_is_never_negative_and_falls_over_the_search():
    traces = run_benchmark(["evolution"], ["cifar10"], runs=4, workers=1)
    grid = np.geomspace(max(t.times[0] for t in traces), 12_000, 50)
    mean, low, high = regret_curves(traces, "cifar10", grid)["evolution"]
    assert np.all(mean >= 0) and np.all(low <= high)
    assert mean[-1] < mean[0] / 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategies": ["nope"]}, "unknown strategy"),
        ({"datasets": ["mnist"]}, "unknown dataset"),
        ({"protocol": "paper"}, "unknown protocol"),
        ({"budget": -5.0}, "budget"),
        ({"runs": 0}, "runs"),
    ],
)
def test_bad_benchmark_requests_are_config_errors(kwargs, message):
    request = {"strategies": ["random"], "datasets": ["cifar10"], "runs": 1, "workers": 1, **kwargs}
    with pytest.raises(ConfigError, match=message):
        run_benchmark(**request)


def test_cli_writes_table_csv_json_and_plot(tmp_path, capsys):
    out = tmp_path / "b"
    code = run_cli("bench", "nb201", "--datasets", "cifar10,cifar100", "--strategies", "random,evolution",
                   "--runs", "3", "--workers", "1", "--out", str(out))  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "optimal" in printed and "94.37" in printed and "73.51" in printed
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {(r["dataset"], r["strategy"]) for r in rows} >= {("cifar10", "random"), ("cifar100", "evolution")}
    assert len(json.loads((out / "traces.json").read_text())) == 6
    assert (out / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
