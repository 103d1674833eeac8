"""RNNCellSpace: decisions, validation, encodings, equations, and the compiled cell and language model."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.core import Architecture
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.report.export import export_pytorch_source
from archsearch.spaces.rnn_cell import (
    KNOWN_ACTIVATIONS,
    KNOWN_COMBINATIONS,
    NAS_CELL,
    WORKED_EXAMPLE,
    CellNode,
    RNNCellSpace,
    TreeCellChoice,
)
from archsearch.spaces.rnn_cell.module import (
    ACTIVATION_CODE,
    BACKENDS,
    COMBINE_CODE,
    TreeCell,
    TreeCellLM,
    check_cell_spec,
)

BASE2 = RNNCellSpace(base=2)
PAPER = RNNCellSpace()
EXTENDED = RNNCellSpace(base=4, combinations=KNOWN_COMBINATIONS, activations=KNOWN_ACTIVATIONS)
WORKED_VALUES = ("add", "tanh", "elem_mult", "relu", "elem_mult", "sigmoid", "add", "relu", 1, 0)


# -- decisions ---------------------------------------------------------------------------------------


def test_base2_decisions_are_two_per_node_then_inject_then_cell_indices() -> None:
    arch = BASE2.decode(WORKED_EXAMPLE)
    assert [(d.name, d.kind) for d in BASE2.walk(arch.values)] == [
        ("node0.combine", "combine"),
        ("node0.activation", "activation"),
        ("node1.combine", "combine"),
        ("node1.activation", "activation"),
        ("node2.combine", "combine"),
        ("node2.activation", "activation"),
        ("inject.combine", "combine"),
        ("inject.activation", "activation"),
        ("cell_index.memory", "cell_index"),
        ("cell_index.inject", "cell_index"),
    ]
    assert BASE2.decisions(()).choices == ("add", "elem_mult")  # type: ignore[union-attr]
    assert BASE2.decisions(("add",)).choices == ("identity", "tanh", "sigmoid", "relu")  # type: ignore[union-attr]
    assert BASE2.decisions(arch.values) is None


@pytest.mark.parametrize("space", [BASE2, PAPER, EXTENDED], ids=["base2", "base8", "base4_extended"])
def test_kinds_determine_choices_and_cell_indices_range_over_all_nodes(space: RNNCellSpace) -> None:
    kinds = space.kinds()
    assert set(kinds) == {"combine", "activation", "cell_index"}
    assert kinds["cell_index"].choices == tuple(range(2 * space.base - 1))
    for decision in space.walk(space.sample(np.random.default_rng(0)).values):
        assert kinds[decision.kind].choices == decision.choices
    assert len(list(space.walk(space.sample(np.random.default_rng(1)).values))) == 4 * space.base + 2


def test_tree_numbers_leaves_first_and_the_root_last() -> None:
    assert [BASE2.children(2)] == [(0, 1)]
    assert [PAPER.children(i) for i in range(8, 15)] == [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (8, 9),
        (10, 11),
        (12, 13),
    ]
    assert PAPER.root == 14
    with pytest.raises(ValueError, match="not an internal node"):
        PAPER.children(7)


def test_paper_space_has_about_six_times_ten_to_the_sixteen_cells() -> None:
    assert PAPER.size() == 8**16 * 15**2
    assert 6e16 < PAPER.size() < 7e16
    assert BASE2.size() == 8**4 * 9


# -- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("space", [BASE2, PAPER, EXTENDED], ids=["base2", "base8", "base4_extended"])
def test_config_recreates_the_space_even_after_json(space: RNNCellSpace) -> None:
    again = RNNCellSpace(**json.loads(json.dumps(space.config())))
    assert again == space and hash(again) == hash(space)
    assert again.config() == space.config()
    assert RNNCellSpace().config() == {
        "base": 8,
        "combinations": ["add", "elem_mult"],
        "activations": ["identity", "tanh", "sigmoid", "relu"],
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": 3}, "power of two"),
        ({"base": 1}, "power of two"),
        ({"base": 0}, "power of two"),
        ({"base": 4.0}, "power of two"),
        ({"base": True}, "power of two"),
        ({"combinations": ()}, "combinations is empty"),
        ({"combinations": ("add", "sub")}, "unknown combinations ['sub']"),
        ({"combinations": ("add", "add")}, "repeated"),
        ({"combinations": "add"}, "the string 'add'"),
        ({"activations": ("tanh", "gelu")}, "unknown activations ['gelu']"),
    ],
)
def test_bad_config_raises_one_clear_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        RNNCellSpace(**kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_compiler_implements_every_name_the_space_knows() -> None:
    assert set(COMBINE_CODE) == set(KNOWN_COMBINATIONS)
    assert set(ACTIVATION_CODE) == set(KNOWN_ACTIVATIONS)


# -- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (WORKED_VALUES[:-1], "has 10 values"),
        (WORKED_VALUES + (0,), "got 11"),
        (("max",) + WORKED_VALUES[1:], "node0.combine: 'max' is not one of ['add', 'elem_mult']"),
        (WORKED_VALUES[:5] + ("sin",) + WORKED_VALUES[6:], "node2.activation: 'sin'"),
        (WORKED_VALUES[:6] + ("mul",) + WORKED_VALUES[7:], "inject.combine: 'mul'"),
        (WORKED_VALUES[:8] + (3, 0), "cell_index.memory: 3 is not one of [0, 1, 2]"),
        (WORKED_VALUES[:9] + (-1,), "cell_index.inject: -1"),
        (WORKED_VALUES[:9] + (True,), "cell_index.inject: True is a bool"),
        (WORKED_VALUES[:8] + (np.int64(1), 0), "int64"),
        (WORKED_VALUES[:8] + ("1", 0), "cell_index.memory: '1' is a str"),
        ((1,) + WORKED_VALUES[1:], "node0.combine: 1 is a int, not a str"),
    ],
)
def test_validate_names_what_is_wrong(values: tuple[Any, ...], message: str) -> None:
    BASE2.validate(Architecture("rnn_cell", WORKED_VALUES))
    with pytest.raises(InvalidArchitectureError) as error:
        BASE2.validate(Architecture("rnn_cell", values))
    assert message in str(error.value)


def test_validate_rejects_other_spaces_and_non_tuples() -> None:
    with pytest.raises(InvalidArchitectureError, match="not 'rnn_cell'"):
        BASE2.validate(Architecture("nb201", WORKED_VALUES))
    with pytest.raises(InvalidArchitectureError, match="tuple"):
        BASE2.validate(Architecture("rnn_cell", list(WORKED_VALUES)))  # type: ignore[arg-type]
    with pytest.raises(InvalidArchitectureError, match="has 34 values"):
        PAPER.validate(Architecture("rnn_cell", WORKED_VALUES))


# -- encodings and equations -------------------------------------------------------------------------


def test_worked_example_encodes_as_documented() -> None:
    arch = Architecture("rnn_cell", WORKED_VALUES)
    assert (
        BASE2.encode(arch)
        == WORKED_EXAMPLE
        == "0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0"
    )
    assert BASE2.decode(WORKED_EXAMPLE) == arch
    assert BASE2.cell(arch) == TreeCellChoice(
        nodes=(CellNode("add", "tanh"), CellNode("elem_mult", "relu"), CellNode("elem_mult", "sigmoid")),
        inject=CellNode("add", "relu"),
        memory_node=1,
        inject_node=0,
    )
    assert BASE2.from_cell(BASE2.cell(arch)) == arch


@pytest.mark.parametrize("space", [BASE2, PAPER, EXTENDED], ids=["base2", "base8", "base4_extended"])
def test_json_and_encoding_round_trip_on_random_samples(space: RNNCellSpace) -> None:
    rng = np.random.default_rng(5)
    for _ in range(100):
        arch = space.sample(rng)
        space.validate(arch)
        assert Architecture.from_json(arch.to_json()) == arch
        text = space.encode(arch)
        assert space.decode(text) == arch
        assert space.encode(space.decode(text)) == text


def test_decode_accepts_elem_mult_and_loose_spacing() -> None:
    text = "0:add/tanh  1:elem_mult/relu 2:mul/sigmoid|inject add/relu|  c<-1   inject->0 "
    assert BASE2.decode(text) == BASE2.decode(WORKED_EXAMPLE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "three parts"),
        ("0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu", "three parts"),
        ("0:add/tanh 1:mul/relu | inject add/relu | c<-1 inject->0", "3 nodes, got 2 node tokens"),
        ("0:add/tanh 2:mul/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0", "'2:mul/relu'"),
        ("0:add/tanh 1:mul-relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0", "'1:COMBINE/ACTIVATION'"),
        (
            "0:add/tanh 1:sub/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0",
            "unknown combination 'sub'",
        ),
        ("0:add/tanh 1:mul/relu 2:mul/gelu | inject add/relu | c<-1 inject->0", "node2.activation: 'gelu'"),
        ("0:add/tanh 1:max/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0", "node1.combine: 'max'"),
        ("0:add/tanh 1:mul/relu 2:mul/sigmoid | add/relu | c<-1 inject->0", "inject part 'add/relu'"),
        ("0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-1", "cell indices 'c<-1'"),
        ("0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-01 inject->0", "cell indices"),
        ("0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-3 inject->0", "cell_index.memory: 3"),
    ],
)
def test_decode_rejects_malformed_text_naming_the_piece(text: str, message: str) -> None:
    with pytest.raises(InvalidArchitectureError) as error:
        BASE2.decode(text)
    assert message in str(error.value)


def test_worked_example_renders_the_equations_of_spec_2_2() -> None:
    assert BASE2.equations(BASE2.decode(WORKED_EXAMPLE)) == "\n".join(
        [
            "a0  = tanh(W1·x_t + W2·h_{t-1})",
            "a0' = relu(a0 + c_{t-1})",
            "a1  = relu((W3·x_t) ⊙ (W4·h_{t-1}))",
            "a2  = sigmoid(a0' ⊙ a1)",
            "h_t = a2",
            "c_t = (W3·x_t) ⊙ (W4·h_{t-1})",
        ]
    )


def test_nas_cell_equations_inject_into_node_8_and_keep_node_12_as_memory() -> None:
    lines = PAPER.equations(PAPER.decode(NAS_CELL)).splitlines()
    assert "a8' = tanh(a8 + c_{t-1})" in lines
    assert "a12 = a8' ⊙ a9" in lines
    assert lines[-2:] == ["h_t = a14", "c_t = a8' ⊙ a9"]
    extended = RNNCellSpace(base=2, combinations=KNOWN_COMBINATIONS, activations=KNOWN_ACTIVATIONS)
    root_inject = extended.decode("0:add/identity 1:max/sin 2:add/tanh | inject mul/sigmoid | c<-2 inject->2")
    assert extended.equations(root_inject).splitlines()[1:] == [
        "a1  = sin(max(W3·x_t, W4·h_{t-1}))",
        "a2  = tanh(a0 + a1)",
        "a2' = sigmoid(a2 ⊙ c_{t-1})",
        "h_t = a2'",
        "c_t = a0 + a1",
    ]


# -- the compiled cell -------------------------------------------------------------------------------


def worked_cell(backend: str, input_size: int = 3, hidden_size: int = 4) -> tuple[TreeCell, dict[str, Any]]:
    """The SPEC 2.2 cell in float64 with its weights set to known random tensors."""
    cell = TreeCell(BASE2.module_spec(BASE2.decode(WORKED_EXAMPLE)), input_size, hidden_size, backend=backend)
    cell.double()
    generator = torch.Generator().manual_seed(0)
    w = {
        f"W{k}": torch.randn(
            hidden_size, input_size if k % 2 else hidden_size, generator=generator, dtype=torch.float64
        )
        for k in (1, 2, 3, 4)
    }
    w.update(
        {f"b{k}": torch.randn(hidden_size, generator=generator, dtype=torch.float64) for k in (1, 2, 3, 4)}
    )
    with torch.no_grad():
        # Leaf i owns W_{2i+1} (input) and W_{2i+2} (recurrent) in the 1-based numbering of SPEC 2.2.
        for leaf in (0, 1):
            cell.weight_x[leaf] = w[f"W{2 * leaf + 1}"]
            cell.bias_x[leaf] = w[f"b{2 * leaf + 1}"]
            cell.weight_h[leaf] = w[f"W{2 * leaf + 2}"]
            cell.bias_h[leaf] = w[f"b{2 * leaf + 2}"]
    return cell, w


def worked_step(w: dict[str, Any], x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[Any, Any]:
    """SPEC 2.2 written out by hand (with the biases each projection carries)."""
    a0 = torch.tanh(x @ w["W1"].T + w["b1"] + h @ w["W2"].T + w["b2"])
    memory = (x @ w["W3"].T + w["b3"]) * (h @ w["W4"].T + w["b4"])
    a1 = torch.relu(memory)
    a0_injected = torch.relu(a0 + c)
    a2 = torch.sigmoid(a0_injected * a1)
    return a2, memory


@pytest.mark.parametrize("backend", BACKENDS)
def test_worked_example_cell_computes_exactly_its_equations(backend: str) -> None:
    cell, w = worked_cell(backend)
    generator = torch.Generator().manual_seed(1)
    x, h, c = (torch.randn(5, n, generator=generator, dtype=torch.float64) for n in (3, 4, 4))
    outputs, (h_t, c_t) = cell(x.unsqueeze(0), (h, c))
    expected_h, expected_c = worked_step(w, x, h, c)
    torch.testing.assert_close(h_t, expected_h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_t, expected_c, rtol=1e-12, atol=1e-12)
    assert torch.equal(outputs[0], h_t)
    # Several steps feed h and c back in.
    sequence = torch.randn(4, 5, 3, generator=generator, dtype=torch.float64)
    outputs, (h_t, c_t) = cell(sequence, (h, c))
    for t in range(4):
        h, c = worked_step(w, sequence[t], h, c)
        torch.testing.assert_close(outputs[t], h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close((h_t, c_t), (h, c), rtol=1e-12, atol=1e-12)


def run_with_gradients(cell: TreeCell, inputs: torch.Tensor, state: tuple[Any, Any]) -> list[torch.Tensor]:
    cell.zero_grad()
    inputs = inputs.clone().requires_grad_()
    h0, c0 = (s.clone().requires_grad_() for s in state)
    outputs, (h, c) = cell(inputs, (h0, c0))
    weights = torch.linspace(-1, 1, outputs.numel(), dtype=outputs.dtype).view_as(outputs)
    ((outputs * weights).sum() + h.sum() + (c * c).sum()).backward()
    grads = [p.grad for p in cell.parameters()] + [inputs.grad, h0.grad, c0.grad]
    return [outputs.detach(), h.detach(), c.detach()] + [g for g in grads if g is not None]


@pytest.mark.parametrize(
    "encoded",
    [
        NAS_CELL,
        "0:mul/relu 1:add/identity 2:mul/sigmoid 3:add/tanh 4:add/tanh 5:mul/relu 6:add/sigmoid 7:mul/identity "
        "8:add/relu 9:mul/tanh 10:add/sigmoid 11:add/identity 12:mul/tanh 13:mul/relu 14:add/identity "
        "| inject mul/sigmoid | c<-3 inject->14",
    ],
)
def test_backends_agree_on_values_and_gradients_over_a_sequence(encoded: str) -> None:
    spec = PAPER.module_spec(PAPER.decode(encoded))
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(7, 3, 5, generator=generator, dtype=torch.float64)
    state = (
        torch.randn(3, 6, generator=generator, dtype=torch.float64),
        torch.randn(3, 6, generator=generator, dtype=torch.float64),
    )
    reference = TreeCell(spec, 5, 6, backend="eager").double()
    expected = run_with_gradients(reference, inputs, state)
    assert len(expected) == 3 + 4 + 3
    for backend in ("script", "python"):
        cell = TreeCell(spec, 5, 6, backend=backend).double()
        cell.load_state_dict(reference.state_dict())
        for _ in range(3):  # TorchScript profiles its first calls and optimises later ones
            torch.testing.assert_close(
                run_with_gradients(cell, inputs, state), expected, rtol=1e-10, atol=1e-10
            )


def test_random_cells_of_every_backend_agree_without_gradients() -> None:
    rng = np.random.default_rng(3)
    inputs = torch.randn(5, 2, 4, dtype=torch.float64)
    for _ in range(3):
        spec = EXTENDED.module_spec(EXTENDED.sample(rng))
        cells = [TreeCell(spec, 4, 3, backend=backend).double() for backend in BACKENDS]
        for cell in cells[1:]:
            cell.load_state_dict(cells[0].state_dict())
        with torch.no_grad():
            results = [cell(inputs) for cell in cells]
        for result in results[1:]:
            torch.testing.assert_close(result, results[0], rtol=1e-12, atol=1e-12)


def test_compiled_cell_survives_deepcopy_and_pickle() -> None:
    cell = TreeCell(PAPER.module_spec(PAPER.decode(NAS_CELL)), 4, 3)
    inputs = torch.randn(3, 2, 4)
    with torch.no_grad():
        expected, _ = cell(inputs)
        for twin in (copy.deepcopy(cell), pickle.loads(pickle.dumps(cell))):
            assert torch.equal(twin(inputs)[0], expected)


def test_cell_spec_and_inputs_are_checked() -> None:
    spec = BASE2.module_spec(BASE2.decode(WORKED_EXAMPLE))
    for broken, message in [
        ({**spec, "base": 3}, "power of two"),
        ({**spec, "nodes": spec["nodes"][:2]}, "needs a list of 3 nodes"),
        ({**spec, "inject": {"combine": "add", "activation": "gelu"}}, "inject: unknown activation 'gelu'"),
        ({**spec, "memory_node": 3}, "memory_node must be a node index in 0..2"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_cell_spec(broken)
    with pytest.raises(ValueError, match="unknown backend"):
        TreeCell(spec, 3, 4, backend="cuda")
    cell = TreeCell(spec, 3, 4)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(T >= 1, B, 3\)"):
        cell(torch.randn(2, 5, 4))


# -- the language model ------------------------------------------------------------------------------


def test_base8_language_model_gives_logits_and_a_state_per_layer() -> None:
    model = PAPER.build_lm(
        PAPER.decode(NAS_CELL), vocab_size=50, embedding_size=12, hidden_size=12, num_layers=3
    )
    tokens = torch.randint(0, 50, (6, 4))
    logits, (h, c) = model(tokens)
    assert logits.shape == (6, 4, 50)
    assert h.shape == c.shape == (3, 4, 12)
    assert [s.shape for s in model.init_state(4)] == [(3, 4, 12), (3, 4, 12)]
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.layers[0].weight_x.shape == (8, 12, 12)


def test_build_reads_sizes_from_input_shape_and_vocabulary_from_num_classes() -> None:
    arch = BASE2.decode(WORKED_EXAMPLE)
    default = BASE2.build(arch, (), 30)
    assert (default.embedding.weight.shape, default.hidden_size, default.num_layers) == ((30, 200), 200, 2)
    tied = BASE2.build(arch, (8,), 30)
    assert tied.decoder.weight is tied.embedding.weight and tied.layers[0].hidden_size == 8
    untied = BASE2.build(arch, (6, 8), 30)
    assert untied.embedding.weight.shape == (30, 6) and untied.decoder.weight.shape == (30, 8)
    with pytest.raises(ConfigError, match="input_shape"):
        BASE2.build(arch, (3, 8, 8), 30)


def test_tied_weights_share_storage_and_untied_sizes_may_differ() -> None:
    model = BASE2.build_lm(BASE2.decode(WORKED_EXAMPLE), 40, embedding_size=8, hidden_size=8)
    assert model.decoder.weight is model.embedding.weight
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()
    assert sum(p.numel() for p in model.parameters()) == 40 * 8 + 40 + 2 * (2 * (8 * 8 + 8) * 2)
    untied = BASE2.build_lm(
        BASE2.decode(WORKED_EXAMPLE), 40, embedding_size=6, hidden_size=8, tie_weights=False
    )
    assert untied.decoder.weight.data_ptr() != untied.embedding.weight.data_ptr()
    assert untied.layers[0].input_size == 6 and untied.layers[1].input_size == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedding_size": 6, "hidden_size": 8}, "tie_weights needs embedding_size == hidden_size"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"tie_weights": 1}, "tie_weights"),
        ({"backend": "fast"}, "backend"),
    ],
)
def test_build_lm_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    settings = {"vocab_size": 10, **kwargs}
    with pytest.raises(ConfigError, match=message):
        BASE2.build_lm(BASE2.decode(WORKED_EXAMPLE), **settings)
    with pytest.raises(ValueError, match="tie_weights"):
        TreeCellLM(BASE2.module_spec(BASE2.decode(WORKED_EXAMPLE)), 10, embedding_size=6, hidden_size=8)


def test_carrying_the_state_across_batches_equals_one_long_batch() -> None:
    model = PAPER.build_lm(PAPER.decode(NAS_CELL), 30, embedding_size=10, hidden_size=10).eval()
    tokens = torch.randint(0, 30, (8, 3))
    with torch.no_grad():
        whole, whole_state = model(tokens)
        first, state = model(tokens[:5])
        second, state = model(tokens[5:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole)
    torch.testing.assert_close(state, whole_state)


# -- export ------------------------------------------------------------------------------------------


def test_exported_file_rebuilds_the_same_language_model() -> None:
    arch = PAPER.decode(NAS_CELL)
    source = export_pytorch_source(PAPER, arch, (16,), 60)
    assert NAS_CELL in source and "a8' = tanh(a8 + c_{t-1})" in source
    assert "import archsearch" not in source and "from archsearch" not in source
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(source, "<exported rnn_cell>", "exec"), namespace)
    exported = namespace["build_model"]().eval()
    original = PAPER.build(arch, (16,), 60).eval()
    exported.load_state_dict(original.state_dict())
    assert namespace["build_model"](77).decoder.out_features == 77
    tokens = torch.randint(0, 60, (5, 2))
    with torch.no_grad():
        expected, expected_state = original(tokens)
        logits, state = exported(tokens)
    assert torch.equal(logits, expected)
    assert all(torch.equal(a, b) for a, b in zip(state, expected_state, strict=True))
    with pytest.raises(ConfigError, match="vocabulary size"):
        export_pytorch_source(PAPER, arch, (16,), 0)
