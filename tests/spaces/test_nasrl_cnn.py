"""NasRLCNNSpace: decision sequence, validation, encodings and the compiled torch network."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from archsearch.core import LINKS, Architecture, Decision
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.nasrl_cnn import ConvLayer, NasRLCNNSpace
from archsearch.spaces.nasrl_cnn.module import NasRLCNN

SPACES = {
    "paper": NasRLCNNSpace(),
    "strides": NasRLCNNSpace(predict_strides=True, num_layers=5),
    "chain": NasRLCNNSpace(skip_connections=False, num_layers=4),
    "chain_strides_filters_first": NasRLCNNSpace(
        skip_connections=False,
        predict_strides=True,
        token_order=("num_filters", "stride_h", "stride_w", "filter_h", "filter_w"),
    ),
}


def small_space(**overrides: Any) -> NasRLCNNSpace:
    """Few filters, so that built networks stay tiny and fast."""
    settings: dict[str, Any] = {"num_filters": (2, 3, 4), "num_layers": 4, **overrides}
    return NasRLCNNSpace(**settings)


def arch_of(space: NasRLCNNSpace, *layers: ConvLayer) -> Architecture:
    return space.from_layers(layers)


# -- decisions ---------------------------------------------------------------------------------------


def test_paper_space_emits_an_anchor_then_three_tokens_per_layer() -> None:
    space = NasRLCNNSpace()
    names = []
    values: list[Any] = []
    while (decision := space.decisions(tuple(values))) is not None:
        names.append(decision.name)
        values.append(() if decision.is_links else decision.choices[0])
    assert len(names) == 6 * 4
    assert names[:8] == [
        "layer0.inputs",
        "layer0.filter_h",
        "layer0.filter_w",
        "layer0.num_filters",
        "layer1.inputs",
        "layer1.filter_h",
        "layer1.filter_w",
        "layer1.num_filters",
    ]
    anchors = [space.decisions(tuple(values[: 4 * i])) for i in range(6)]
    assert [(a.kind, a.num_links) for a in anchors if a is not None] == [(LINKS, i) for i in range(6)]
    assert space.decisions(tuple(values[:1])) == Decision("layer0.filter_h", "filter_h", (1, 3, 5, 7))
    assert space.decisions(tuple(values)) is None


def test_predicted_strides_follow_token_order() -> None:
    space = NasRLCNNSpace(
        num_layers=2,
        predict_strides=True,
        token_order=("num_filters", "stride_h", "stride_w", "filter_h", "filter_w"),
    )
    names = [d.name for d in space.walk(space.sample(np.random.default_rng(0)).values)]
    assert names == [
        f"layer{i}.{kind}"
        for i in range(2)
        for kind in ("inputs", "num_filters", "stride_h", "stride_w", "filter_h", "filter_w")
    ]
    assert space.decisions(("x",) * 3).choices == (1, 2, 3)  # type: ignore[union-attr]


def test_without_skip_connections_there_are_no_anchor_points() -> None:
    space = NasRLCNNSpace(skip_connections=False, num_layers=3)
    decisions = list(space.walk(space.sample(np.random.default_rng(0)).values))
    assert len(decisions) == 9
    assert not any(d.is_links for d in decisions)
    assert LINKS not in space.kinds()


@pytest.mark.parametrize("key", sorted(SPACES))
def test_kinds_cover_every_decision_with_layer_independent_choices(key: str) -> None:
    space = SPACES[key]
    kinds = space.kinds()
    arch = space.sample(np.random.default_rng(1))
    for decision in space.walk(arch.values):
        assert kinds[decision.kind].kind == decision.kind
        assert kinds[decision.kind].choices == decision.choices
    if space.skip_connections:
        assert kinds[LINKS].num_links == space.num_layers - 1


# -- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SPACES))
def test_config_recreates_the_space_even_after_json(key: str) -> None:
    space = SPACES[key]
    again = NasRLCNNSpace(**json.loads(json.dumps(space.config())))
    assert again == space
    assert again.config() == space.config()
    assert [d.name for d in again.walk(space.sample(np.random.default_rng(2)).values)]


def test_with_depth_changes_only_the_number_of_layers() -> None:
    space = NasRLCNNSpace(predict_strides=True)
    deeper = space.with_depth(8)
    assert deeper.num_layers == 8
    assert {**deeper.config(), "num_layers": 6} == space.config()
    assert deeper.depth(deeper.sample(np.random.default_rng(0))) == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_layers": 0}, "num_layers"),
        ({"num_layers": 2.0}, "num_layers"),
        ({"filter_heights": ()}, "filter_heights is empty"),
        ({"filter_widths": (3, 0)}, "filter_widths must hold positive ints"),
        ({"num_filters": (24, -36)}, "num_filters must hold positive ints"),
        ({"num_filters": (24, 24)}, "repeated"),
        ({"strides": ()}, "strides is empty"),
        ({"predict_strides": "yes"}, "predict_strides"),
        ({"skip_connections": 1}, "skip_connections"),
        ({"token_order": ("filter_h", "filter_w", "num_filters")}, "missing: ['stride_h', 'stride_w']"),
        ({"token_order": ("filter_h", "filter_w", "stride_h", "stride_w", "depth")}, "unknown: ['depth']"),
        ({"token_order": ("filter_h",) * 2 + ("filter_w", "stride_h", "stride_w", "num_filters")}, "once"),
    ],
)
def test_bad_config_raises_one_clear_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        NasRLCNNSpace(**kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


# -- validation --------------------------------------------------------------------------------------


def test_validate_accepts_every_whole_depth_up_to_num_layers() -> None:
    space = NasRLCNNSpace(predict_strides=True)
    rng = np.random.default_rng(3)
    for depth in range(1, 7):
        arch = space.with_depth(depth).sample(rng)
        space.validate(arch)
        assert space.depth(arch) == depth


GOOD = NasRLCNNSpace(num_layers=3).decode("3x3:24 5x1:36<0 1x7:48<0,1")


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (Architecture("nb201", GOOD.values), "not 'nasrl_cnn'"),
        (Architecture("nasrl_cnn", ()), "0 layers"),
        (Architecture("nasrl_cnn", GOOD.values[:6]), "partial layer"),
        (Architecture("nasrl_cnn", GOOD.values + GOOD.values[:4]), "4 layers"),
        (Architecture("nasrl_cnn", GOOD.values[:5] + (4,) + GOOD.values[6:]), "layer1.filter_h: 4"),
        (Architecture("nasrl_cnn", GOOD.values[:3] + (25,) + GOOD.values[4:]), "layer0.num_filters"),
        (Architecture("nasrl_cnn", GOOD.values[:4] + ((1,),) + GOOD.values[5:]), "layer1.inputs"),
        (Architecture("nasrl_cnn", GOOD.values[:8] + ((1, 0),) + GOOD.values[9:]), "layer2.inputs"),
        (Architecture("nasrl_cnn", GOOD.values[:8] + ((0, 0),) + GOOD.values[9:]), "layer2.inputs"),
        (Architecture("nasrl_cnn", GOOD.values[:8] + ([0],) + GOOD.values[9:]), "layer2.inputs"),
        (Architecture("nasrl_cnn", (True,) + GOOD.values[1:]), "layer0.inputs"),
        (Architecture("nasrl_cnn", GOOD.values[:1] + (True,) + GOOD.values[2:]), "bool"),
        (Architecture("nasrl_cnn", GOOD.values[:1] + (3.0,) + GOOD.values[2:]), "float"),
        (Architecture("nasrl_cnn", GOOD.values[:1] + (np.int64(3),) + GOOD.values[2:]), "int64"),
        (Architecture("nasrl_cnn", list(GOOD.values)), "tuple"),  # type: ignore[arg-type]
    ],
)
def test_validate_names_what_is_wrong(arch: Architecture, message: str) -> None:
    space = NasRLCNNSpace(num_layers=3)
    space.validate(GOOD)
    with pytest.raises(InvalidArchitectureError) as error:
        space.validate(arch)
    assert message in str(error.value)


def test_strided_arch_is_rejected_by_a_space_that_does_not_predict_strides() -> None:
    strided = NasRLCNNSpace(predict_strides=True).sample(np.random.default_rng(0))
    # 6 layers of 6 values read as 9 layers of 4 values: more than the space allows.
    with pytest.raises(InvalidArchitectureError, match="9 layers"):
        NasRLCNNSpace().validate(strided)
    with pytest.raises(InvalidArchitectureError, match="partial layer"):
        NasRLCNNSpace().validate(
            NasRLCNNSpace(predict_strides=True).with_depth(1).sample(np.random.default_rng(0))
        )


# -- architecture values and encodings ---------------------------------------------------------------


def test_architecture_is_immutable_and_usable_as_dict_key() -> None:
    space = NasRLCNNSpace()
    arch = space.sample(np.random.default_rng(4))
    twin = Architecture.from_json(arch.to_json())
    assert twin == arch and twin is not arch
    assert {arch: 0.9}[twin] == 0.9
    assert len({arch, twin}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.values = ()  # type: ignore[misc]


@pytest.mark.parametrize("key", sorted(SPACES))
def test_json_and_encoding_round_trip_on_random_samples(key: str) -> None:
    space = SPACES[key]
    rng = np.random.default_rng(5)
    for depth in (1, 2, space.num_layers):
        shallow = space.with_depth(depth)
        for _ in range(60):
            arch = shallow.sample(rng)
            space.validate(arch)
            assert Architecture.from_json(arch.to_json()) == arch
            text = space.encode(arch)
            assert space.decode(text) == arch
            assert space.encode(space.decode(text)) == text
            assert len(text.split(" ")) == depth


def test_encode_writes_one_readable_token_per_layer() -> None:
    space = NasRLCNNSpace(num_layers=3)
    arch = Architecture("nasrl_cnn", ((), 3, 5, 36, (0,), 1, 7, 24, (0, 1), 7, 7, 64))
    assert space.encode(arch) == "3x5:36 1x7:24<0 7x7:64<0,1"
    strided = NasRLCNNSpace(num_layers=2, predict_strides=True)
    arch = Architecture("nasrl_cnn", ((), 3, 5, 2, 1, 36, (0,), 1, 1, 1, 3, 48))
    assert strided.encode(arch) == "3x5:36/s2x1 1x1:48/s1x3<0"
    chain = NasRLCNNSpace(num_layers=2, skip_connections=False)
    assert chain.encode(Architecture("nasrl_cnn", (3, 5, 36, 1, 1, 24))) == "3x5:36 1x1:24"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("3x5", "'3x5'"),
        ("3x5:36 3x5:36<", "'3x5:36<'"),
        ("3x5:36 3*5:36", "layer 1 token '3*5:36'"),
        ("03x5:36", "'03x5:36'"),
        ("3x5:36/s1x1", "has strides"),
        ("3x5:36 1x1:24<1", "layer1.inputs"),
        ("3x5:36 1x1:24 1x1:24<1,0", "layer2.inputs"),
        ("3x5:37", "layer0.num_filters: 37"),
        ("3x5:36 3x5:36 3x5:36 3x5:36", "4 layers"),
    ],
)
def test_decode_rejects_malformed_text_naming_the_piece(text: str, message: str) -> None:
    with pytest.raises(InvalidArchitectureError) as error:
        NasRLCNNSpace(num_layers=3).decode(text)
    assert message in str(error.value)


def test_decode_checks_strides_and_inputs_against_the_space() -> None:
    with pytest.raises(InvalidArchitectureError, match="lacks strides"):
        NasRLCNNSpace(predict_strides=True).decode("3x5:36")
    with pytest.raises(InvalidArchitectureError, match="no skip connections"):
        NasRLCNNSpace(skip_connections=False).decode("3x5:36 3x5:36<0")


# -- the built network -------------------------------------------------------------------------------


def convs(model: NasRLCNN) -> list[torch.nn.Conv2d]:
    result = [body.conv for body in model.layers]
    assert all(isinstance(conv, torch.nn.Conv2d) for conv in result)
    return result  # type: ignore[return-value]


def layer_inputs_and_outputs(model: NasRLCNN, image: torch.Tensor) -> tuple[list[Any], list[Any], Any]:
    """Run ``model`` and capture each layer's input, output, and the classifier's input."""
    inputs: list[Any] = [None] * len(model.layers)
    outputs: list[Any] = [None] * len(model.layers)
    top: list[Any] = []
    hooks = []
    for index, body in enumerate(model.layers):

        def capture(module: Any, args: Any, output: Any, index: int = index) -> None:
            inputs[index], outputs[index] = args[0], output

        hooks.append(body.register_forward_hook(capture))
    hooks.append(model.classifier.register_forward_hook(lambda m, args, out: top.append(args[0])))
    model(image)
    for hook in hooks:
        hook.remove()
    return inputs, outputs, top[0]


@pytest.mark.parametrize(
    ("overrides", "input_shape"),
    [
        ({}, (3, 8, 8)),
        ({"skip_connections": False}, (1, 9, 7)),
        ({"predict_strides": True}, (3, 8, 8)),
        ({"predict_strides": True, "skip_connections": False, "num_layers": 3}, (2, 11, 6)),
    ],
)
def test_built_networks_give_one_logit_row_per_image(overrides: dict[str, Any], input_shape: Any) -> None:
    space = small_space(**overrides)
    rng = np.random.default_rng(6)
    for _ in range(4):
        model = space.build(space.sample(rng), input_shape, num_classes=5)
        assert model(torch.randn(3, *input_shape)).shape == (3, 5)
        # A single image is fine in eval mode (training batch norm needs more than one value).
        assert model.eval()(torch.randn(1, *input_shape)).shape == (1, 5)


def test_stride_three_layer_shrinks_an_8x8_image_to_3x3() -> None:
    space = small_space(predict_strides=True, num_layers=2)
    arch = arch_of(space, ConvLayer(3, 3, 2, 3, 3), ConvLayer(1, 1, 3, 3, 1, inputs=(0,)))
    model = space.build(arch, (3, 8, 8), num_classes=10)
    assert model.layer_shapes == ((2, 3, 3), (3, 1, 3))
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(
    ("text", "in_channels", "sinks", "features"),
    [
        # layer 2 concatenates layers 0 and 1; only layer 2 feeds no later layer.
        ("3x3:2 1x1:3 5x5:4<0,1", [3, 3, 5], (2,), 4),
        # layers 1 and 2 both read layer 0 and both reach the classifier.
        ("3x3:2 1x1:3<0 5x3:4<0", [3, 2, 2], (1, 2), 7),
    ],
)
def test_hand_built_wiring_concatenates_inputs_and_unused_outputs(
    text: str, in_channels: list[int], sinks: tuple[int, ...], features: int
) -> None:
    space = small_space(num_layers=3)
    model = space.build(space.decode(text), (3, 6, 6), num_classes=7)
    assert [conv.in_channels for conv in convs(model)] == in_channels
    assert model.sinks == sinks
    assert model.classifier.in_features == features
    first = convs(model)[0]
    assert (first.kernel_size, first.stride, first.padding, first.bias) == ((3, 3), (1, 1), (1, 1), None)
    assert convs(model)[2].padding == ((2, 2) if text.endswith("5x5:4<0,1") else (2, 1))


def test_chain_feeds_each_layer_into_the_next_and_only_the_last_to_the_classifier() -> None:
    space = small_space(skip_connections=False, num_layers=3)
    model = space.build(space.decode("3x3:2 1x1:3 5x5:4"), (3, 6, 6), num_classes=7)
    assert [conv.in_channels for conv in convs(model)] == [3, 2, 3]
    assert model.sinks == (2,)
    assert model.classifier.in_features == 4


def test_smaller_maps_are_zero_padded_centred_with_the_extra_row_at_the_bottom_right() -> None:
    space = small_space(predict_strides=True, num_layers=3)
    # layer 0 (stride 3) gives 3x3 maps, layer 1 (stride 1) 8x8; layer 2 reads both.
    arch = space.decode("3x3:2/s3x3 3x3:3/s1x1 1x1:4/s1x1<0,1")
    model = space.build(arch, (3, 8, 8), num_classes=5).eval()
    inputs, outputs, _ = layer_inputs_and_outputs(model, torch.randn(2, 3, 8, 8))
    merged = inputs[2]
    assert merged.shape == (2, 5, 8, 8)
    padded = F.pad(outputs[0], (2, 3, 2, 3))
    assert torch.equal(merged[:, :2], padded)
    assert torch.equal(merged[:, 2:], outputs[1])
    assert torch.count_nonzero(merged[:, :2, :2]) == 0 and torch.count_nonzero(merged[:, :2, 5:]) == 0


def test_classifier_sees_the_average_of_padded_and_concatenated_top_layers() -> None:
    space = small_space(predict_strides=True, num_layers=3)
    # layers 1 (4x4 after stride 2) and 2 (8x8) feed nothing; layer 1 is padded to 8x8 before pooling.
    arch = space.decode("3x3:2/s1x1 3x3:3/s2x2<0 1x1:4/s1x1<0")
    model = space.build(arch, (3, 8, 8), num_classes=5).eval()
    image = torch.randn(2, 3, 8, 8)
    _, outputs, top = layer_inputs_and_outputs(model, image)
    expected = torch.cat([F.pad(outputs[1], (2, 2, 2, 2)), outputs[2]], 1).mean(dim=(2, 3))
    torch.testing.assert_close(top, expected)
    assert model.sinks == (1, 2)


def test_layer_without_selected_inputs_reads_the_image() -> None:
    space = small_space(num_layers=2)
    model = space.build(space.decode("3x3:2 1x1:3"), (3, 5, 5), num_classes=2).eval()
    image = torch.randn(1, 3, 5, 5)
    inputs, _, _ = layer_inputs_and_outputs(model, image)
    assert inputs[1] is image
    assert model.sinks == (0, 1)


def test_build_rejects_bad_shapes_with_clear_errors() -> None:
    space = small_space()
    arch = space.sample(np.random.default_rng(0))
    with pytest.raises(ConfigError, match="input_shape"):
        space.build(arch, (8, 8), num_classes=10)
    with pytest.raises(ConfigError, match="num_classes"):
        space.build(arch, (3, 8, 8), num_classes=0)
    with pytest.raises(InvalidArchitectureError):
        space.build(Architecture("nasrl_cnn", arch.values[:-1]), (3, 8, 8), num_classes=10)
    model = space.build(arch, (3, 8, 8), num_classes=10)
    with pytest.raises(ValueError, match="expected input of shape"):
        model(torch.randn(1, 3, 9, 9))
