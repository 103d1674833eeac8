"""Language-model child training: build a recurrent LM around a searched cell, report its perplexity.

Implements the child training of NAS-RL's recurrent cell search (Zoph & Le 2017, section 4.2): a
2-layer language model on Penn Treebank whose validation perplexity gives the reward c / ppl^2. The
training recipe is the classic one of the PyTorch word-language-model example (after Zaremba et al.
2014): truncated backpropagation through time over ``batch_size`` columns in chunks of ``bptt`` steps,
hidden state carried (detached) from chunk to chunk, gradient-norm clipping at 0.25, plain SGD at lr 20
divided by 4 whenever validation perplexity stops improving; Adam (lr 0.002) as an alternative.
Perplexity = exp(mean cross-entropy per token).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.core import Architecture, SearchSpace
from archsearch.data.text import LEVELS, Corpus, batchify, bptt_batches, load_text
from archsearch.errors import ConfigError, TrialTimeoutError
from archsearch.evaluators.common import (
    ChildFailedError,
    ChildTrainingEvaluator,
    LossTally,
    TrialProgress,
    check_settings,
    cuda_settings,
    is_int,
    is_number,
    is_positive_int,
)

log = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adam")
# Default learning rates: SGD 20 (PyTorch word-language-model example), Adam 0.002.
DEFAULT_LR = {"sgd": 20.0, "adam": 0.002}
# SGD's learning rate is divided by this whenever validation perplexity does not improve (same example).
SGD_LR_DECAY = 4.0


class PerplexityExplodedError(ChildFailedError):
    """Validation perplexity went above the limit or stopped being a finite number."""


def perplexity(mean_loss: float) -> float:
    """exp(mean cross-entropy per token, in nats); inf where that overflows, nan for a nan loss."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def detach_state(state: Any) -> Any:
    """The recurrent ``state`` (tensors in nested lists and tuples) cut from its autograd history, so that
    backpropagation stops at the start of the next chunk (truncated BPTT)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, list | tuple):
        return type(state)(detach_state(part) for part in state)
    return state


def evaluate_loss(model: nn.Module, data: torch.Tensor, bptt: int, batch_size: int) -> float:
    """Mean cross-entropy per token of ``model`` (eval mode, no gradients) over the (T, B) ``data``."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    count = 0
    with torch.no_grad():
        state = model.init_state(batch_size)  # type: ignore[operator]  # an LM's own method
        for inputs, targets in bptt_batches(data, bptt):
            logits, state = model(inputs, state)
            total += F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum"
            ).double()
            count += targets.numel()
    return total.item() / max(count, 1)


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    bptt: int,
    batch_size: int,
    clip: float | None,
    *,
    deadline: float | None = None,
    check_every: int = 1,
) -> float:
    """One pass of truncated BPTT over the (T, B) training ``data``; returns the mean chunk loss.

    Raises NonFiniteLossError when a loss is nan or inf (checked every ``check_every`` chunks, reporting
    the exact 1-based chunk) and TrialTimeoutError when ``time.perf_counter()`` passes ``deadline``.
    """
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    state = model.init_state(batch_size)  # type: ignore[operator]  # an LM's own method
    tally = LossTally(check_every, deadline)
    for inputs, targets in bptt_batches(data, bptt):
        state = detach_state(state)
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(parameters, clip)
        optimizer.step()
        tally.add(loss)
    return tally.mean()


