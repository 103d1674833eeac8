"""The NAS-RL recurrent cell search space of Zoph & Le (ICLR 2017): a binary tree of combine/activate nodes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.base import name_list
from archsearch.spaces.rnn_cell.cell import CellNode, TreeCellChoice, tree_children

if TYPE_CHECKING:
    from archsearch.spaces.rnn_cell.module import TreeCellLM

COMBINE = "combine"
ACTIVATION = "activation"
CELL_INDEX = "cell_index"
"""Decision kinds: a node's (or the inject step's) combination and activation, and the two cell indices."""

KNOWN_COMBINATIONS = ("add", "elem_mult", "max")
KNOWN_ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "sin")
"""Everything the compiler implements; ``max`` and ``sin`` are the paper's control-run additions."""

# The paper's values (Zoph & Le 2017, section 4.2; SPEC 2.1).
PAPER_BASE = 8
PAPER_COMBINATIONS = ("add", "elem_mult")
PAPER_ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")

# Language-model sizes of ``build``: the "small" Penn Treebank model of Zaremba et al. (2014).
DEFAULT_EMBEDDING_SIZE = 200
DEFAULT_HIDDEN_SIZE = 200
DEFAULT_NUM_LAYERS = 2
DEFAULT_DROPOUT = 0.2

WORKED_EXAMPLE = "0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0"
"""The base-2 cell of the paper's figure (SPEC 2.2), encoded."""
NAS_CELL = (
    "0:add/sigmoid 1:add/relu 2:add/sigmoid 3:mul/relu 4:add/tanh 5:add/sigmoid 6:add/tanh 7:add/sigmoid "
    "8:mul/tanh 9:add/tanh 10:mul/tanh 11:add/sigmoid 12:mul/identity 13:add/tanh 14:mul/tanh "
    "| inject add/tanh | c<-12 inject->8"
)
"""The base-8 cell the paper found, encoded; it ships as ``tf.contrib.rnn.NASCell`` (code)."""

_COMBINATION_TOKENS = {"add": "add", "elem_mult": "mul", "max": "max"}
"""Combination name -> its token in encodings (``elem_mult`` is written ``mul``)."""
_TOKEN_COMBINATIONS = {token: name for name, token in _COMBINATION_TOKENS.items()}
_COMBINATION_SYMBOLS = {"add": "{0} + {1}", "elem_mult": "{0} ⊙ {1}", "max": "max({0}, {1})"}

_WORD = r"[A-Za-z_]+"
_NUMBER = r"(?:0|[1-9][0-9]*)"
_NODE_TOKEN = re.compile(rf"(?P<index>{_NUMBER}):(?P<combine>{_WORD})/(?P<activation>{_WORD})")
_INJECT_PART = re.compile(rf"inject\s+(?P<combine>{_WORD})/(?P<activation>{_WORD})")
_INDEX_PART = re.compile(rf"c<-(?P<memory>{_NUMBER})\s+inject->(?P<inject>{_NUMBER})")


def _base(value: Any) -> int:
    if type(value) is not int or value < 2 or value & (value - 1):
        raise ConfigError(f"rnn_cell: base must be a power of two >= 2 (number of leaves), got {value!r}")
    return value


