"""The report of a multi-objective study: the Pareto plot (found and true front) and the front table."""

from __future__ import annotations

from archsearch.front import front, true_front
from archsearch.report.html import PARETO_PNG, write_report
from archsearch.study import Study
from conftest import tabular_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_shows_the_found_front_against_the_true_one(tmp_path):
    config = tabular_config(
        "lemonade",
        max_time_s=2_500,
        objectives=["val_acc:max", "latency_ms:min"],
        constraints=["latency_ms <= 20"],
        evaluator={"name": "tabular", "params": {"dataset": "cifar100", "device": "raspi4"}},
    )
    study = Study.create(config, tmp_path / "s")
    study.run()
    members = front(study.store.trials(), config.objectives, config.constraints)
    truth = true_front(study.evaluator, config.objectives)
    study.close()
    assert members and all(t.metrics["latency_ms"] <= 20 for t in members)
    # The table's fastest cell is on its true front; no found member is faster.
    assert truth is not None and truth[:, 1].min() <= min(t.metrics["latency_ms"] for t in members)
    index = write_report(tmp_path / "s")
    page = index.read_text()
    assert (index.parent / PARETO_PNG).read_bytes().startswith(PNG_MAGIC)
    assert "<h2>Pareto front</h2>" in page and "Constraints: latency_ms &lt;= 20" in page
    for t in members:
        assert f'<td class="num">{t.number}</td>' in page
