"""``HookedSpace``: a two-decision space (width, activation) of a small MLP with every optional hook of
``archsearch.spaces.hooks``; torch and matplotlib load only inside the hooks, as in the built-in spaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from archsearch.core import Architecture, Decision, SearchSpace

WIDTHS = (4, 8)
ACTIVATIONS = ("relu", "tanh")


class HookedSpace(SearchSpace):
    name = "hooked"
    companions: ClassVar[dict[str, Any]] = {"clock": "cost", "n_trials": 7, "executor": "inline"}

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        if len(prefix) == 0:
            return Decision(name="width", kind="width", choices=WIDTHS)
        if len(prefix) == 1:
            return Decision(name="activation", kind="activation", choices=ACTIVATIONS)
        return None

    def kinds(self) -> dict[str, Decision]:
        return {d.kind: d for d in (self.decisions(()), self.decisions((4,))) if d is not None}

    def encode(self, arch: Architecture) -> str:
        return f"{arch.values[0]}-{arch.values[1]}"

    def decode(self, text: str) -> Architecture:
        width, _, activation = text.partition("-")
        return Architecture(self.name, (int(width), activation))

    def config(self) -> dict[str, Any]:
        return {}

    # -- hooks ------------------------------------------------------------------------------------

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        width, activation = arch.values
        layer = "nn.ReLU()" if activation == "relu" else "nn.Tanh()"
        features = 1
        for size in input_shape:
            features *= size
        return (
            "import torch\nfrom torch import nn\n\n\n"
            "def build_model() -> nn.Module:\n"
            f"    return nn.Sequential(nn.Flatten(), nn.Linear({features}, {width}), {layer},"
            f" nn.Linear({width}, {num_classes}))\n"
        )

    def draw(self, arch: Architecture, path: str | Path) -> Path:
        from matplotlib.figure import Figure

        from archsearch.spaces.drawing import save_figure

        figure = Figure(figsize=(3, 1))
        figure.text(0.5, 0.5, f"hooked {self.encode(arch)}", ha="center")
        return save_figure(figure, path)

    def supernet(self, input_shape: tuple[int, ...], num_classes: int, **size: Any) -> Any:
        from spaces.hooked_space.supernet import HookedSupernet

        return HookedSupernet(input_shape, num_classes, **size)
