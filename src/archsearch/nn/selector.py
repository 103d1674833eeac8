"""The one archsearch module left in a built child: the fixed selection of an ``InputChoice``."""

from __future__ import annotations

import torch
from torch import nn

REDUCTIONS = ("sum", "mean", "concat")


class InputSelector(nn.Module):
    """Feeds the chosen ones of ``n_candidates`` input tensors, reduced, to what follows.

    ``forward(inputs)`` takes the list of candidate tensors and returns the chosen one for a single
    choice, else their sum, mean or concatenation along dimension 1 (``reduction``). With nothing chosen
    (an ``InputChoice`` with ``n_chosen=None`` may choose no input) it returns zeros shaped like the first
    candidate. It has no parameters, so state dicts are those of the hand-written module.
    """

    def __init__(self, chosen: tuple[int, ...], reduction: str, n_candidates: int) -> None:
        super().__init__()
        self.chosen = tuple(chosen)
        self.reduction = reduction
        self.n_candidates = n_candidates

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != self.n_candidates:
            raise ValueError(f"InputChoice expected a list of {self.n_candidates} tensors, got {len(inputs)}")
        if not self.chosen:
            return torch.zeros_like(inputs[0])
        picked = [inputs[i] for i in self.chosen]
        if len(picked) == 1:
            return picked[0]
        if self.reduction == "concat":
            return torch.cat(picked, dim=1)
        total = picked[0]
        for tensor in picked[1:]:
            total = total + tensor
        return total / len(picked) if self.reduction == "mean" else total

    def extra_repr(self) -> str:
        return f"chosen={list(self.chosen)}, reduction={self.reduction!r}"