def _name_set(name: str, values: Sequence[str], known: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ConfigError(f"rnn_cell: {name} must be a list of names, got the string {values!r}")
    return name_list("rnn_cell", name, values, known)


def _positive_int(name: str, value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ConfigError(f"rnn_cell: {name} must be an int >= 1, got {value!r}")
    return value


class RNNCellSpace(SearchSpace):
    """Recurrent cell search space of Zoph & Le, "Neural Architecture Search with Reinforcement
    Learning", ICLR 2017, section 3.2 (SPEC 2.1).

    The cell is a full binary tree with ``base`` leaves (2 * base - 1 nodes, numbered leaves first, then
    level by level, the root last; internal node i combines nodes 2(i - base) and 2(i - base) + 1).
    Leaf i combines ``W_{2i}·x_t`` and ``W_{2i+1}·h_{t-1}``; every node applies its combination, then
    its activation; the root's output is h_t. Decisions, in order: ``node{i}.combine`` and
    ``node{i}.activation`` for every node; ``inject.combine`` and ``inject.activation`` (how c_{t-1} is
    merged into a node's output); ``cell_index.memory`` (the node whose value before its activation
    becomes c_t) and ``cell_index.inject`` (the node whose output receives c_{t-1}). Both cell indices
    are of kind ``cell_index`` with choices ``0 .. 2*base - 2``. Values are names and node indices.
    """

    name = "rnn_cell"
    companions: ClassVar[dict[str, Any]] = {
        # recurrent cells train language models; Zoph & Le's reward c / ppl^2
        "evaluator": {"name": "language_model", "params": {}},
        "reward": {"name": "ppl_inverse_square", "params": {}},
    }
    """The config sections a study of this space starts from (``archsearch.spaces.hooks``)."""

    def __init__(
        self,
        base: int = PAPER_BASE,
        combinations: Sequence[str] = PAPER_COMBINATIONS,
        activations: Sequence[str] = PAPER_ACTIVATIONS,
    ) -> None:
        self.base = _base(base)
        self.combinations = _name_set("combinations", combinations, KNOWN_COMBINATIONS)
        self.activations = _name_set("activations", activations, KNOWN_ACTIVATIONS)
        self.num_nodes = 2 * self.base - 1
        self.root = self.num_nodes - 1
        node_indices = tuple(range(self.num_nodes))
        decisions: list[Decision] = []
        for where in [f"node{i}" for i in node_indices] + ["inject"]:
            decisions.append(Decision(f"{where}.combine", COMBINE, self.combinations))
            decisions.append(Decision(f"{where}.activation", ACTIVATION, self.activations))
        decisions.append(Decision("cell_index.memory", CELL_INDEX, node_indices))
        decisions.append(Decision("cell_index.inject", CELL_INDEX, node_indices))
        self._decisions = tuple(decisions)

    # -- the SearchSpace interface -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Keyword arguments that recreate this space, as JSON-native values (lists, not tuples)."""
        return {
            "base": self.base,
            "combinations": list(self.combinations),
            "activations": list(self.activations),
        }

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        """The decision at position ``len(prefix)``; the sequence never depends on earlier values."""
        position = len(prefix)
        return self._decisions[position] if position < len(self._decisions) else None

    def kinds(self) -> dict[str, Decision]:
        return {decision.kind: decision for decision in self._decisions}

    def validate(self, arch: Architecture) -> None:
        """Raise InvalidArchitectureError naming the first decision whose value is wrong."""
        if not isinstance(arch, Architecture):
            raise InvalidArchitectureError(f"rnn_cell: expected an Architecture, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        if not isinstance(arch.values, tuple):
            raise InvalidArchitectureError(
                f"rnn_cell: values must be a tuple, got {type(arch.values).__name__}"
            )
        if len(arch.values) != len(self._decisions):
            raise InvalidArchitectureError(
                f"rnn_cell: a cell of base {self.base} has {len(self._decisions)} values "
                f"(2 per node for {self.num_nodes} nodes, 2 for the inject step, 2 cell indices), "
                f"got {len(arch.values)}"
            )
        for decision, value in zip(self._decisions, arch.values, strict=True):
            # check() alone lets through values equal to the choices (True == 1) that break JSON or repr.
            expected = int if decision.kind == CELL_INDEX else str
            if type(value) is not expected:
                raise InvalidArchitectureError(
                    f"{decision.name}: {value!r} is a {type(value).__name__}, not a {expected.__name__}"
                )
            decision.check(value)

    def encode(self, arch: Architecture) -> str:
        """``NODE:COMBINE/ACTIVATION`` per node, ``| inject COMBINE/ACTIVATION``, ``| c<-M inject->J``.

        ``elem_mult`` is written ``mul``. The paper's base-2 figure (SPEC 2.2) reads
        ``0:add/tanh 1:mul/relu 2:mul/sigmoid | inject add/relu | c<-1 inject->0``.
        """
        cell = self.cell(arch)
        nodes = " ".join(f"{i}:{self._token(node)}" for i, node in enumerate(cell.nodes))
        return (
            f"{nodes} | inject {self._token(cell.inject)} | c<-{cell.memory_node} inject->{cell.inject_node}"
        )

    def decode(self, text: str) -> Architecture:
        """The inverse of ``encode`` (``elem_mult`` is accepted for ``mul``); raises
        InvalidArchitectureError naming the malformed piece."""
        parts = [part.strip() for part in text.split("|")]
        expected = "'NODE:COMBINE/ACTIVATION ... | inject COMBINE/ACTIVATION | c<-M inject->J'"
        if len(parts) != 3:
            raise InvalidArchitectureError(
                f"rnn_cell: cannot decode {text!r}: expected three parts separated by '|', {expected}"
            )
        node_part, inject_part, index_part = parts
        tokens = node_part.split()
        if len(tokens) != self.num_nodes:
            raise InvalidArchitectureError(
                f"rnn_cell: cannot decode {text!r}: a cell of base {self.base} has {self.num_nodes} nodes, "
                f"got {len(tokens)} node tokens"
            )
        nodes = []
        for position, token in enumerate(tokens):
            match = _NODE_TOKEN.fullmatch(token)
            if match is None or int(match["index"]) != position:
                raise InvalidArchitectureError(
                    f"rnn_cell: cannot decode node token {token!r}: expected '{position}:COMBINE/ACTIVATION'"
                )
            nodes.append(self._decode_node(token, match))
        inject_match = _INJECT_PART.fullmatch(inject_part)
        if inject_match is None:
            raise InvalidArchitectureError(
                f"rnn_cell: cannot decode inject part {inject_part!r}: expected 'inject COMBINE/ACTIVATION'"
            )
        index_match = _INDEX_PART.fullmatch(index_part)
        if index_match is None:
            raise InvalidArchitectureError(
                f"rnn_cell: cannot decode cell indices {index_part!r}: expected 'c<-M inject->J'"
            )
        cell = TreeCellChoice(
            nodes=tuple(nodes),
            inject=self._decode_node(inject_part, inject_match),
            memory_node=int(index_match["memory"]),
            inject_node=int(index_match["inject"]),
        )
        try:
            return self.from_cell(cell)
        except InvalidArchitectureError as exc:
            raise InvalidArchitectureError(f"rnn_cell: cannot decode {text!r}: {exc}") from exc

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> TreeCellLM:
        """The language model of ``arch`` over a vocabulary of ``num_classes`` words (``build_lm``).

        ``input_shape`` gives the sizes: ``()`` for the defaults (200, 200), ``(size,)`` for embedding
        and hidden size both ``size`` (tied weights), ``(embedding_size, hidden_size)`` (weights tied
        when equal).
        """
        return self.build_lm(arch, num_classes, **self.lm_sizes(input_shape))

    # -- NAS-RL recurrent specific -------------------------------------------------------------

    def build_lm(
        self,
        arch: Architecture,
        vocab_size: int,
        embedding_size: int = DEFAULT_EMBEDDING_SIZE,
        hidden_size: int = DEFAULT_HIDDEN_SIZE,
        num_layers: int = DEFAULT_NUM_LAYERS,
        dropout: float = DEFAULT_DROPOUT,
        tie_weights: bool = True,
        backend: str = "script",
    ) -> TreeCellLM:
        """The word-level language model (embedding, ``num_layers`` cells of ``arch``, decoder) of SPEC 2.3.

        ``backend`` picks how the cells run their time loop (``rnn_cell_module.BACKENDS``).
        """
        from archsearch.spaces.rnn_cell.module import BACKENDS, TreeCellLM  # torch loads only to train

        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_size", embedding_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            _positive_int(name, value)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"rnn_cell: dropout must be a number in [0, 1), got {dropout!r}")
        if not isinstance(tie_weights, bool):
            raise ConfigError(f"rnn_cell: tie_weights must be true or false, got {tie_weights!r}")
        if tie_weights and embedding_size != hidden_size:
            raise ConfigError(
                f"rnn_cell: tie_weights needs embedding_size == hidden_size, got {embedding_size} and "
                f"{hidden_size}; make them equal or set tie_weights false"
            )
        if backend not in BACKENDS:
            raise ConfigError(f"rnn_cell: unknown backend {backend!r}; choose from {list(BACKENDS)}")
        return TreeCellLM(
            self.module_spec(arch),
            vocab_size,
            embedding_size=embedding_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=float(dropout),
            tie_weights=tie_weights,
            backend=backend,
        )

    # -- hooks (archsearch.spaces.hooks) -------------------------------------------------------

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        """The tree cell's language model; ``num_classes`` is the vocabulary size and ``input_shape`` gives
        the embedding and hidden sizes as ``build`` reads it."""
        from archsearch.spaces.rnn_cell.export import language_model_source

        if type(num_classes) is not int or num_classes < 1:
            raise ConfigError(f"rnn_cell: the vocabulary size must be a positive int, got {num_classes!r}")
        sizes = {**self.lm_sizes(input_shape), "num_layers": DEFAULT_NUM_LAYERS, "dropout": DEFAULT_DROPOUT}
        encoded, cell = self.encode(arch), self.module_spec(arch)
        return language_model_source(self.name, encoded, self.equations(arch), cell, sizes, num_classes)

    def draw(self, arch: Architecture, path: str | Path) -> Path:
        """The tree of the cell, leaves at the bottom, h_t on top."""
        from archsearch.spaces.rnn_cell.drawing import draw_rnn_cell

        return draw_rnn_cell(self.encode(arch), self.cell(arch), path)

    def lm_sizes(self, input_shape: tuple[int, ...]) -> dict[str, Any]:
        """``build``'s reading of ``input_shape``: embedding_size, hidden_size and tie_weights."""
        sizes = tuple(input_shape)
        if not sizes:
            sizes = (DEFAULT_EMBEDDING_SIZE, DEFAULT_HIDDEN_SIZE)
        elif len(sizes) == 1:
            sizes = (sizes[0], sizes[0])
        if len(sizes) != 2 or any(type(n) is not int or n < 1 for n in sizes):
            raise ConfigError(
                "rnn_cell: input_shape must be (), (size,) or (embedding_size, hidden_size) of positive "
                f"ints, got {input_shape!r}"
            )
        return {"embedding_size": sizes[0], "hidden_size": sizes[1], "tie_weights": sizes[0] == sizes[1]}

    def children(self, node: int) -> tuple[int, int]:
        """The two nodes an internal node combines."""
        return tree_children(self.base, node)

    def cell(self, arch: Architecture) -> TreeCellChoice:
        """The cell of ``arch`` as named fields (validates it first)."""
        self.validate(arch)
        values = arch.values
        pairs = [CellNode(values[k], values[k + 1]) for k in range(0, 2 * (self.num_nodes + 1), 2)]
        return TreeCellChoice(
            nodes=tuple(pairs[:-1]), inject=pairs[-1], memory_node=values[-2], inject_node=values[-1]
        )

    def from_cell(self, cell: TreeCellChoice) -> Architecture:
        """The architecture of ``cell`` (the inverse of ``cell``); validates the result."""
        values: list[Any] = []
        for node in (*cell.nodes, cell.inject):
            values += [node.combine, node.activation]
        arch = Architecture(self.name, (*values, cell.memory_node, cell.inject_node))
        self.validate(arch)
        return arch

    def module_spec(self, arch: Architecture) -> dict[str, Any]:
        """The plain-data cell spec ``TreeCell`` is built from (also embedded verbatim by the exporter)."""
        cell = self.cell(arch)
        return {
            "base": self.base,
            "nodes": [{"combine": n.combine, "activation": n.activation} for n in cell.nodes],
            "inject": {"combine": cell.inject.combine, "activation": cell.inject.activation},
            "inject_node": cell.inject_node,
            "memory_node": cell.memory_node,
        }

    def equations(self, arch: Architecture) -> str:
        """The cell as one equation per line, in the notation of SPEC 2.2 (biases omitted).

        ``a_i`` is node i's output and ``a_i'`` the inject node's output after merging c_{t-1}; leaf i's
        matrices are written ``W_{2i+1}`` and ``W_{2i+2}`` (1-based, as in the paper's figure).
        """
        cell = self.cell(arch)
        lines: list[tuple[str, str]] = []
        output = [f"a{i}" for i in range(self.num_nodes)]
        pre_activation: list[str] = []
        for i, node in enumerate(cell.nodes):
            if i < self.base:
                left, right = f"W{2 * i + 1}·x_t", f"W{2 * i + 2}·h_{{t-1}}"
                if node.combine == "elem_mult":
                    left, right = f"({left})", f"({right})"
            else:
                left, right = (output[j] for j in self.children(i))
            pre_activation.append(_COMBINATION_SYMBOLS[node.combine].format(left, right))
            lines.append((output[i], _activate(node.activation, pre_activation[i])))
            if i == cell.inject_node:
                merged = _COMBINATION_SYMBOLS[cell.inject.combine].format(output[i], "c_{t-1}")
                output[i] += "'"
                lines.append((output[i], _activate(cell.inject.activation, merged)))
        lines.append(("h_t", output[self.root]))
        lines.append(("c_t", pre_activation[cell.memory_node]))
        width = max(len(name) for name, _ in lines)
        return "\n".join(f"{name:<{width}} = {expression}" for name, expression in lines)

    def size(self) -> int:
        """The number of cells in the space (about 6 x 10^16 for the paper's base 8, SPEC 2.1)."""
        per_node = len(self.combinations) * len(self.activations)
        return per_node ** (self.num_nodes + 1) * self.num_nodes**2

    def _token(self, node: CellNode) -> str:
        return f"{_COMBINATION_TOKENS[node.combine]}/{node.activation}"

    def _decode_node(self, piece: str, match: re.Match[str]) -> CellNode:
        token = match["combine"]
        combine = _TOKEN_COMBINATIONS.get(token, token if token in _COMBINATION_TOKENS else None)
        if combine is None:
            raise InvalidArchitectureError(
                f"rnn_cell: cannot decode {piece!r}: unknown combination {token!r}; "
                f"tokens: {sorted(_TOKEN_COMBINATIONS)}"
            )
        return CellNode(combine, match["activation"])


def _activate(activation: str, expression: str) -> str:
    return expression if activation == "identity" else f"{activation}({expression})"
