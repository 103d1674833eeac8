"""End to end: a recurrent-cell search trains real language models, then report and export."""

from __future__ import annotations

import importlib.util
import random

import pytest
import torch

from test_cli import run_cli

pytestmark = pytest.mark.slow


def _write_corpus(directory) -> None:
    rng = random.Random(0)
    subjects, verbs, objects = (
        ["the cat", "a dog", "my bird"],
        ["sees", "likes", "eats"],
        ["the fish", "a seed"],
    )
    for name, lines in (("ptb.train.txt", 400), ("ptb.valid.txt", 40), ("ptb.test.txt", 40)):
        text = "".join(
            f" {rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} \n" for _ in range(lines)
        )
        (directory / name).write_text(text)


def test_rnn_cell_search_reports_equations_and_exports_a_language_model(tmp_path, capsys):
    _write_corpus(tmp_path)
    out = tmp_path / "study"
    args = ["search", "--space", "rnn-cell", "--dataset", "ptb", "--data-dir", str(tmp_path), "--trials", "3",
            "--epochs", "1", "--executor", "inline", "--quiet", "--out", str(out),
            "--set", "space.params.base=2", "--set", "evaluator.params.hidden_size=16",
            "--set", "evaluator.params.embedding_size=16", "--set", "strategy.params.batch_size=2"]  # fmt: skip
    assert run_cli(*args) == 0
    from archsearch.study import Study

    study = Study.load(out)
    assert (
        study.config.evaluator.name == "language_model" and study.config.reward.name == "ppl_inverse_square"
    )
    best = study.best()
    study.close()
    assert best is not None and best.reward == pytest.approx(80 / best.metrics["val_ppl"] ** 2)
    assert run_cli("report", str(out)) == 0
    page = (out / "report" / "index.html").read_text()
    assert "As equations" in page and "h_t =" in page and "c_t =" in page
    assert (out / "report" / "best_architecture.png").read_bytes()[:4] == b"\x89PNG"
    assert run_cli("export", str(out)) == 0
    spec = importlib.util.spec_from_file_location("exported_cell", out / "export" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model().eval()
    logits, _ = model(torch.zeros(5, 2, dtype=torch.long))
    assert logits.shape[:2] == (5, 2)
