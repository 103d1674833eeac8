"""The NASNet cell search space (Zoph et al., CVPR 2018) and its DARTS variant (Liu et al., ICLR 2019)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.base import check_image_shape, name_list
from archsearch.spaces.cell_ops import DARTS_OPS, NASNET_OPS, OP_FACTORIES
from archsearch.spaces.nasnet_cell.cell import CELL_TYPES, Block

if TYPE_CHECKING:
    from archsearch.spaces.nasnet_cell.module import NASNetCellNetwork
    from archsearch.spaces.nasnet_cell.supernet import DartsSupernet

BLOCK_FIELDS = ("input_a", "input_b", "op_a", "op_b", "combine")
"""The decisions of one block, in order (SPEC 3.1); ``combine`` only when there are two combinations."""
KNOWN_COMBINATIONS = ("add", "concat")
OP_KIND = "op"
COMBINE_KIND = "combine"
OPERATION_SETS = {"nasnet": NASNET_OPS, "darts": tuple(op for op in DARTS_OPS if op != "none")}
"""Named op sets: NASNet's 13 operations; DARTS's 8 without ``none`` (a derived DARTS cell never keeps
``none``, Liu et al. 2019 section 2.4)."""

# The papers' sizes (SPEC 3.1, 3.4). NASNet-A CIFAR "6 @ 768": N = 6 cells per stack, F = 32 filters
# (768 = 6 concatenated states x 4F after two reductions). DARTS: search network 8 cells (N = 2) of
# 16 channels; final network 20 cells (N = 6) of 36 channels. Both: two reductions, stem 3 x channels.
PAPER_NASNET_BLOCKS = 5
PAPER_NASNET_CELLS = 6
PAPER_NASNET_CHANNELS = 32
PAPER_DARTS_BLOCKS = 4
PAPER_DARTS_SEARCH_CELLS = 2
PAPER_DARTS_SEARCH_CHANNELS = 16
PAPER_DARTS_CELLS = 6
PAPER_DARTS_CHANNELS = 36
PAPER_REDUCTIONS = 2
PAPER_STEM_MULTIPLIER = 3
# Defaults small enough to train children of the digits demo on two CPU cores in seconds.
DEFAULT_CELLS = 1
DEFAULT_CHANNELS = 8

_COMBINE_SYMBOLS = {"add": "+", "concat": "||"}
_SYMBOL_COMBINES = {symbol: name for name, symbol in _COMBINE_SYMBOLS.items()}
_NUMBER = r"(?:0|[1-9][0-9]*)"
_BLOCK_TOKEN = re.compile(
    rf"(?P<a>{_NUMBER}):(?P<op_a>[A-Za-z0-9_]+)\s+(?P<combine>\+|\|\|)\s+(?P<b>{_NUMBER}):(?P<op_b>[A-Za-z0-9_]+)"
)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if type(value) is not int or value < minimum:
        raise ConfigError(f"nasnet_cell: {name} must be an int >= {minimum}, got {value!r}")
    return value


def _names(name: str, values: str | Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        if name == "operations" and values in OPERATION_SETS:
            return OPERATION_SETS[values]
        sets = f"a set name ({', '.join(OPERATION_SETS)}) or " if name == "operations" else ""
        raise ConfigError(f"nasnet_cell: {name} must be {sets}a list of names, got {values!r}")
    return name_list("nasnet_cell", name, values, sorted(known))


class NASNetCellSpace(SearchSpace):
    """The NASNet search space of Zoph, Vasudevan, Shlens & Le, "Learning Transferable Architectures for
    Scalable Image Recognition", CVPR 2018, section 3 (SPEC 3.1).

    An architecture is a normal cell (keeps height and width) and a reduction cell (its ops on the two
    cell inputs use stride 2), each of ``blocks`` blocks (B = 5 in the paper). Decisions, for the normal
    cell then the reduction cell, for block b = 0 .. B-1: ``{cell}.block{b}.input_a`` and ``.input_b``
    (ints: 0 = h_{i-2}, 1 = h_{i-1}, 2 + k = block k of this cell, so block b chooses among 2 + b
    states; kind ``input{b}``), ``.op_a`` and ``.op_b`` (indices into ``operations``; kind ``op``) and,
    when ``combinations`` has two entries, ``.combine`` (an index into ``combinations``; kind
    ``combine``). 2 x 5B = 50 tokens with the paper's settings. The cell's output concatenates the
    block outputs no block reads (``cell_output="unused"``, the paper) or all of them ("all", DARTS).

    ``build`` stacks the cells in the NASNet CIFAR skeleton: stem (3x3 conv, ``stem_multiplier`` x
    ``channels``), ``[normal x cells -> reduction] x reductions -> normal x cells``, channels doubling
    at each reduction, ReLU, global pooling, linear. No auxiliary head, no drop-path (regularisers of
    final training). Defaults are small for CPU (``cells`` 1, ``channels`` 8); the paper's CIFAR
    NASNet-A is ``cells=6, channels=32`` (``PAPER_NASNET_*``).
    """

    name = "nasnet_cell"
    final_relu = True

    def __init__(
        self,
        blocks: int = PAPER_NASNET_BLOCKS,
        operations: str | Sequence[str] = "nasnet",
        combinations: Sequence[str] = KNOWN_COMBINATIONS,
        cells: int = DEFAULT_CELLS,
        channels: int = DEFAULT_CHANNELS,
        reductions: int = PAPER_REDUCTIONS,
        stem_multiplier: int = PAPER_STEM_MULTIPLIER,
        cell_output: str = "unused",
    ) -> None:
        self.blocks = _positive_int("blocks", blocks)
        self.operations = _names("operations", operations, tuple(OP_FACTORIES))
        self.combinations = _names("combinations", combinations, KNOWN_COMBINATIONS)
        self.cells = _positive_int("cells", cells)
        self.channels = _positive_int("channels", channels, minimum=2)
        if self.channels % 2:
            raise ConfigError(
                f"nasnet_cell: channels must be even (FactorizedReduce splits them in two), got {channels}"
            )
        self.reductions = _positive_int("reductions", reductions, minimum=0)
        self.stem_multiplier = _positive_int("stem_multiplier", stem_multiplier)
        if cell_output not in ("unused", "all"):
            raise ConfigError(
                f"nasnet_cell: cell_output must be 'unused' (NASNet) or 'all' (DARTS), got {cell_output!r}"
            )
        self.cell_output = cell_output
        self.fields = BLOCK_FIELDS if len(self.combinations) > 1 else BLOCK_FIELDS[:4]
        op_choices = tuple(range(len(self.operations)))
        decisions: list[Decision] = []
        for cell in CELL_TYPES:
            for b in range(self.blocks):
                inputs = tuple(range(2 + b))
                where = f"{cell}.block{b}"
                decisions.append(Decision(f"{where}.input_a", f"input{b}", inputs))
                decisions.append(Decision(f"{where}.input_b", f"input{b}", inputs))
                decisions.append(Decision(f"{where}.op_a", OP_KIND, op_choices))
                decisions.append(Decision(f"{where}.op_b", OP_KIND, op_choices))
                if len(self.combinations) > 1:
                    combine_choices = tuple(range(len(self.combinations)))
                    decisions.append(Decision(f"{where}.combine", COMBINE_KIND, combine_choices))
        self._decisions = tuple(decisions)

    # -- the SearchSpace interface -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Keyword arguments that recreate this space, as JSON-native values (lists, not tuples)."""
        return {
            "blocks": self.blocks,
            "operations": list(self.operations),
            "combinations": list(self.combinations),
            "cells": self.cells,
            "channels": self.channels,
            "reductions": self.reductions,
            "stem_multiplier": self.stem_multiplier,
            "cell_output": self.cell_output,
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
            raise InvalidArchitectureError(
                f"{self.name}: expected an Architecture, got {type(arch).__name__}"
            )
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        if not isinstance(arch.values, tuple):
            raise InvalidArchitectureError(
                f"{self.name}: values must be a tuple, got {type(arch.values).__name__}"
            )
        if len(arch.values) != len(self._decisions):
            raise InvalidArchitectureError(
                f"{self.name}: an architecture has {len(self._decisions)} values (2 cells x {self.blocks} "
                f"blocks x {len(self.fields)} values {list(self.fields)}), got {len(arch.values)}"
            )
        for decision, value in zip(self._decisions, arch.values, strict=True):
            # check() alone lets through values equal to ints (True == 1) that break JSON and repr.
            if type(value) is not int:
                raise InvalidArchitectureError(
                    f"{decision.name}: {value!r} is a {type(value).__name__}, not an int"
                )
            if value not in decision.choices:
                what = {OP_KIND: "operation index", COMBINE_KIND: "combination index"}.get(
                    decision.kind, "input (0 = h_{i-2}, 1 = h_{i-1}, 2 + k = block k)"
                )
                raise InvalidArchitectureError(
                    f"{decision.name}: {what} {value} is out of range 0..{len(decision.choices) - 1}"
                )

    def encode(self, arch: Architecture) -> str:
        """``normal: A:OP + B:OP, ... | reduction: ...``, one token per block; ``+`` is add, ``||`` concat.

        Example block ``1:sep_conv_3x3 + 0:identity``: sep_conv_3x3 of h_{i-1} plus h_{i-2}.
        """
        cells = self.cells_of(arch)
        parts = []
        for cell in CELL_TYPES:
            tokens = [
                f"{b.input_a}:{b.op_a} {_COMBINE_SYMBOLS[b.combine]} {b.input_b}:{b.op_b}"
                for b in cells[cell]
            ]
            parts.append(f"{cell}: " + ", ".join(tokens))
        return " | ".join(parts)

    def decode(self, text: str) -> Architecture:
        """The inverse of ``encode``; raises InvalidArchitectureError naming the malformed piece."""
        expected = "expected 'normal: A:OP + B:OP, ... | reduction: A:OP + B:OP, ...'"
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"{self.name}: cannot decode {text!r}: not a string; {expected}")
        # Cells are separated by " | "; the concat symbol " || " never matches that pattern.
        cells_text = [part.strip() for part in re.split(r"\s\|\s", f" {text.strip()} ") if part.strip()]
        if len(cells_text) != len(CELL_TYPES):
            raise InvalidArchitectureError(
                f"{self.name}: cannot decode {text!r}: {len(cells_text)} ' | '-separated cells, not 2; {expected}"
            )
        cells: dict[str, list[Block]] = {}
        for cell, part in zip(CELL_TYPES, cells_text, strict=True):
            label, colon, body = part.partition(":")
            if not colon or label.strip() != cell:
                raise InvalidArchitectureError(
                    f"{self.name}: cannot decode {text!r}: cell {part!r} must start with '{cell}:'; {expected}"
                )
            blocks = []
            for index, token in enumerate(t.strip() for t in body.split(",")):
                match = _BLOCK_TOKEN.fullmatch(token)
                if match is None:
                    raise InvalidArchitectureError(
                        f"{self.name}: cannot decode {text!r}: {cell} block {index} {token!r} must read "
                        "A:OP + B:OP (add) or A:OP || B:OP (concat)"
                    )
                blocks.append(
                    Block(
                        int(match["a"]),
                        int(match["b"]),
                        match["op_a"],
                        match["op_b"],
                        _SYMBOL_COMBINES[match["combine"]],
                    )
                )
            cells[cell] = blocks
        try:
            return self.from_cells(cells["normal"], cells["reduction"])
        except InvalidArchitectureError as exc:
            raise InvalidArchitectureError(f"{self.name}: cannot decode {text!r}: {exc}") from None

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> NASNetCellNetwork:
        """The NASNet skeleton around ``arch``'s cells for images of ``input_shape`` = (channels, h, w)."""
        from archsearch.spaces.nasnet_cell.module import NASNetCellNetwork

        return NASNetCellNetwork(self.module_spec(arch, input_shape, num_classes))

    # -- hooks (archsearch.spaces.hooks) -------------------------------------------------------

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        """The NASNet skeleton around the cell pair of ``arch``, at the space's sizes."""
        from archsearch.spaces import cell_ops
        from archsearch.spaces.nasnet_cell import module
        from archsearch.spaces.source import image_model_source, standalone_source

        spec = self.module_spec(arch, input_shape, num_classes)
        title = f"Space {self.name}, cells: {self.encode(arch)}"
        source = standalone_source(cell_ops, module)
        return image_model_source(source, "NASNetCellNetwork", spec, title, input_shape, num_classes)

    def draw(self, arch: Architecture, path: str | Path) -> Path:
        """The normal and the reduction cell side by side."""
        from archsearch.spaces.nasnet_cell.drawing import draw_cells

        return draw_cells(self.name, self.cells_of(arch), self.cell_output, path)

    # -- cell specific -------------------------------------------------------------------------

    def cells_of(self, arch: Architecture) -> dict[str, tuple[Block, ...]]:
        """The blocks of the normal and the reduction cell of ``arch``, by name (validates it first)."""
        self.validate(arch)
        per_block = len(self.fields)
        result: dict[str, tuple[Block, ...]] = {}
        for c, cell in enumerate(CELL_TYPES):
            blocks = []
            for b in range(self.blocks):
                start = (c * self.blocks + b) * per_block
                chunk = dict(zip(self.fields, arch.values[start : start + per_block], strict=True))
                blocks.append(
                    Block(
                        input_a=chunk["input_a"],
                        input_b=chunk["input_b"],
                        op_a=self.operations[chunk["op_a"]],
                        op_b=self.operations[chunk["op_b"]],
                        combine=self.combinations[chunk.get("combine", 0)],
                    )
                )
            result[cell] = tuple(blocks)
        return result

    def from_cells(self, normal: Sequence[Block], reduction: Sequence[Block]) -> Architecture:
        """The architecture of these two cells (the inverse of ``cells_of``); validates the result."""
        values: list[Any] = []
        for cell, blocks in zip(CELL_TYPES, (normal, reduction), strict=True):
            if len(blocks) != self.blocks:
                raise InvalidArchitectureError(
                    f"the {cell} cell has {len(blocks)} blocks; this space has {self.blocks}"
                )
            for index, block in enumerate(blocks):
                for op in (block.op_a, block.op_b):
                    if op not in self.operations:
                        raise InvalidArchitectureError(
                            f"{cell} block {index}: unknown operation {op!r}; this space has "
                            f"{', '.join(self.operations)}"
                        )
                if block.combine not in self.combinations:
                    raise InvalidArchitectureError(
                        f"{cell} block {index}: combination {block.combine!r} is not one of "
                        f"{list(self.combinations)}"
                    )
                values.extend([block.input_a, block.input_b])
                values.extend([self.operations.index(block.op_a), self.operations.index(block.op_b)])
                if len(self.combinations) > 1:
                    values.append(self.combinations.index(block.combine))
        arch = Architecture(self.name, tuple(values))
        self.validate(arch)
        return arch

    def module_spec(
        self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
    ) -> dict[str, Any]:
        """The plain-data spec ``NASNetCellNetwork`` is built from (also embedded by the exporter)."""
        check_image_shape(self.name, input_shape, num_classes)
        cells = self.cells_of(arch)
        return {
            "in_channels": input_shape[0],
            "height": input_shape[1],
            "width": input_shape[2],
            "num_classes": num_classes,
            "channels": self.channels,
            "cells": self.cells,
            "reductions": self.reductions,
            "stem_multiplier": self.stem_multiplier,
            "cell_output": self.cell_output,
            "final_relu": self.final_relu,
            **{
                cell: [[b.input_a, b.input_b, b.op_a, b.op_b, b.combine] for b in blocks]
                for cell, blocks in cells.items()
            },
        }


