from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from archsearch.core import Architecture, Decision
from archsearch.errors import ConfigError, DataError
from archsearch.evaluators.language_model import LanguageModelEvaluator, detach_state, perplexity
from tiny_spaces import NanAfter, OneChoiceSpace, Sleep

SUBJECTS = ("the cat", "a dog", "my bird")
VERBS = ("sees", "chases", "likes")
OBJECTS = ("the ball", "a stick", "my hat")
TRAIN_LINES = 400
# 400 lines of 5 words + <eos> = 2,400 tokens in 8 columns of 300 steps: 30 chunks of at most 10 steps.
CHUNKS_PER_EPOCH = 30


class TinyLM(nn.Module):
    """Test-only LM with the interface of archsearch's recurrent-cell LMs: one nn.LSTM per layer,
    state a list of (h, c) per layer, optional modules applied to the logits."""

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        tie_weights: bool,
        extra: list[nn.Module],
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.layers = nn.ModuleList(
            nn.LSTM(embedding_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        self.extra = nn.Sequential(*extra)

    def init_state(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        zeros = self.decoder.weight.new_zeros(1, batch_size, self.hidden_size)
        return [(zeros, zeros) for _ in self.layers]

    def forward(
        self, tokens: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        x = self.drop(self.embedding(tokens))
        new_state = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            x, layer_state = layer(x, layer_state)
            new_state.append(layer_state)
            x = self.drop(x)
        return self.extra(self.decoder(x)), new_state


class TinyLMSpace(OneChoiceSpace):
    """Test-only space: one decision that the LM ignores (a stand-in for a cell)."""

    name = "tiny-lm"
    width = Decision("width", "width", (8, 16))

    def build_lm(
        self,
        arch: Architecture,
        vocab_size: int,
        embedding_size: int = 200,
        hidden_size: int = 200,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = True,
    ) -> TinyLM:
        return TinyLM(vocab_size, embedding_size, hidden_size, num_layers, dropout, tie_weights, self.extra())


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class ExtraSpace(TinyLMSpace):
    def __init__(self, *modules: nn.Module) -> None:
        self.modules = modules

    def extra(self) -> list[nn.Module]:
        return list(self.modules)


class RaisingSpace(TinyLMSpace):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def build_lm(self, arch: Architecture, vocab_size: int, **sizes: Any) -> TinyLM:
        raise self.error


class ImageOnlySpace(TinyLMSpace):
    build_lm = None  # type: ignore[assignment]


ARCH = Architecture("tiny-lm", (8,))


def grammar_lines(count: int, seed: int) -> list[str]:
    """Sentences "subject verb object" in which the verb is fixed by the subject: easy to learn."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        subject = int(rng.integers(len(SUBJECTS)))
        lines.append(f" {SUBJECTS[subject]} {VERBS[subject]} {OBJECTS[int(rng.integers(len(OBJECTS)))]} ")
    return lines


@pytest.fixture(scope="module")
def ptb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("grammar")
    for name, count, seed in (("train", TRAIN_LINES, 0), ("valid", 40, 1), ("test", 40, 2)):
        (directory / f"ptb.{name}.txt").write_text(
            "".join(f"{line}\n" for line in grammar_lines(count, seed))
        )
    return directory


@pytest.fixture
def fast(ptb_dir: Path):
    def make(**overrides: Any) -> LanguageModelEvaluator:
        settings: dict[str, Any] = {
            "dataset": "ptb",
            "data_dir": str(ptb_dir),
            "embedding_size": 16,
            "hidden_size": 16,
            "num_layers": 1,
            "dropout": 0.0,
            "epochs": 2,
            "batch_size": 8,
            "bptt": 10,
            "device": "cpu",
        }
        return LanguageModelEvaluator(**{**settings, **overrides})

    return make


def test_result_has_every_metric_and_per_epoch_curves(fast):
    evaluator = fast()
    result = evaluator.evaluate(TinyLMSpace(), ARCH, seed=0)
    assert result.ok and result.error is None and result.cost_s > 0
    assert set(result.metrics) == {"val_ppl", "test_ppl", "params", "train_time_s", "tokens_per_s", "epochs"}
    assert len(result.curve["val_ppl"]) == len(result.curve["train_loss"]) == 2
    assert result.metrics["val_ppl"] == min(result.curve["val_ppl"])
    vocab_size = evaluator.data_shape()[1]
    model = TinyLMSpace().build_lm(ARCH, vocab_size, 16, 16, 1, 0.0, True)
    assert result.metrics["params"] == sum(p.numel() for p in model.parameters())
    assert result.metrics["epochs"] == 2 and result.metrics["tokens_per_s"] > 0


def test_data_shape_is_the_model_sizes_and_the_vocabulary(fast):
    # the, a, my; 3 nouns of subjects, 3 verbs, 3 nouns of objects; <eos>.
    assert fast().data_shape() == ((16, 16), 3 + 3 + 3 + 3 + 1)


def test_training_on_a_grammar_drops_perplexity_far_below_the_vocabulary_size(fast):
    result = fast(hidden_size=24, embedding_size=24).evaluate(TinyLMSpace(), ARCH, seed=1)
    assert result.ok
    assert result.curve["val_ppl"][-1] < result.curve["val_ppl"][0]
    # Uniform guessing scores 13; the grammar leaves about 1.5 choices per token.
    assert result.metrics["val_ppl"] < 2.5 and result.metrics["test_ppl"] < 2.5


def test_adam_also_learns(fast):
    result = fast(optimizer="adam", lr=0.02).evaluate(TinyLMSpace(), ARCH, seed=1)
    assert result.ok and result.metrics["val_ppl"] < 2.5


def test_same_seed_gives_an_identical_curve(fast):
    evaluator = fast(dropout=0.2)
    first = evaluator.evaluate(TinyLMSpace(), ARCH, seed=7)
    second = evaluator.evaluate(TinyLMSpace(), ARCH, seed=7)
    other = evaluator.evaluate(TinyLMSpace(), ARCH, seed=8)
    assert first.curve == second.curve
    assert first.metrics["test_ppl"] == second.metrics["test_ppl"]
    assert first.curve["train_loss"] != other.curve["train_loss"]


def test_limit_truncates_the_training_stream(fast):
    evaluator = fast(limit=800)
    assert evaluator.split().train.shape == (100, 8)
    assert evaluator.evaluate(TinyLMSpace(), ARCH, seed=0).ok


def test_nan_loss_fails_with_epoch_and_batch(fast):
    result = fast().evaluate(ExtraSpace(NanAfter(0)), ARCH, seed=0)
    assert result.status == "failed"
    assert result.error == "loss became nan at epoch 1, batch 1"


def test_nan_in_a_later_epoch_keeps_the_partial_curve(fast):
    result = fast().evaluate(ExtraSpace(NanAfter(CHUNKS_PER_EPOCH + 1)), ARCH, seed=0)
    assert result.error == "loss became nan at epoch 2, batch 2"
    assert len(result.curve["val_ppl"]) == 1 and result.metrics["epochs"] == 1
    assert result.metrics["params"] > 0


def test_exploding_perplexity_fails_the_trial(fast):
    result = fast().evaluate(ExtraSpace(Scale(1e4)), ARCH, seed=0)
    assert result.status == "failed"
    assert (
        result.error == "perplexity exploded: validation perplexity inf after epoch 1 is above max_ppl=10000"
    )
    assert result.curve["val_ppl"] == [math.inf]


def test_perplexity_above_max_ppl_fails_the_trial(fast):
    result = fast(max_ppl=1.5).evaluate(TinyLMSpace(), ARCH, seed=0)
    assert result.status == "failed" and result.error is not None
    assert result.error.startswith("perplexity exploded: validation perplexity ")
    assert result.error.endswith(" after epoch 1 is above max_ppl=1.5")


def test_exception_in_build_fails_with_type_and_message(fast):
    result = fast().evaluate(RaisingSpace(ValueError("no such cell")), ARCH, seed=0)
    assert result.status == "failed" and result.error == "ValueError: no such cell"
    assert result.curve == {"val_ppl": [], "train_loss": []}


def test_out_of_memory_is_reported_as_such(fast):
    error = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    result = fast().evaluate(RaisingSpace(error), ARCH, seed=0)
    assert result.error == "out of memory: CUDA out of memory. Tried to allocate 2.00 GiB"


def test_timeout_gives_timeout_status_with_limit_and_epoch(fast):
    result = fast(timeout_s=0.2).evaluate(ExtraSpace(Sleep()), ARCH, seed=0)
    assert result.status == "timeout"
    assert result.error is not None and result.error.startswith(
        "exceeded the time limit of 0.2 s in epoch 1 of 2"
    )
    assert result.cost_s < 2


def test_space_without_build_lm_raises_config_error(fast):
    with pytest.raises(ConfigError, match="cannot build language models"):
        fast().evaluate(ImageOnlySpace(), ARCH, seed=0)


def test_missing_data_raises_data_error_from_prepare(tmp_path):
    with pytest.raises(DataError, match="ptb.train.txt"):
        LanguageModelEvaluator(data_dir=str(tmp_path), device="cpu").prepare()


def test_evaluator_pickles_without_its_loaded_data(fast):
    evaluator = fast(epochs=1)
    evaluator.prepare()
    clone = pickle.loads(pickle.dumps(evaluator))
    assert clone._splits == {}
    assert clone.evaluate(TinyLMSpace(), ARCH, seed=0).ok


def test_evaluate_restores_the_thread_count(fast):
    before = torch.get_num_threads()
    fast(epochs=1, threads=1).evaluate(TinyLMSpace(), ARCH, seed=0)
    assert torch.get_num_threads() == before


def test_defaults_are_the_classic_recipe():
    evaluator = LanguageModelEvaluator(device="cpu")
    assert (evaluator.optimizer, evaluator.lr, evaluator.clip, evaluator.bptt) == ("sgd", 20.0, 0.25, 35)
    assert LanguageModelEvaluator(optimizer="adam", device="cpu").lr == 0.002


def test_perplexity_and_detach_helpers():
    assert perplexity(math.log(13.0)) == pytest.approx(13.0)
    assert perplexity(1e6) == math.inf
    h = torch.ones(2, requires_grad=True) * 2
    detached = detach_state([(h, h)])
    assert isinstance(detached, list) and isinstance(detached[0], tuple)
    assert not detached[0][0].requires_grad


@pytest.mark.parametrize(
    "overrides",
    [
        {"level": "byte"},
        {"limit": 0},
        {"embedding_size": 0},
        {"hidden_size": 8},
        {"num_layers": 0},
        {"dropout": 1.0},
        {"tie_weights": "yes"},
        {"epochs": 0},
        {"batch_size": 1.5},
        {"bptt": 0},
        {"optimizer": "rmsprop"},
        {"lr": 0},
        {"lr": float("nan")},
        {"clip": 0},
        {"max_ppl": 1},
        {"timeout_s": 0},
        {"threads": 0},
        {"split_seed": "x"},
        {"device": "tpu-ish"},
        {"dataset": ""},
    ],
)
def test_bad_constructor_values_raise_config_error(fast, overrides):
    with pytest.raises(ConfigError):
        fast(**overrides)
