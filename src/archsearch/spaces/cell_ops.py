"""The operations of cell search spaces (NASNet, DARTS, NAS-Bench-201) as torch modules, by name.

This file imports nothing but torch, so an exporter can copy its text verbatim into a standalone model
file. Every op maps ``channels`` to ``channels``; stride 2 halves height and width (rounding up, like
``padding = kernel // 2``), which is how reduction cells apply ops to their inputs.

Definitions follow the DARTS code (``cnn/operations.py``, Liu et al., ICLR 2019) and the NASNet op list
(Zoph et al., CVPR 2018, section 3): convolutions are ReLU -> conv (no bias) -> batch norm; a separable
conv is that ReLU-depthwise-pointwise-BN unit applied twice (the second with stride 1); a dilated conv
is one ReLU-depthwise(dilation 2)-pointwise-BN unit; pools carry no batch norm and average pools leave
padding out of the average; ``identity`` / ``skip_connect`` at stride 2 is ``FactorizedReduce``;
``none`` is an all-zero map of the output's shape.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

NASNET_OPS: tuple[str, ...] = (
    "identity",
    "conv_1x3_3x1",
    "conv_1x7_7x1",
    "dil_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
)
"""The 13 operations of the NASNet search space (Zoph et al. 2018, section 3; SPEC 3.1)."""

DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The 8 operations of DARTS (Liu et al. 2019, section 3.1; SPEC 3.4), in the order of its code."""

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The 5 operations of NAS-Bench-201 (Dong & Yang 2020; SPEC 7.1)."""


class ReLUConvBN(nn.Sequential):
    """ReLU -> convolution (no bias) -> batch norm; ``padding`` defaults to ``dilation * (kernel // 2)``.

    A ``nn.Sequential`` (children 0, 1, 2) so that state dicts keep the keys of NB201 and DARTS models.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        padding: int | None = None,
        dilation: int = 1,
        affine: bool = True,
    ) -> None:
        pad = dilation * (kernel // 2) if padding is None else padding
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                in_channels, out_channels, kernel, stride=stride, padding=pad, dilation=dilation, bias=False
            ),
            nn.BatchNorm2d(out_channels, affine=affine),
        )


class FactorizedConvBN(nn.Sequential):
    """ReLU -> 1xk conv (stride 1 x s) -> kx1 conv (stride s x 1) -> batch norm: NASNet's 1x3-then-3x1
    and 1x7-then-7x1 convolutions (DARTS code: ``conv_7x1_1x7``)."""

    def __init__(self, channels: int, kernel: int, stride: int, affine: bool = True) -> None:
        pad = kernel // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, (1, kernel), stride=(1, stride), padding=(0, pad), bias=False),
            nn.Conv2d(channels, channels, (kernel, 1), stride=(stride, 1), padding=(pad, 0), bias=False),
            nn.BatchNorm2d(channels, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise kxk conv (dilation d) -> pointwise 1x1 conv -> batch norm (DARTS ``DilConv``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                in_channels,
                in_channels,
                kernel,
                stride=stride,
                padding=dilation * (kernel // 2),
                dilation=dilation,
                groups=in_channels,
                bias=False,
            ),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels, affine=affine),
        )


class SepConv(nn.Sequential):
    """A depthwise-separable conv applied twice, the first with the stride (NASNet and DARTS ``SepConv``)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, affine: bool = True
    ) -> None:
        super().__init__(
            DilConv(in_channels, in_channels, kernel, stride, 1, affine),
            DilConv(in_channels, out_channels, kernel, 1, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve height and width and map channels with two 1x1 stride-2 convs on offset grids (DARTS).

    ReLU, then one conv reads pixels (0, 0), (0, 2), ... and the other (1, 1), (1, 3), ...; their outputs
    are concatenated and batch normalised. The offset grid reads a zero-padded copy, so odd sizes give
    ``ceil(size / 2)`` like every other stride-2 op (on even sizes this is exactly the DARTS module).
    """

    def __init__(self, in_channels: int, out_channels: int, affine: bool = True) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {out_channels}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` op: zeros of the output's shape (a product, not an allocation, as DARTS and NB201 do)."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def _identity(channels: int, stride: int, affine: bool) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine)


def _avg_pool(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: nn.AvgPool2d(
        kernel, stride=stride, padding=kernel // 2, count_include_pad=False
    )


def _max_pool(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: nn.MaxPool2d(kernel, stride=stride, padding=kernel // 2)


def _conv(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: ReLUConvBN(channels, channels, kernel, stride, affine=affine)


def _sep_conv(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: SepConv(channels, channels, kernel, stride, affine)


def _dil_conv(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: DilConv(channels, channels, kernel, stride, 2, affine)


def _factorized_conv(kernel: int) -> Callable[[int, int, bool], nn.Module]:
    return lambda channels, stride, affine: FactorizedConvBN(channels, kernel, stride, affine)


OP_FACTORIES: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "none": lambda channels, stride, affine: Zero(stride),
    "identity": _identity,
    "skip_connect": _identity,
    "avg_pool_3x3": _avg_pool(3),
    "max_pool_3x3": _max_pool(3),
    "max_pool_5x5": _max_pool(5),
    "max_pool_7x7": _max_pool(7),
    "conv_1x1": _conv(1),
    "conv_3x3": _conv(3),
    "nor_conv_1x1": _conv(1),
    "nor_conv_3x3": _conv(3),
    "conv_1x3_3x1": _factorized_conv(3),
    "conv_1x7_7x1": _factorized_conv(7),
    "sep_conv_3x3": _sep_conv(3),
    "sep_conv_5x5": _sep_conv(5),
    "sep_conv_7x7": _sep_conv(7),
    "dil_conv_3x3": _dil_conv(3),
    "dil_conv_5x5": _dil_conv(5),
}
"""Op name -> (channels, stride, affine) -> module; ``nor_conv_*`` are NB201's names of ``conv_*``."""


def make_op(name: str, channels: int, stride: int, affine: bool = True) -> nn.Module:
    """The op ``name`` of any cell space mapping ``channels`` to ``channels`` with ``stride`` 1 or 2.

    ``affine=False`` drops the batch norms' scale and shift, as DARTS does inside its supernet.
    """
    factory = OP_FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown cell op {name!r}; known: {', '.join(sorted(OP_FACTORIES))}")
    if stride not in (1, 2):
        raise ValueError(f"cell ops take stride 1 or 2, got {stride!r}")
    return factory(channels, stride, affine)
