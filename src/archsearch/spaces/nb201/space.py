"""The NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020): 6 edges, 5 operations each."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.base import check_image_shape
from archsearch.spaces.nb201.cell import EDGE_NAMES, EDGES, OPS

if TYPE_CHECKING:
    from archsearch.spaces.nb201.module import NB201Network
    from archsearch.spaces.nb201.supernet import NB201Supernet

OP_KIND = "op"
NUM_ARCHS = len(OPS) ** len(EDGES)  # 15,625

# The benchmark's macro skeleton (AutoDL-Projects config, SPEC 7.3): C = 16, N = 5.
PAPER_CHANNELS = 16
PAPER_CELLS_PER_STAGE = 5
# AutoDL-Projects exps/NAS-Bench-201/main.py enumerates all cells with `CellStructure.gen_all`, then
# shuffles them with `random.seed(88); random.shuffle(archs)`: the position after the shuffle is the
# official architecture index (checked against every row of the benchmark tables by the tests).
_SHUFFLE_SEED = 88


@lru_cache(maxsize=1)
def _index_tables() -> tuple[tuple[int, ...], dict[int, int]]:
    """(code of each index, index of each code); a code is the base-5 number of the 6 op indices,
    edge 0 most significant, which is the position in `gen_all`'s enumeration."""
    codes = list(range(NUM_ARCHS))
    random.Random(_SHUFFLE_SEED).shuffle(codes)
    return tuple(codes), {code: index for index, code in enumerate(codes)}


