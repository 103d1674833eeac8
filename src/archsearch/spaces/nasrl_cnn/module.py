"""The PyTorch network of one NAS-RL CNN architecture (Zoph & Le, ICLR 2017), built from plain data.

This file imports nothing but torch: ``archsearch.report.export`` copies its text verbatim into
standalone model files, so the exported network is this exact code.

A spec is a dict of plain data::

    {"in_channels": 3, "height": 32, "width": 32, "num_classes": 10,
     "layers": [{"kh": 3, "kw": 5, "sh": 1, "sw": 1, "filters": 36, "inputs": [0, 1]}, ...]}

where ``inputs`` lists the earlier layers whose outputs feed the layer (empty: the image).
Compile rules (paper, section 3.3): inputs are zero-padded to the largest height and width among
them (symmetrically, the odd pixel at the bottom/right) and concatenated along channels; the outputs
of all layers that feed no later layer are zero-padded the same way, concatenated, globally average
pooled and fed to a linear classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a convolution with padding ``kernel // 2`` along one axis."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def centre_pad(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int, int, int]:
    """``F.pad`` amounts (left, right, top, bottom) that zero-pad a map to the target size."""
    left = (target_width - width) // 2
    top = (target_height - height) // 2
    return (left, target_width - width - left, top, target_height - height - top)


class ConvBNReLU(nn.Module):
    """One NAS-RL layer body: convolution (no bias), batch norm, ReLU."""

    def __init__(self, in_channels: int, filters: int, kh: int, kw: int, sh: int, sw: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, filters, (kh, kw), stride=(sh, sw), padding=(kh // 2, kw // 2), bias=False
        )
        self.bn = nn.BatchNorm2d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class NasRLCNN(nn.Module):
    """The child network of a NAS-RL CNN architecture; every shape and pad is fixed at construction.

    Works for any batch size; the input's channels, height and width must be those of the spec.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.spec = spec
        self.input_shape = (int(spec["in_channels"]), int(spec["height"]), int(spec["width"]))
        # (channels, height, width) of every layer's output, computed once here.
        shapes: list[tuple[int, int, int]] = []
        wiring: list[tuple[tuple[int, tuple[int, int, int, int] | None], ...]] = []
        bodies = []
        for index, layer in enumerate(spec["layers"]):
            inputs = [int(j) for j in layer["inputs"]]
            if any(not 0 <= j < index for j in inputs):
                raise ValueError(f"layer {index}: inputs {inputs} must be earlier layers")
            feeds = [shapes[j] for j in inputs] or [self.input_shape]
            in_channels, height, width = self._merged_shape(feeds)
            wiring.append(tuple((j, self._pad_or_none(shapes[j], height, width)) for j in inputs))
            kh, kw, sh, sw = int(layer["kh"]), int(layer["kw"]), int(layer["sh"]), int(layer["sw"])
            filters = int(layer["filters"])
            bodies.append(ConvBNReLU(in_channels, filters, kh, kw, sh, sw))
            shapes.append((filters, conv_output_size(height, kh, sh), conv_output_size(width, kw, sw)))
        if not bodies:
            raise ValueError("a NAS-RL network needs at least one layer")
        used = {int(j) for layer in spec["layers"] for j in layer["inputs"]}
        self.sinks = tuple(i for i in range(len(shapes)) if i not in used)
        features, height, width = self._merged_shape([shapes[i] for i in self.sinks])
        self.layer_shapes = tuple(shapes)
        self.layers = nn.ModuleList(bodies)
        self._wiring = tuple(wiring)
        # Zero-padding a map and averaging over the padded area equals summing it and dividing by the
        # padded area, so the top never materialises padded tensors.
        self._inverse_area = 1.0 / (height * width)
        self.classifier = nn.Linear(features, int(spec["num_classes"]))

    @staticmethod
    def _merged_shape(shapes: list[tuple[int, int, int]]) -> tuple[int, int, int]:
        return (
            sum(shape[0] for shape in shapes),
            max(shape[1] for shape in shapes),
            max(shape[2] for shape in shapes),
        )

    @staticmethod
    def _pad_or_none(
        shape: tuple[int, int, int], height: int, width: int
    ) -> tuple[int, int, int, int] | None:
        if shape[1] == height and shape[2] == width:
            return None
        return centre_pad(shape[1], shape[2], height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"expected input of shape (N, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        outputs: list[torch.Tensor] = []
        for body, feeds in zip(self.layers, self._wiring, strict=True):
            if not feeds:
                merged = x
            elif len(feeds) == 1 and feeds[0][1] is None:
                merged = outputs[feeds[0][0]]
            else:
                merged = torch.cat(
                    [outputs[j] if pad is None else F.pad(outputs[j], pad) for j, pad in feeds], 1
                )
            outputs.append(body(merged))
        pooled = torch.cat([outputs[i].sum(dim=(2, 3)) for i in self.sinks], 1) * self._inverse_area
        return self.classifier(pooled)
