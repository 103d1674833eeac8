"""AutoML-Zero programs: three instruction lists (Setup, Predict, Learn) over a fixed-size memory.

Real et al. (ICML 2020), section 3 and SPEC.md 4.1: memory holds ``scalars`` scalars, ``vectors``
vectors of dimension ``dim`` (F) and ``matrices`` F x F matrices; s0 is the label (Learn only),
s1 the prediction, v0 the input features.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.ops import OPS, PREFIX, RANDOM_OPS, Kind

COMPONENTS = ("setup", "predict", "learn")
_PACK_CODES = struct.Struct("=4q").pack  # native byte order, as numpy reads it
_PACK_DATA = struct.Struct("=2d").pack

# Fixed addresses (SPEC.md 4.1).
LABEL_SCALAR = 0
PREDICTION_SCALAR = 1
FEATURES_VECTOR = 0

SIGNATURE_NOTES = {
    "setup": "",
    "predict": "  # in: v0 = features; out: s1 = prediction",
    "learn": "  # in: v0 = features, s0 = label, s1 = prediction",
}


@dataclass(frozen=True)
class Instruction:
    """One op with its addresses: ``in1``/``in2`` read (or hold OP57/58's indices), ``out`` is written.

    ``data`` holds the op's float constants: gamma (OP56-58), (alpha, beta) (OP59-61) or
    (mu, sigma) (OP62-64); unused entries stay 0.
    """

    op: int
    in1: int = 0
    in2: int = 0
    out: int = 0
    data: tuple[float, float] = (0.0, 0.0)

    @cached_property
    def packed(self) -> tuple[bytes, bytes]:
        """(op, in1, in2, out) as four int64 and ``data`` as two float64, native byte order: the rows
        ``Program.arrays`` joins. Cached, so a child that shares most instructions with its parent
        encodes only the new ones."""
        return _PACK_CODES(self.op, self.in1, self.in2, self.out), _PACK_DATA(*self.data)

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "name": OPS[self.op].name if 0 <= self.op < len(OPS) else "?",
            "in1": self.in1,
            "in2": self.in2,
            "out": self.out,
            "data": [float(self.data[0]), float(self.data[1])],
        }

    @classmethod
    def from_json(cls, d: Any) -> Instruction:
        if not isinstance(d, dict):
            raise ConfigError(f"instruction must be a JSON object, got {d!r}")
        try:
            op = d["op"]
            ints = [d.get(key, 0) for key in ("in1", "in2", "out")]
            data = d.get("data", [0.0, 0.0])
        except (TypeError, KeyError):
            raise ConfigError(f"instruction {d!r} lacks its op code") from None
        if any(isinstance(v, bool) or not isinstance(v, int) for v in [op, *ints]):
            raise ConfigError(f"instruction {d!r}: op, in1, in2 and out must be integers")
        if not isinstance(data, list | tuple) or len(data) != 2:
            raise ConfigError(f"instruction {d!r}: data must be a list of two numbers")
        try:
            pair = (float(data[0]), float(data[1]))
        except (TypeError, ValueError):
            raise ConfigError(f"instruction {d!r}: data must be a list of two numbers") from None
        return cls(op, ints[0], ints[1], ints[2], pair)

    def pretty(self) -> str:
        """The instruction as one line of Python-like code, e.g. ``s1 = dot(v0, v1)``."""
        if not 0 <= self.op < len(OPS):
            return f"<invalid op {self.op}>"
        return OPS[self.op].pretty.format(
            out=self.out, in1=self.in1, in2=self.in2, d0=_number(self.data[0]), d1=_number(self.data[1])
        )


def _number(x: float) -> str:
    if math.isfinite(x):
        return repr(float(x))
    return f"float('{x}')"


@dataclass(frozen=True)
class Program:
    """An algorithm: Setup runs once, Predict and Learn once per training example (SPEC.md 4.3)."""

    setup: tuple[Instruction, ...] = ()
    predict: tuple[Instruction, ...] = ()
    learn: tuple[Instruction, ...] = ()

    def component(self, name: str) -> tuple[Instruction, ...]:
        if name not in COMPONENTS:
            raise ConfigError(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}")
        instructions: tuple[Instruction, ...] = getattr(self, name)
        return instructions

    def size(self) -> int:
        return len(self.setup) + len(self.predict) + len(self.learn)

    @cached_property
    def live_mask(self) -> np.ndarray:
        """1 for each live instruction (Setup, Predict, Learn order), 0 for dead ones: those whose result can
        reach no prediction (s1 after a Predict) in any sequence of Setup, Predict and Learn runs. Skipping
        dead instructions leaves every prediction and fitness unchanged, bit for bit (only dead memory
        differs). Random ops share one stream, so all are live when any is. Computed once per program."""
        return _live_mask(self)

    def pruned(self) -> Program:
        """This program without its dead instructions (see ``live_mask``)."""
        flags = iter(self.live_mask.tolist())
        parts = {name: tuple(ins for ins in self.component(name) if next(flags)) for name in COMPONENTS}
        return Program(**parts)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The program as the interpreter runs it, computed once per program: codes (n, 4) int64 rows
        (op, in1, in2, out), constants (n, 2) float64, offsets [setup, predict, learn, end] int64.
        Do not modify the arrays: they are shared by every evaluation of this program."""
        instructions = self.setup + self.predict + self.learn
        n = len(instructions)
        rows = [instruction.packed for instruction in instructions]
        # bytearray: writable arrays (numba compiles read-only arrays as another type).
        codes = np.frombuffer(bytearray(b"".join([row[0] for row in rows])), dtype=np.int64)
        constants = np.frombuffer(bytearray(b"".join([row[1] for row in rows])), dtype=np.float64)
        a, b = len(self.setup), len(self.predict)
        return codes.reshape(n, 4), constants.reshape(n, 2), np.array([0, a, a + b, n], dtype=np.int64)

    def to_json(self) -> dict[str, Any]:
        return {name: [ins.to_json() for ins in self.component(name)] for name in COMPONENTS}

    @classmethod
    def from_json(cls, d: Any) -> Program:
        if not isinstance(d, dict):
            raise ConfigError(f"program must be a JSON object with {', '.join(COMPONENTS)}")
        unknown = sorted(set(d) - set(COMPONENTS))
        if unknown:
            raise ConfigError(f"program has unknown component(s) {', '.join(map(str, unknown))}")
        parts: dict[str, tuple[Instruction, ...]] = {}
        for name in COMPONENTS:
            items = d.get(name, [])
            if not isinstance(items, list):
                raise ConfigError(f"program component {name!r} must be a list of instructions")
            parts[name] = tuple(Instruction.from_json(item) for item in items)
        return cls(**parts)

    def pretty(self) -> str:
        """Readable Python-like code: three functions, one instruction per line."""
        lines: list[str] = []
        for name in COMPONENTS:
            lines.append(f"def {name}():{SIGNATURE_NOTES[name]}")
            body = [ins.pretty() for ins in self.component(name)] or ["pass"]
            lines.extend("    " + line for line in body)
        return "\n".join(lines)


@dataclass(frozen=True)
class MemoryConfig:
    """Memory sizes: ``scalars`` (n_s), ``vectors`` (n_v), ``matrices`` (n_m) and ``dim`` (F).

    Defaults are the released linear-regression demo's (4 / 3 / 1, F = 4; SPEC.md 4.1).
    """

    scalars: int = 4
    vectors: int = 3
    matrices: int = 1
    dim: int = 4

    def __post_init__(self) -> None:
        for name in ("scalars", "vectors", "matrices", "dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"memory {name} must be an integer, got {value!r}")
        if self.scalars < 2:
            raise ConfigError(
                f"memory needs at least 2 scalars (s0 label, s1 prediction), got {self.scalars}"
            )
        if self.vectors < 1:
            raise ConfigError(f"memory needs at least 1 vector (v0 features), got {self.vectors}")
        if self.matrices < 0:
            raise ConfigError(f"memory matrices must be >= 0, got {self.matrices}")
        if self.dim < 1:
            raise ConfigError(f"memory dim (F) must be >= 1, got {self.dim}")

    def count(self, kind: Kind) -> int:
        """How many addresses the bank of ``kind`` has."""
        return (self.scalars, self.vectors, self.matrices)[int(kind)]

    def validate(self, program: Program) -> None:
        """Raise ConfigError naming the first instruction whose op, address or index does not fit."""
        for name in COMPONENTS:
            for position, ins in enumerate(program.component(name)):
                problem = self._problem(ins)
                if problem:
                    raise ConfigError(f"{name}[{position}] ({ins.pretty()}): {problem}")

    def _problem(self, ins: Instruction) -> str | None:
        if isinstance(ins.op, bool) or not isinstance(ins.op, int) or not 0 <= ins.op < len(OPS):
            return f"op {ins.op!r} is not in 0..{len(OPS) - 1}"
        spec = OPS[ins.op]
        operands = [(f"in{i + 1}", kind) for i, kind in enumerate(spec.inputs)]
        if spec.output is not None:
            operands.append(("out", spec.output))
        for attr, kind in operands:
            value = getattr(ins, attr)
            if not 0 <= value < self.count(kind):
                bank = PREFIX[kind]
                return f"{attr} address {bank}{value} outside {bank}0..{bank}{self.count(kind) - 1}"
        for attr in ("in1", "in2")[: spec.indices]:
            value = getattr(ins, attr)
            if not 0 <= value < self.dim:
                return f"index {attr}={value} outside 0..{self.dim - 1}"
        if len(ins.data) != 2:
            return "data must hold two floats"
        return None


def sgd_linear_regression(learning_rate: float = 0.2) -> Program:
    """SPEC.md 4.8's hand-written reference: linear regression by SGD in the linear-regression demo's ops
    and memory (4 scalars, 3 vectors, F = 4). On a classification task (s1 is the sigmoid when Learn
    runs) the same program is logistic regression by SGD.

    Setup: s2 = learning_rate; Predict: s1 = dot(v0, v1);
    Learn: s3 = s0 - s1; s3 = s3 * s2; v2 = s3 * v0; v1 = v1 + v2.
    """
    return Program(
        setup=(Instruction(56, out=2, data=(float(learning_rate), 0.0)),),
        predict=(Instruction(27, 0, 1, 1),),
        learn=(
            Instruction(2, 0, 1, 3),
            Instruction(3, 3, 2, 3),
            Instruction(18, 3, 0, 2),
            Instruction(23, 1, 2, 1),
        ),
    )


def sgd_affine_regression(learning_rate: float = 0.2) -> Program:
    """The hand-written reference for affine tasks (y = u.x + a) in the affine setting's ops and memory
    (5 scalars, 3 vectors, F = 4): SGD on the weights v1 and on a bias s4.

    Setup: s2 = learning_rate; Predict: s1 = dot(v0, v1); s1 = s1 + s4;
    Learn: s3 = s0 - s1; s3 = s3 * s2; v2 = s3 * v0; v1 = v1 + v2; s4 = s4 + s3.
    """
    linear = sgd_linear_regression(learning_rate)
    return Program(
        setup=linear.setup,
        predict=(*linear.predict, Instruction(1, 1, 4, 1)),
        learn=(*linear.learn, Instruction(1, 4, 3, 4)),
    )


# ---------------------------------------------------------------------------------------------------
# Liveness (dead-code elimination) over the execution protocol of SPEC.md 4.3.
# ---------------------------------------------------------------------------------------------------


def _bit(kind: Kind, address: int) -> int:
    return 1 << (3 * address + int(kind))  # interleaved banks: no overlap whatever the memory sizes


_HARNESS_DEFS = _bit(Kind.SCALAR, LABEL_SCALAR) | _bit(Kind.VECTOR, FEATURES_VECTOR)  # set before each run
_PREDICTION = _bit(Kind.SCALAR, PREDICTION_SCALAR)  # read after each Predict


def _effects(ins: Instruction) -> tuple[int, int, int]:
    """(addresses read, addresses fully overwritten, addresses written) of one instruction as bit masks."""
    spec = OPS[ins.op]
    reads = 0
    for kind, address in zip(spec.inputs, (ins.in1, ins.in2), strict=False):
        reads |= _bit(kind, address)
    if spec.output is None:
        return reads, 0, 0
    written = _bit(spec.output, ins.out)
    return reads, (0 if spec.indices else written), written  # OP57/58 change one entry only


def _backward(instructions: tuple[Instruction, ...], live_out: int, keep: list[bool]) -> int:
    """Live addresses before ``instructions`` given those live after; marks live instructions in ``keep``."""
    live = live_out
    for position in range(len(instructions) - 1, -1, -1):
        reads, kills, written = _effects(instructions[position])
        if written & live:
            keep[position] = True
            live = (live & ~kills) | reads
    return live


def _live_mask(program: Program) -> np.ndarray:
    instructions = program.setup + program.predict + program.learn
    if any(not 0 <= ins.op < len(OPS) or min(ins.in1, ins.in2, ins.out) < 0 for ins in instructions):
        return np.ones(len(instructions), dtype=np.int64)  # invalid: left whole for validation to report
    keep = {name: [False] * len(program.component(name)) for name in COMPONENTS}
    # Runs: Setup, then Predict and Learn alternating over training examples, then Predict over validation
    # examples. The harness sets s0 and v0 before each Predict and Learn and reads s1 after each Predict.
    # Liveness only grows, so iterating the loop's two components reaches the fixed point.
    in_predict = in_learn = 0
    while True:
        after_learn = in_predict & ~_HARNESS_DEFS
        after_predict = _PREDICTION | ((in_predict | in_learn) & ~_HARNESS_DEFS)
        new_predict = _backward(program.predict, after_predict, keep["predict"])
        new_learn = _backward(program.learn, after_learn, keep["learn"])
        if (new_predict, new_learn) == (in_predict, in_learn):
            break
        in_predict, in_learn = new_predict, new_learn
    _backward(program.setup, in_predict & ~_HARNESS_DEFS, keep["setup"])
    flags = keep["setup"] + keep["predict"] + keep["learn"]
    if any(flag and ins.op in RANDOM_OPS for flag, ins in zip(flags, instructions, strict=True)):
        flags = [flag or ins.op in RANDOM_OPS for flag, ins in zip(flags, instructions, strict=True)]
    return np.array(flags, dtype=np.int64)
