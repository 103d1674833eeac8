"""Test helpers shared by the evaluator tests: a one-decision space and modules that break training.

Kept out of conftest.py so that conftest stays free of torch.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import torch
from torch import nn

from archsearch.core import Architecture, Decision, SearchSpace


class OneChoiceSpace(SearchSpace):
    """Test-only space: one decision ``width``; subclasses build the model (image or language) and
    ``extra`` gives modules they append to it."""

    name = "one-choice"
    width: ClassVar[Decision] = Decision("width", "width", (4, 8))

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        return self.width if not prefix else None

    def kinds(self) -> dict[str, Decision]:
        return {"width": self.width}

    def encode(self, arch: Architecture) -> str:
        return f"width={arch.values[0]}"

    def decode(self, text: str) -> Architecture:
        return Architecture(self.name, (int(text.split("=")[1]),))

    def config(self) -> dict[str, Any]:
        return {}

    def extra(self) -> list[nn.Module]:
        return []


class NanAfter(nn.Module):
    """Multiplies by nan once it has run ``calls`` training forward passes."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls -= 1
        return x * float("nan") if self.calls < 0 else x


class Sleep(nn.Module):
    """Sleeps 50 ms per forward pass (for timeouts)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05)
        return x
