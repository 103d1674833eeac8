"""A user's model with choices (for ``archsearch.nn.ModelSpace``) that carries hooks of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from archsearch.nn import choice


class HookedNet(nn.Module):
    companions: ClassVar[dict[str, Any]] = {"n_trials": 3}

    def __init__(self, input_shape: tuple[int, ...] = (4,), num_classes: int = 2) -> None:
        super().__init__()
        width = choice("width", [2, 3])
        self.layers = nn.Sequential(nn.Linear(input_shape[0], width), nn.Linear(width, num_classes))

    @staticmethod
    def draw(values: dict[str, Any], path: str | Path) -> Path:
        path = Path(path)
        path.write_text(f"width {values['width']}", encoding="utf-8")
        return path


class PlainNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, choice("width", [2, 3]))
