"""User model spaces for the model-space tests, defined at module level (so they pickle by name)."""

from __future__ import annotations

import torch
from torch import nn

from archsearch.nn import InputChoice, LayerChoice, Repeat, choice


class SmallCNN(nn.Module):
    """A layer choice (3x3 convolution or depthwise-separable), a width, an activation, a dropout, a
    variable number of blocks and an input choice between the stem's output and the blocks'."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 3) -> None:
        super().__init__()
        channels = input_shape[0]
        width = choice("width", [4, 8])
        self.stem = LayerChoice(
            {
                "conv3x3": nn.Conv2d(channels, width, 3, padding=1),
                "sep3x3": nn.Sequential(
                    nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                    nn.Conv2d(channels, width, 1),
                ),
            },
            label="conv",
        )
        self.act = nn.ReLU() if choice("act", ["relu", "gelu"]) == "relu" else nn.GELU()
        self.blocks = Repeat(
            lambda i: nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()),
            depth=[1, 2, 3],
            label="depth",
        )
        self.skip = InputChoice(2, n_chosen=1, label="skip")
        self.dropout = nn.Dropout(choice("dropout", [0.0, 0.25]))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.act(self.stem(x))
        out = self.skip([stem, self.blocks(stem)])
        return self.head(self.dropout(out.mean(dim=(2, 3))))


class HandCNN(nn.Module):
    """SmallCNN written by hand for one fixed architecture (the same submodule names)."""

    def __init__(self, conv: str, width: int, act: str, depth: int, skip: int, dropout: float) -> None:
        super().__init__()
        if conv == "conv3x3":
            self.stem: nn.Module = nn.Conv2d(1, width, 3, padding=1)
        else:
            self.stem = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, groups=1), nn.Conv2d(1, width, 1))
        self.act = nn.ReLU() if act == "relu" else nn.GELU()
        self.blocks = nn.Sequential(
            *(nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()) for _ in range(depth))
        )
        self.skip = skip
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.act(self.stem(x))
        out = [stem, self.blocks(stem)][self.skip]
        return self.head(self.dropout(out.mean(dim=(2, 3))))


class Nested(nn.Module):
    """Unlabelled and nested choices: a layer choice inside a candidate, layer choices inside repeated
    blocks, input choices of any subset and of two."""

    def __init__(self) -> None:
        super().__init__()
        self.op = LayerChoice(
            {"a": nn.Sequential(nn.Linear(4, 4), LayerChoice([nn.ReLU(), nn.Tanh()])), "b": nn.Linear(4, 4)},
            label="op",
        )
        self.blocks = Repeat(lambda i: LayerChoice([nn.Linear(4, 4), nn.Identity()]), depth=(1, 2))
        self.last = LayerChoice([nn.ReLU(), nn.Identity()])
        self.skips = InputChoice(3, n_chosen=None)
        self.pair = InputChoice(3, n_chosen=2, reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.op(x)
        b = self.blocks(a)
        c = self.last(b)
        return self.pair([a, b, c]) + self.skips([a, b, c])


class NestedRepeat(nn.Module):
    """A Repeat inside a Repeat's blocks, each inner block with an unlabelled layer choice."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = Repeat(
            lambda i: Repeat(lambda j: LayerChoice([nn.ReLU(), nn.Tanh()]), depth=range(1, 3)),
            depth=[1, 2],
            label="stages",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)


class Shared(nn.Module):
    """One width and one activation, each used in two places by label."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, choice("width", [4, 8]))
        self.act1 = LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")
        self.second = nn.Linear(choice("width", [4, 8]), 2)
        self.act2 = LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.second(self.act1(self.first(x))))


def mlp(hidden: int = 8) -> nn.Module:
    """A function returning the module: one hidden width."""
    width = choice("hidden", [hidden, 2 * hidden])
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))


class PositiveLinear(nn.Module):
    """A user's layer that refuses a width below 1 when constructed."""

    def __init__(self, width: int) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.linear = nn.Linear(4, width)


class ZeroFirst(nn.Module):
    """Its first width breaks the layer: discovery tries the next one; building with 0 raises."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = PositiveLinear(choice("width", [0, 4]))


class AlwaysBroken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = PositiveLinear(choice("width", [0, -1]))


class NoChoices(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)


class ConflictingValues(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, choice("width", [4, 8]))
        self.b = nn.Linear(4, choice("width", [4, 16]))


class ConflictingCandidates(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.b = LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], label="act")


class ClashingNames(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.skip = InputChoice(2, n_chosen=None, label="skip")
        self.width = nn.Linear(2, choice("skip[0]", [1, 2]))


class NeedsShape(nn.Module):
    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.layer = nn.Linear(input_shape[0], choice("width", [2, 4]))


class Takes(nn.Module):
    """Records the input_shape and num_classes it was given (tests of build's arguments)."""

    def __init__(self, input_shape: tuple[int, ...] = (1,), num_classes: int = 2, width: int = 4) -> None:
        super().__init__()
        self.given = (tuple(input_shape), num_classes, width)
        self.layer = nn.Linear(input_shape[0], choice("out", [1, 2]))


def child_parameters(space: object, arch: object) -> int:
    """Run in a spawned worker: the parameter count of the child ``space`` builds for ``arch``."""
    module = space.build(arch)  # type: ignore[attr-defined]
    return sum(p.numel() for p in module.parameters())


class ZeroChannels(nn.Module):
    """A width of 0 constructs (torch allows empty layers) and fails in the forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, choice("width", [4, 0]), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def run_once(child: nn.Module, seed: int) -> float:
    """An objective: one forward pass of a 1x6x6 image, the mean output."""
    with torch.no_grad():
        return float(child(torch.ones(1, 1, 6, 6)).mean())