@dataclass
class TextSplit:
    """The train / validation / test streams of one corpus, batchified on one device."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    vocab_size: int


class LanguageModelEvaluator(ChildTrainingEvaluator[TextSplit]):
    """Trains the language model ``space.build_lm(arch, vocab_size, ...)`` and reports its perplexity.

    Zoph & Le 2017, section 4.2: a 2-layer child on Penn Treebank, 35 epochs in the paper (scaled down
    to ``epochs`` 6 here), reward c / (validation perplexity)^2. Sizes default to the PyTorch example's
    small model (200-unit embedding and hidden state, dropout 0.2, tied input and output embeddings,
    Press & Wolf 2017). ``optimizer`` "sgd" uses lr 20 divided by 4 each epoch that validation does not
    improve; "adam" uses lr 0.002 without decay; ``lr`` overrides either. ``clip`` caps the gradient
    norm (None: no clipping). ``limit`` keeps the first N training tokens. A validation perplexity above
    ``max_ppl`` (or not finite) fails the trial. ``val_ppl`` is the best epoch's validation perplexity and
    ``test_ppl`` that of the same (best-validation) weights. ``split_seed`` fixes the 90/5/5 line split of
    corpora without one (plain text, shakespeare; None: contiguous blocks). Data loads lazily and is kept
    per evaluator instance; ``timeout_s`` is checked after every chunk. After each epoch the child reports
    ``val_ppl`` and ``train_loss`` (resource = epochs trained); a study's pruner may stop it there (status
    "pruned", ``val_ppl`` the best epoch's so far). ``evaluate`` never raises for a
    failing child (it gives a failed or timed-out Result); missing data (DataError) or a space without
    ``build_lm`` (ConfigError) raise: every trial would fail.
    """

    metric = "val_ppl"

    def __init__(
        self,
        dataset: str = "ptb",
        data_dir: str | None = None,
        level: str = "word",
        limit: int | None = None,
        max_vocab: int | None = None,
        embedding_size: int = 200,
        hidden_size: int = 200,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = True,
        epochs: int = 6,
        batch_size: int = 20,
        eval_batch_size: int = 10,
        bptt: int = 35,
        optimizer: str = "sgd",
        lr: float | None = None,
        clip: float | None = 0.25,
        max_ppl: float = 1e4,
        device: str = "auto",
        timeout_s: float | None = None,
        threads: int = 1,
        split_seed: int | None = 0,
    ) -> None:
        checks = [
            (
                isinstance(dataset, str) and bool(dataset.strip()),
                f"dataset must be a corpus name or path, got {dataset!r}",
            ),
            (level in LEVELS, f"level must be one of {', '.join(LEVELS)}, got {level!r}"),
            (
                limit is None or is_positive_int(limit),
                f"limit must be a positive integer or None, got {limit!r}",
            ),
            (
                max_vocab is None or (is_int(max_vocab) and max_vocab >= 2),
                f"max_vocab must be an integer >= 2 or None, got {max_vocab!r}",
            ),
            (
                is_positive_int(embedding_size),
                f"embedding_size must be a positive integer, got {embedding_size!r}",
            ),
            (is_positive_int(hidden_size), f"hidden_size must be a positive integer, got {hidden_size!r}"),
            (is_positive_int(num_layers), f"num_layers must be a positive integer, got {num_layers!r}"),
            (is_number(dropout) and 0 <= dropout < 1, f"dropout must be in [0, 1), got {dropout!r}"),
            (isinstance(tie_weights, bool), f"tie_weights must be true or false, got {tie_weights!r}"),
            (
                not (tie_weights is True and embedding_size != hidden_size),
                f"tie_weights=True shares the embedding with the output layer, so embedding_size "
                f"({embedding_size!r}) must equal hidden_size ({hidden_size!r}); make them equal or set "
                f"tie_weights=False",
            ),
            (is_positive_int(epochs), f"epochs must be a positive integer, got {epochs!r}"),
            (is_positive_int(batch_size), f"batch_size must be a positive integer, got {batch_size!r}"),
            (
                is_positive_int(eval_batch_size),
                f"eval_batch_size must be a positive integer, got {eval_batch_size!r}",
            ),
            (is_positive_int(bptt), f"bptt must be a positive integer, got {bptt!r}"),
            (optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}"),
            (lr is None or (is_number(lr) and lr > 0), f"lr must be a positive number or None, got {lr!r}"),
            (
                clip is None or (is_number(clip) and clip > 0),
                f"clip must be a positive gradient norm or None (no clipping), got {clip!r}",
            ),
            (is_number(max_ppl) and max_ppl > 1, f"max_ppl must be a number > 1, got {max_ppl!r}"),
            (
                split_seed is None or is_int(split_seed),
                f"split_seed must be an integer or None, got {split_seed!r}",
            ),
        ]
        check_settings(checks, timeout_s=timeout_s, threads=threads, device=device)
        self.dataset = dataset
        self.data_dir = None if data_dir is None else str(data_dir)
        self.level = level
        self.limit = limit
        self.max_vocab = max_vocab
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.tie_weights = tie_weights
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.bptt = bptt
        self.optimizer = optimizer
        self.lr = DEFAULT_LR[optimizer] if lr is None else float(lr)
        self.clip = None if clip is None else float(clip)
        self.max_ppl = float(max_ppl)
        self.device = device
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.threads = threads
        self.split_seed = split_seed
        self._splits: dict[str, TextSplit] = {}

    def corpus(self) -> Corpus:
        """The token streams and vocabulary of the configured corpus (cached per process)."""
        return load_text(
            self.dataset,
            self.data_dir,
            self.level,
            self.limit,
            max_vocab=self.max_vocab,
            split_seed=self.split_seed,
        )

    def split(self, device: torch.device | str = "cpu") -> TextSplit:
        """The batchified train / validation / test streams on ``device``, made once per instance."""
        key = str(device)
        if key not in self._splits:
            corpus = self.corpus()
            self._splits[key] = TextSplit(
                train=batchify(corpus.train, self.batch_size).to(device),
                valid=batchify(corpus.valid, self.eval_batch_size).to(device),
                test=batchify(corpus.test, self.eval_batch_size).to(device),
                vocab_size=corpus.vocab_size,
            )
        return self._splits[key]

    def data_shape(self) -> tuple[tuple[int, ...], int]:
        """``((embedding_size, hidden_size), vocab_size)``: what ``RNNCellSpace.build`` needs to rebuild the
        model this evaluator trains (for export)."""
        return (self.embedding_size, self.hidden_size), self.split().vocab_size

    def check_space(self, space: SearchSpace) -> None:
        """A space without ``build_lm`` is a ConfigError: every trial would fail."""
        if not callable(getattr(space, "build_lm", None)):
            raise ConfigError(
                f"space {space.name!r} cannot build language models (no build_lm); use a recurrent cell space"
            )

    def reached_metrics(self, curve: dict[str, list[float]]) -> dict[str, float]:
        """A pruned child's ``val_ppl`` is its best epoch's, as a fully trained one's."""
        series = curve.get("val_ppl") or []
        return {"val_ppl": min(series)} if series else {}

    def _check_perplexity(self, ppl: float, epoch: int) -> None:
        if not ppl <= self.max_ppl:  # also true for nan
            raise PerplexityExplodedError(
                f"perplexity exploded: validation perplexity {ppl:.4g} after epoch {epoch} is above max_ppl={self.max_ppl:g}"
            )

    def _train(
        self,
        space: SearchSpace,
        arch: Architecture,
        seed: int,
        device: torch.device,
        data: TextSplit,
        progress: TrialProgress,
    ) -> dict[str, float]:
        deadline = self.trial_deadline()
        torch.manual_seed(seed)
        build_lm = space.build_lm  # type: ignore[attr-defined]
        model = build_lm(
            arch,
            data.vocab_size,
            embedding_size=self.embedding_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            tie_weights=self.tie_weights,
        ).to(device)
        # Tied weights are one Parameter, which parameters() yields once.
        progress.params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        optimizer: torch.optim.Optimizer
        if self.optimizer == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=self.lr)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        _, check_every = cuda_settings(device)
        best_loss = math.inf
        best_state: dict[str, torch.Tensor] | None = None
        train_time = 0.0
        for epoch in range(1, self.epochs + 1):
            progress.epoch = epoch
            epoch_start = time.perf_counter()
            loss = train_epoch(
                model,
                optimizer,
                data.train,
                self.bptt,
                self.batch_size,
                self.clip,
                deadline=deadline,
                check_every=check_every,
            )
            train_time += time.perf_counter() - epoch_start
            val_loss = evaluate_loss(model, data.valid, self.bptt, self.eval_batch_size)
            val_ppl = perplexity(val_loss)
            progress.curve["train_loss"].append(loss)
            progress.curve["val_ppl"].append(val_ppl)
            self._check_perplexity(val_ppl, epoch)
            waited = progress.report(
                epoch, {"val_ppl": val_ppl, "train_loss": loss}, float(epoch), self.epochs
            )
            if deadline is not None:
                deadline += waited  # the time limit is the child's: waiting for the pruner does not count
            if val_loss < best_loss:
                best_loss = val_loss
                best_state = copy.deepcopy(model.state_dict())
            elif self.optimizer == "sgd":
                for group in optimizer.param_groups:
                    group["lr"] /= SGD_LR_DECAY
            if deadline is not None and time.perf_counter() > deadline and epoch < self.epochs:
                raise TrialTimeoutError("time limit reached after validation")
        assert best_state is not None  # every epoch's perplexity passed the finite check
        model.load_state_dict(best_state)
        test_ppl = perplexity(evaluate_loss(model, data.test, self.bptt, self.eval_batch_size))
        return {
            "val_ppl": perplexity(best_loss),
            "test_ppl": test_ppl,
            "params": float(progress.params),
            "train_time_s": train_time,
            "tokens_per_s": data.train.numel() * self.epochs / max(train_time, 1e-9),
            "epochs": float(self.epochs),
        }
