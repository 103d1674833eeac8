"""The model space of the Fashion-MNIST examples: a small CNN with three choices in it.

``FashionCNN`` is an ordinary ``nn.Module``. Built inside a search, ``LayerChoice`` and ``archsearch.choice``
are the decisions a strategy makes; built inside ``archsearch.fixed_arch(values)`` (or by
``ModelSpace.build``) they are the chosen module and values, and the result is a plain network.

Decisions: ``conv1`` (a 3x3 or a 5x5 convolution), ``conv2`` (a 3x3 convolution or a depthwise-separable
one), ``hidden`` (the width of the hidden fully connected layer: 32, 64 or 128) and ``dropout`` (0, 0.25,
0.5): 36 architectures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

import archsearch

DROPOUTS = (0.0, 0.25, 0.5)
HIDDEN_WIDTHS = (32, 64, 128)


class DepthwiseSeparable(nn.Sequential):
    """A 3x3 depthwise convolution (one filter per input channel) then a 1x1 pointwise one (Chollet 2017)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels),
            nn.Conv2d(in_channels, out_channels, 1),
        )


class FashionCNN(nn.Module):
    """28x28 grey images -> ``num_classes`` logits.

    Args:
        num_classes: outputs of the last layer (10 for Fashion-MNIST; archsearch passes the number of classes
            in the data when this argument is not fixed).
        channels: filters of the first convolution (the second has twice as many).
        hidden_widths: the values of the ``hidden`` choice.
        dropouts: the values of the ``dropout`` choice (one value each fixes them: one-shot search, which
            cannot share weights between different widths, searches the layer choices alone that way).
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: int = 16,
        hidden_widths: Sequence[int] = HIDDEN_WIDTHS,
        dropouts: Sequence[float] = DROPOUTS,
    ) -> None:
        super().__init__()
        self.conv1 = archsearch.LayerChoice(
            {
                "conv3x3": nn.Conv2d(1, channels, 3, padding=1),
                "conv5x5": nn.Conv2d(1, channels, 5, padding=2),
            },
            label="conv1",
        )
        self.pool1 = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = archsearch.LayerChoice(
            {
                "conv3x3": nn.Conv2d(channels, 2 * channels, 3, padding=1),
                "sepconv3x3": DepthwiseSeparable(channels, 2 * channels),
            },
            label="conv2",
        )
        hidden = archsearch.choice("hidden", list(hidden_widths))
        dropout = archsearch.choice("dropout", list(dropouts))
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv2(self.pool1(self.conv1(x))))
