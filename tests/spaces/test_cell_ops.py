"""Cell operations: every op of NASNet, DARTS and NB201 keeps channels and halves the map at stride 2."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from archsearch.spaces.cell_ops import (
    DARTS_OPS,
    NASNET_OPS,
    NB201_OPS,
    FactorizedReduce,
    ReLUConvBN,
    SepConv,
    Zero,
    make_op,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALL_OPS = sorted(set(NASNET_OPS) | set(DARTS_OPS) | set(NB201_OPS))


def parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_op_sets_have_the_papers_sizes_and_names() -> None:
    assert len(NASNET_OPS) == 13 and len(set(NASNET_OPS)) == 13
    assert DARTS_OPS == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )


@pytest.mark.parametrize("size", [8, 7])
def test_every_op_keeps_channels_and_halves_the_map_rounding_up_at_stride_2(size: int) -> None:
    x = torch.randn(2, 6, size, size)
    for name in ALL_OPS:
        for stride in (1, 2):
            out = make_op(name, 6, stride)(x)
            expected = (2, 6, -(-size // stride), -(-size // stride))
            assert tuple(out.shape) == expected, (name, stride)
    assert torch.equal(make_op("identity", 6, 1)(x), x)


def test_none_is_zero_and_skip_at_stride_2_is_factorized_reduce() -> None:
    x = torch.randn(2, 4, 6, 6)
    assert isinstance(make_op("none", 4, 2), Zero)
    assert torch.count_nonzero(make_op("none", 4, 2)(x)) == 0
    for name in ("skip_connect", "identity"):
        assert isinstance(make_op(name, 4, 2), FactorizedReduce)
        assert isinstance(make_op(name, 4, 1), nn.Identity)


def test_factorized_reduce_equals_the_darts_module_on_even_sizes() -> None:
    torch.manual_seed(0)
    reduce = FactorizedReduce(4, 6).eval()
    x = torch.randn(2, 4, 8, 8)
    # DARTS cnn/operations.py: cat([conv_1(x), conv_2(x[:, :, 1:, 1:])]) after ReLU, then BN
    relu = F.relu(x)
    expected = reduce.bn(torch.cat([reduce.conv_1(relu), reduce.conv_2(relu[:, :, 1:, 1:])], dim=1))
    assert torch.allclose(reduce(x), expected)
    with pytest.raises(ValueError, match="even"):
        FactorizedReduce(4, 5)


def test_parameter_counts_match_the_op_definitions() -> None:
    c = 5
    bn = 2 * c  # affine batch norm: scale and shift per channel
    assert parameters(make_op("sep_conv_3x3", c, 1)) == 2 * (9 * c + c * c + bn)
    assert parameters(make_op("sep_conv_7x7", c, 2)) == 2 * (49 * c + c * c + bn)
    assert parameters(make_op("dil_conv_5x5", c, 1)) == 25 * c + c * c + bn
    assert parameters(make_op("conv_1x7_7x1", c, 1)) == 2 * 7 * c * c + bn
    assert (
        parameters(make_op("conv_3x3", c, 1)) == parameters(make_op("nor_conv_3x3", c, 1)) == 9 * c * c + bn
    )
    assert parameters(make_op("max_pool_7x7", c, 2)) == parameters(make_op("avg_pool_3x3", c, 1)) == 0
    assert parameters(make_op("sep_conv_3x3", c, 1, affine=False)) == 2 * (9 * c + c * c)
    assert isinstance(make_op("sep_conv_5x5", c, 1), SepConv)


def test_dilated_conv_sees_a_wider_field_than_the_plain_kernel() -> None:
    op = make_op("dil_conv_3x3", 1, 1).eval()
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 6] = 1.0  # two pixels right of the centre: only a dilation-2 3x3 kernel reaches it
    with torch.no_grad():
        op[1].weight.fill_(1.0)
        op[2].weight.fill_(1.0)
        centre = op(x)[0, 0, 4, 4] - op(torch.zeros_like(x))[0, 0, 4, 4]
    assert centre.item() != 0.0


def test_relu_conv_bn_keeps_the_nb201_state_dict_keys() -> None:
    assert list(ReLUConvBN(3, 4, 3, 1).state_dict()) == [
        "1.weight",
        "2.weight",
        "2.bias",
        "2.running_mean",
        "2.running_var",
        "2.num_batches_tracked",
    ]


def test_unknown_ops_and_strides_are_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="unknown cell op 'conv_9x9'"):
        make_op("conv_9x9", 4, 1)
    with pytest.raises(ValueError, match="stride 1 or 2"):
        make_op("sep_conv_3x3", 4, 3)