class DartsCellSpace(NASNetCellSpace):
    """The DARTS cell space (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019,
    section 2.1; SPEC 3.4) as a discrete space: the NASNet layout with B = 4 blocks (intermediate nodes),
    the 7 DARTS operations other than ``none``, ``add`` only, and the cell output concatenating all four
    intermediate nodes. A derived DARTS cell (each node keeps two incoming edges) is an architecture of
    this space. No ReLU before the global pooling (DARTS ``NetworkCIFAR``). Defaults are small for CPU;
    the paper's search network is ``cells=2, channels=16``, its final network ``cells=6, channels=36``.
    """

    name = "darts_cell"
    final_relu = False

    def __init__(
        self,
        blocks: int = PAPER_DARTS_BLOCKS,
        operations: str | Sequence[str] = "darts",
        combinations: Sequence[str] = ("add",),
        cells: int = DEFAULT_CELLS,
        channels: int = DEFAULT_CHANNELS,
        reductions: int = PAPER_REDUCTIONS,
        stem_multiplier: int = PAPER_STEM_MULTIPLIER,
        cell_output: str = "all",
    ) -> None:
        super().__init__(
            blocks=blocks,
            operations=operations,
            combinations=combinations,
            cells=cells,
            channels=channels,
            reductions=reductions,
            stem_multiplier=stem_multiplier,
            cell_output=cell_output,
        )

    def supernet(self, input_shape: tuple[int, ...], num_classes: int, **size: Any) -> DartsSupernet:
        """The DARTS search network (every op on every edge) for one-shot search; ``size``: channels,
        cells, blocks, reductions, stem_multiplier (small defaults for CPU). The derived cells belong to
        the supernet's ``space()``, this space at the supernet's sizes."""
        from archsearch.spaces.nasnet_cell.supernet import DartsSupernet

        return DartsSupernet(input_shape, num_classes, space_class=type(self), **size)
