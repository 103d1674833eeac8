"""The autoregressive LSTM policy of Zoph & Le 2017, shared by REINFORCE, PPO and ENAS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from archsearch.core import Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError


@dataclass
class Trace:
    """One walk of the controller over a space: the values and the (differentiable) log-probability."""

    values: tuple[Any, ...]
    log_prob: torch.Tensor
    entropy: torch.Tensor


class LSTMController(nn.Module):
    """Autoregressive controller: a stacked LSTM emitting one decision per step.

    Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017, sections 3.1-3.3:
    a 2-layer LSTM with 35 units, one softmax head and one input embedding per decision kind (the
    sampled token's embedding is the next step's input), weights initialised U(-0.08, 0.08). At an
    anchor point (a ``links`` decision) of layer i, each earlier layer j feeds layer i with probability
    ``P(j -> i) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i))``, with h the controller's hidden state
    at the anchor points, each j an independent Bernoulli draw.

    Optional logit shaping of ENAS (Pham et al. 2018, code; SPEC.md 3.3): every logit (softmax heads and
    anchor attention alike) becomes ``logits / temperature`` and then ``tanh_constant * tanh(logits)``,
    in sampling (``walk``) and scoring (``score``) alike. The tanh bounds the logits to
    ``[-tanh_constant, tanh_constant]``, which keeps the policy from collapsing early. ``None`` (the
    default for both) leaves that step out, so NAS-RL's controller is untouched.
    """

    def __init__(
        self,
        kinds: dict[str, Decision],
        hidden_size: int = 35,
        num_layers: int = 2,
        init_range: float = 0.08,
        generator: torch.Generator | None = None,
        *,
        temperature: float | None = None,
        tanh_constant: float | None = None,
    ) -> None:
        super().__init__()
        if hidden_size < 1 or num_layers < 1:
            raise ConfigError("controller hidden_size and num_layers must be at least 1")
        for name, value in (("temperature", temperature), ("tanh_constant", tanh_constant)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
            ):
                raise ConfigError(f"controller {name} must be a positive number or None, got {value!r}")
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.choice_counts = {k: len(d.choices) for k, d in kinds.items() if not d.is_links}
        self.has_links = any(d.is_links for d in kinds.values())
        self.cells = nn.ModuleList(nn.LSTMCell(hidden_size, hidden_size) for _ in range(num_layers))
        self.start = nn.Parameter(torch.zeros(1, hidden_size))
        self.embeddings = nn.ModuleDict(
            {k: nn.Embedding(n, hidden_size) for k, n in self.choice_counts.items()}
        )
        self.heads = nn.ModuleDict({k: nn.Linear(hidden_size, n) for k, n in self.choice_counts.items()})
        if self.has_links:
            self.links_input = nn.Parameter(torch.zeros(1, hidden_size))
            self.w_prev = nn.Linear(hidden_size, hidden_size, bias=False)
            self.w_curr = nn.Linear(hidden_size, hidden_size, bias=False)
            self.v = nn.Linear(hidden_size, 1, bias=False)
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range, generator=generator)

    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        """ENAS's ``tanh_constant * tanh(logits / temperature)``; each step only when its value is set."""
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def _step(
        self, x: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        new_state = []
        for cell, (h, c) in zip(self.cells, state, strict=True):
            h, c = cell(x, (h, c))
            new_state.append((h, c))
            x = h
        return x, new_state

    def walk(
        self,
        space: SearchSpace,
        values: tuple[Any, ...] | None = None,
        generator: torch.Generator | None = None,
    ) -> Trace:
        """Sample an architecture (``values`` None) or score given ``values`` (teacher forcing).

        When scoring, the walk stops after the last given value, so an architecture shorter than the
        space (a depth curriculum) is scored over its own decisions only.
        """
        zeros = torch.zeros(1, self.hidden_size)
        state = [(zeros, zeros) for _ in range(self.num_layers)]
        x = self.start
        anchors: list[torch.Tensor] = []  # W_prev h_j of every anchor point so far
        chosen: list[Any] = []
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        while values is None or len(chosen) < len(values):
            decision = space.decisions(tuple(chosen))
            if decision is None:
                if values is not None:
                    raise InvalidArchitectureError(f"{space.name}: more values than decisions")
                break
            h, state = self._step(x, state)
            given = None if values is None else values[len(chosen)]
            if decision.is_links:
                value, lp, ent = self._links(decision, h, anchors, given, generator)
                anchors.append(self.w_prev(h))
                x = self.links_input
            else:
                value, index, lp, ent = self._categorical(decision, h, given, generator)
                x = self.embeddings[decision.kind](index)
            chosen.append(value)
            log_prob = log_prob + lp
            entropy = entropy + ent
        return Trace(tuple(chosen), log_prob, entropy)

    def score(
        self, space: SearchSpace, batch: Sequence[tuple[Any, ...]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies (each of shape (N,)) of N given architectures, differentiable.

        Teacher forcing as in ``walk``, but architectures that take the same decisions (the same depth,
        in a fixed-shape space always) run as one LSTM batch, which makes a REINFORCE or PPO update cost
        about as much as scoring a single architecture.
        """
        groups: dict[tuple[Decision, ...], list[int]] = {}
        for i, values in enumerate(batch):
            groups.setdefault(self._decisions_of(space, values), []).append(i)
        log_probs: list[torch.Tensor] = [torch.zeros(())] * len(batch)
        entropies: list[torch.Tensor] = [torch.zeros(())] * len(batch)
        for decisions, members in groups.items():
            lp, ent = self._score_group(decisions, [batch[i] for i in members])
            for k, i in enumerate(members):
                log_probs[i], entropies[i] = lp[k], ent[k]
        return torch.stack(log_probs), torch.stack(entropies)

    @staticmethod
    def _decisions_of(space: SearchSpace, values: tuple[Any, ...]) -> tuple[Decision, ...]:
        decisions = []
        for k in range(len(values)):
            decision = space.decisions(tuple(values[:k]))
            if decision is None:
                raise InvalidArchitectureError(f"{space.name}: more values than decisions")
            decisions.append(decision)
        return tuple(decisions)

    def _score_group(
        self, decisions: tuple[Decision, ...], batch: list[tuple[Any, ...]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size = len(batch)
        zeros = torch.zeros(size, self.hidden_size)
        state = [(zeros, zeros) for _ in range(self.num_layers)]
        x = self.start.expand(size, -1)
        anchors: list[torch.Tensor] = []
        log_prob = torch.zeros(size)
        entropy = torch.zeros(size)
        for k, decision in enumerate(decisions):
            h, state = self._step(x, state)
            column = [values[k] for values in batch]
            if decision.is_links:
                n = decision.num_links
                if n > len(anchors):
                    raise InvalidArchitectureError(
                        f"{decision.name}: {n} links but only {len(anchors)} anchors so far"
                    )
                if n:
                    logits = self.v(torch.tanh(torch.stack(anchors[:n], dim=1) + self.w_curr(h).unsqueeze(1)))
                    logits = self._shape(logits.squeeze(-1))
                    draws = torch.zeros(size, n, dtype=torch.bool)
                    for row, value in enumerate(column):
                        decision.check(value)
                        draws[row, list(value)] = True
                    log_on, log_off = F.logsigmoid(logits), F.logsigmoid(-logits)
                    log_prob = log_prob + torch.where(draws, log_on, log_off).sum(dim=1)
                    p = torch.sigmoid(logits)
                    entropy = entropy - (p * log_on + (1 - p) * log_off).sum(dim=1)
                anchors.append(self.w_prev(h))
                x = self.links_input.expand(size, -1)
            else:
                for value in column:
                    decision.check(value)
                index = torch.tensor([decision.choices.index(value) for value in column])
                log_probs = F.log_softmax(self._shape(self.heads[decision.kind](h)), dim=-1)
                log_prob = log_prob + log_probs.gather(1, index.unsqueeze(1)).squeeze(1)
                entropy = entropy - (log_probs.exp() * log_probs).sum(dim=1)
                x = self.embeddings[decision.kind](index)
        return log_prob, entropy

    def _categorical(
        self, decision: Decision, h: torch.Tensor, given: Any, generator: torch.Generator | None
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
        if decision.kind not in self.heads:
            raise InvalidArchitectureError(f"controller has no head for decision kind {decision.kind!r}")
        logits = self._shape(self.heads[decision.kind](h)[0])
        log_probs = F.log_softmax(logits, dim=-1)
        if given is None:
            index = int(torch.multinomial(log_probs.exp(), 1, generator=generator))
        else:
            try:
                index = decision.choices.index(given)
            except ValueError:
                raise InvalidArchitectureError(
                    f"{decision.name}: {given!r} is not one of {list(decision.choices)}"
                ) from None
        entropy = -(log_probs.exp() * log_probs).sum()
        return decision.choices[index], torch.tensor([index]), log_probs[index], entropy

    def _links(
        self,
        decision: Decision,
        h: torch.Tensor,
        anchors: list[torch.Tensor],
        given: Any,
        generator: torch.Generator | None,
    ) -> tuple[tuple[int, ...], torch.Tensor, torch.Tensor]:
        n = decision.num_links
        if n > len(anchors):
            raise InvalidArchitectureError(
                f"{decision.name}: {n} links but only {len(anchors)} anchors so far"
            )
        if n == 0:
            return (), torch.zeros(()), torch.zeros(())
        logits = self._shape(self.v(torch.tanh(torch.cat(anchors[:n]) + self.w_curr(h))).squeeze(-1))
        if given is None:
            draws = torch.rand(n, generator=generator) < torch.sigmoid(logits)
            value = tuple(int(j) for j in torch.nonzero(draws).flatten())
        else:
            decision.check(given)
            draws = torch.zeros(n, dtype=torch.bool)
            draws[list(given)] = True
            value = tuple(given)
        log_on, log_off = F.logsigmoid(logits), F.logsigmoid(-logits)
        log_prob = torch.where(draws, log_on, log_off).sum()
        p = torch.sigmoid(logits)
        entropy = -(p * log_on + (1 - p) * log_off).sum()
        return value, log_prob, entropy