def _positive_int(name: str, value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ConfigError(f"nb201: {name} must be an int >= 1, got {value!r}")
    return value


class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space of Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible
    Neural Architecture Search", ICLR 2020 (SPEC 7).

    A cell is a DAG of 4 nodes with all 6 forward edges; each edge carries one of ``OPS``. The space has
    6 categorical decisions ``edge_{j}_{i}`` (node j <- node i) in the order of the NB201 string
    ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, all of kind ``"op"`` so that controllers share one head.
    Values are op names. ``index`` / ``from_index`` map cells to the official index 0..15,624 that the
    tabular benchmark uses.

    ``channels`` (C) and ``cells_per_stage`` (N) size the torch network of ``build`` only; the
    benchmark's tables were measured with the defaults C = 16, N = 5.
    """

    name = "nb201"
    companions: ClassVar[dict[str, Any]] = {
        # looked up in the NAS-Bench-201 table on a simulated clock; 12,000 s is the NB201 paper's budget
        "evaluator": {"name": "tabular", "params": {}},
        "clock": "cost",
        "max_time_s": 12_000.0,
        "n_trials": 1_000,
        "executor": "inline",
    }
    """The config sections a study of this space starts from (``archsearch.spaces.hooks``)."""

    def __init__(self, channels: int = PAPER_CHANNELS, cells_per_stage: int = PAPER_CELLS_PER_STAGE) -> None:
        self.channels = _positive_int("channels", channels)
        self.cells_per_stage = _positive_int("cells_per_stage", cells_per_stage)
        self._decisions = tuple(Decision(name=name, kind=OP_KIND, choices=OPS) for name in EDGE_NAMES)

    # -- the SearchSpace interface -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "cells_per_stage": self.cells_per_stage}

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        position = len(prefix)
        return self._decisions[position] if position < len(self._decisions) else None

    def kinds(self) -> dict[str, Decision]:
        return {OP_KIND: Decision(name=OP_KIND, kind=OP_KIND, choices=OPS)}

    def validate(self, arch: Architecture) -> None:
        """Raise InvalidArchitectureError unless ``arch`` is 6 op names of this space."""
        if not isinstance(arch, Architecture):
            raise InvalidArchitectureError(f"nb201: expected an Architecture, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        if not isinstance(arch.values, tuple) or len(arch.values) != len(EDGES):
            raise InvalidArchitectureError(
                f"nb201: an architecture is a tuple of {len(EDGES)} op names (one per edge "
                f"{', '.join(EDGE_NAMES)}), got {arch.values!r}"
            )
        for decision, value in zip(self._decisions, arch.values, strict=True):
            decision.check(value)

    def encode(self, arch: Architecture) -> str:
        """The NB201 string, e.g. ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|...``."""
        self.validate(arch)
        groups = []
        for target in range(1, 4):
            tokens = [
                f"{op}~{source}"
                for op, (source, end) in zip(arch.values, EDGES, strict=True)
                if end == target
            ]
            groups.append("|" + "|".join(tokens) + "|")
        return "+".join(groups)

    def decode(self, text: str) -> Architecture:
        """Parse an NB201 string; raises InvalidArchitectureError naming the malformed part."""
        expected = "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in " + ", ".join(OPS)
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"nb201: cannot decode {text!r}: not a string; {expected}")
        groups = text.strip().split("+")
        if len(groups) != 3:
            raise InvalidArchitectureError(
                f"nb201: cannot decode {text!r}: {len(groups)} '+'-separated node groups, not 3; {expected}"
            )
        values: list[str] = []
        for node, group in enumerate(groups, start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise InvalidArchitectureError(
                    f"nb201: cannot decode {text!r}: node {node} group {group!r} must start and end with '|'"
                )
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise InvalidArchitectureError(
                    f"nb201: cannot decode {text!r}: node {node} needs {node} inputs, got {len(tokens)} in {group!r}"
                )
            for source, token in enumerate(tokens):
                op, tilde, origin = token.partition("~")
                if not tilde or origin != str(source):
                    raise InvalidArchitectureError(
                        f"nb201: cannot decode {text!r}: token {token!r} of node {node} must be op~{source}"
                    )
                if op not in OPS:
                    raise InvalidArchitectureError(
                        f"nb201: cannot decode {text!r}: unknown op {op!r}; ops are {', '.join(OPS)}"
                    )
                values.append(op)
        return Architecture(self.name, tuple(values))

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> NB201Network:
        """The NB201 network (SPEC 7.3) of ``arch`` for images of ``input_shape`` = (channels, height, width)."""
        from archsearch.spaces.nb201.module import NB201Network  # torch loads only for spaces that train

        return NB201Network(self.module_spec(arch, input_shape, num_classes))

    # -- hooks (archsearch.spaces.hooks) -------------------------------------------------------

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        """The NB201 network of one cell (e.g. the cell a one-shot search derived), at the space's sizes."""
        from archsearch.spaces import cell_ops
        from archsearch.spaces.nb201 import module
        from archsearch.spaces.source import image_model_source, standalone_source

        spec = self.module_spec(arch, input_shape, num_classes)
        title = f"Space {self.name} (NAS-Bench-201 index {self.index(arch)}), cell: {self.encode(arch)}"
        source = standalone_source(cell_ops, module)
        return image_model_source(source, "NB201Network", spec, title, input_shape, num_classes)

    def supernet(self, input_shape: tuple[int, ...], num_classes: int, **size: Any) -> NB201Supernet:
        """The NB201 supernet (every op on every edge) for one-shot search; ``size``: channels,
        cells_per_stage (small defaults for CPU, not the space's)."""
        from archsearch.spaces.nb201.supernet import NB201Supernet

        return NB201Supernet(input_shape, num_classes, **size)

    # -- NB201 specific ------------------------------------------------------------------------

    def module_spec(
        self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
    ) -> dict[str, Any]:
        """The plain-data spec ``NB201Network`` is built from."""
        check_image_shape("nb201", input_shape, num_classes)
        self.validate(arch)
        return {
            "in_channels": input_shape[0],
            "num_classes": num_classes,
            "channels": self.channels,
            "cells_per_stage": self.cells_per_stage,
            "ops": list(arch.values),
        }

    def code(self, arch: Architecture) -> str:
        """The benchmark tables' 6-digit op code: digit e = index in ``OPS`` of edge e's op."""
        self.validate(arch)
        return "".join(str(OPS.index(op)) for op in arch.values)

    def index(self, arch: Architecture) -> int:
        """The official NAS-Bench-201 / NATS-Bench topology index (0..15,624) of ``arch``."""
        self.validate(arch)
        code = 0
        for op in arch.values:
            code = code * len(OPS) + OPS.index(op)
        return _index_tables()[1][code]

    def from_index(self, index: int) -> Architecture:
        """The architecture with official index ``index`` (the inverse of ``index``)."""
        if isinstance(index, bool) or not hasattr(index, "__index__") or not 0 <= int(index) < NUM_ARCHS:
            raise InvalidArchitectureError(
                f"nb201: index must be an int in 0..{NUM_ARCHS - 1}, got {index!r}"
            )
        code = _index_tables()[0][int(index)]
        values = []
        for _ in EDGES:
            code, digit = divmod(code, len(OPS))
            values.append(OPS[digit])
        return Architecture(self.name, tuple(reversed(values)))
