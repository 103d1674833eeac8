"""Training speed of a language model on a compiled NAS-RL cell against the same model on torch.nn.LSTM.

Usage: python benchmarks/rnn_cell_speed.py [--rounds 20] [--threads 1] [--backends script,python,eager]

Both models: embedding 200, 2 recurrent layers of 200 units, dropout 0.2, tied decoder over a vocabulary
of 10,000 words; one round is the forward and backward pass of one truncated-BPTT batch of 35 steps x 20
sequences of random tokens, with the state carried over. The cell is the base-8 cell of the paper
(``NAS_CELL``, tf.contrib.rnn.NASCell). Rounds alternate between the models so that both see the same
machine load; the table reports median tokens per second. Target: the compiled cell >= 0.5x the LSTM.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from archsearch.spaces.rnn_cell import NAS_CELL, RNNCellSpace

VOCAB_SIZE = 10_000
SIZE = 200
NUM_LAYERS = 2
DROPOUT = 0.2
STEPS, BATCH = 35, 20


class LSTMLanguageModel(nn.Module):
    """The baseline: TreeCellLM's embedding, dropout and tied decoder around torch.nn.LSTM."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB_SIZE, SIZE)
        self.lstm = nn.LSTM(SIZE, SIZE, NUM_LAYERS, dropout=DROPOUT)
        self.dropout = nn.Dropout(DROPOUT)
        self.decoder = nn.Linear(SIZE, VOCAB_SIZE)
        self.decoder.weight = self.embedding.weight

    def forward(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        outputs, state = self.lstm(self.dropout(self.embedding(tokens)), state)
        return self.decoder(self.dropout(outputs)), state


def trainer(model: nn.Module, tokens: torch.Tensor) -> Callable[[], None]:
    """One forward and backward pass per call on consecutive batches of ``tokens``, state carried over."""
    model.train()
    state = [tuple(torch.zeros(NUM_LAYERS, BATCH, SIZE) for _ in range(2))]
    position = [0]

    def step() -> None:
        start = position[0]
        batch = tokens[start : start + STEPS + 1]
        logits, new_state = model(batch[:-1], state[0])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), batch[1:].reshape(-1))
        model.zero_grad(set_to_none=True)
        loss.backward()
        state[0] = tuple(s.detach() for s in new_state)
        position[0] = (start + STEPS) % (len(tokens) - STEPS - 1)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed batches per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per model first")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--backends", default="script", help="comma-separated TreeCell backends: script, python, eager"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokens = torch.randint(0, VOCAB_SIZE, (STEPS * 50 + 1, BATCH))
    space = RNNCellSpace()
    arch = space.decode(NAS_CELL)
    models: dict[str, nn.Module] = {"torch.nn.LSTM": LSTMLanguageModel()}
    for backend in args.backends.split(","):
        models[f"NAS cell ({backend})"] = space.build_lm(
            arch, VOCAB_SIZE, SIZE, SIZE, NUM_LAYERS, DROPOUT, tie_weights=True, backend=backend
        )
    steps = {name: trainer(model, tokens) for name, model in models.items()}
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - start)
    tokens_per_batch = STEPS * BATCH
    rates = {name: tokens_per_batch / statistics.median(times) for name, times in seconds.items()}
    baseline = rates["torch.nn.LSTM"]
    print(
        f"language model, vocabulary {VOCAB_SIZE}, {NUM_LAYERS} layers of {SIZE}, batches {STEPS} x {BATCH}, "
        f"forward + backward, {args.threads} torch thread(s), {args.rounds} alternating rounds"
    )
    print(f"cell: {NAS_CELL}")
    print(f"{'model':<24} {'params':>10} {'tokens/s':>10} {'ms/batch':>9} {'vs LSTM':>8}")
    for name, rate in rates.items():
        parameters = sum(p.numel() for p in models[name].parameters())
        print(
            f"{name:<24} {parameters:>10,} {rate:>10,.0f} {1000 * tokens_per_batch / rate:>9.1f} "
            f"{rate / baseline:>7.2f}x"
        )


if __name__ == "__main__":
    main()
