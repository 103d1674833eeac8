"""The HTML study report: summary, best trial, plots and tables, with every text escaped."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from archsearch.core import TrialRecord
from archsearch.report.html import write_report
from archsearch.study import Study, best_trial
from conftest import toy_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAILURE = "loss became nan at epoch 1, batch 3"  # what ToyEvaluator(fail_when_h1=True) reports


def nasrl_cnn_study(directory: Path, n_trials: int = 24) -> list[TrialRecord]:
    """A random search of a 3-layer NAS-RL CNN space scored by the toy evaluator (no training).

    The toy evaluator only reads ``arch.values``; here ``values[1]`` is layer 0's filter height, so
    ``fail_when_h1`` fails every architecture whose first filter is 1 high.
    """
    config = toy_config(
        n_trials=n_trials,
        space={"name": "nasrl_cnn", "params": {"num_layers": 3}},
        strategy={"name": "random"},
        evaluator={"name": "toy", "params": {"fail_when_h1": True}},
    )
    study = Study.create(config, directory)
    try:
        study.run()
        return study.store.trials()
    finally:
        study.close()


def png_links(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[list[TrialRecord], Path]:
    """One study and its report, shared by the tests that only read them (a report takes ~1 s)."""
    from archsearch import registry

    directory = tmp_path_factory.mktemp("report") / "study"
    with pytest.MonkeyPatch.context() as patch:  # what the function-scoped toy_registry fixture does
        patch.setitem(registry.SPACES, "toy", "conftest:ToyLayerSpace")
        patch.setitem(registry.EVALUATORS, "toy", "conftest:ToyEvaluator")
        trials = nasrl_cnn_study(directory)
        return trials, write_report(directory)


def test_report_shows_the_best_trial_failures_and_every_plot(report):
    trials, index = report
    best = best_trial(trials)
    assert best is not None and any(t.status == "failed" for t in trials)

    assert index == index.parent.parent / "report" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert html.escape(best.arch_str) in page
    assert FAILURE in page
    pngs = sorted(p.name for p in index.parent.glob("*.png"))
    expected = [
        "best_architecture.png",
        "best_so_far.png",
        "choices.png",
        "learning_curves.png",
        "rewards.png",
    ]
    assert pngs == expected
    assert sorted(png_links(page)) == pngs
    for name in pngs:
        data = (index.parent / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000
    assert "nasrl_cnn(num_layers=3)" in page and "toy(fail_when_h1=True)" in page
    assert "24 finished" in page


def test_report_escapes_the_less_than_sign_of_architecture_strings(report):
    trials, index = report
    linked = [t.arch_str for t in trials if "<" in t.arch_str]
    assert linked, "the study should hold architectures with skip connections"

    page = index.read_text(encoding="utf-8")

    assert "&lt;" in page
    assert re.search(r"<[0-9]", page) is None  # every tag starts with a letter, / or !
    assert not any(text in page for text in linked)


def test_report_of_a_study_without_finished_trials_says_so(tmp_path, toy_registry):
    Study.create(toy_config(), tmp_path / "study").close()
    out = tmp_path / "elsewhere"

    index = write_report(tmp_path / "study", out)

    assert index == out / "index.html"
    assert not (tmp_path / "study" / "report").exists()
    page = index.read_text(encoding="utf-8")
    assert "No finished trials yet" in page
    assert "0 finished" in page
    assert not (out / "best_architecture.png").exists()
    for name in png_links(page):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert write_report(tmp_path / "study", out) == index  # writing it again replaces it


def test_report_of_a_missing_study_is_a_store_error(tmp_path):
    from archsearch.errors import StoreError

    with pytest.raises(StoreError, match="no archsearch run in"):
        write_report(tmp_path / "nothing")
