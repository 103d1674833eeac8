"""The AutoML-Zero op set as data: OP0..OP64 with their operand kinds, constants and printed form.

Real, Liang, So & Le (ICML 2020), Table S1; numbering identical to the paper and SPEC.md section 4.2.
Conventions (SPEC.md 4.2): unary ops read ``in1`` (address a) and write ``out`` (address b); binary ops
read ``in1`` (a) and ``in2`` (b) and write ``out`` (c). H(x) = 1[x >= 0] for scalars and 1[x > 0]
element-wise for vectors and matrices; std is the population std (divides by F or F*F).
OP57 and OP58 set one entry: its row index i is stored in ``in1`` and its column index j in ``in2``
(the op reads no address, so those fields are free; ``OpSpec.indices`` says how many it uses).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from archsearch.errors import ConfigError


class Kind(enum.IntEnum):
    """The memory bank an operand lives in."""

    SCALAR = 0
    VECTOR = 1
    MATRIX = 2


PREFIX = {Kind.SCALAR: "s", Kind.VECTOR: "v", Kind.MATRIX: "m"}


@dataclass(frozen=True)
class OpSpec:
    """One op: its code (the paper's number), operand kinds, constants and a format string for printing.

    ``pretty`` is formatted with ``out``, ``in1``, ``in2`` (addresses or indices) and ``d0``, ``d1``
    (the instruction's float constants, already printed as text).
    """

    code: int
    name: str
    inputs: tuple[Kind, ...]
    output: Kind | None
    constants: int
    pretty: str
    indices: int = 0

    @property
    def group(self) -> str:
        """The paper's op group (scalar arithmetic, trigonometry, ..., random init)."""
        for (low, high), name in GROUPS.items():
            if low <= self.code <= high:
                return name
        return "no-op"


S, V, M = Kind.SCALAR, Kind.VECTOR, Kind.MATRIX

GROUPS = {
    (1, 6): "scalar arithmetic",
    (7, 12): "trigonometry",
    (13, 14): "exp/log",
    (15, 17): "heaviside",
    (18, 43): "linear algebra",
    (44, 49): "min/max",
    (50, 55): "statistics",
    (56, 58): "constants",
    (59, 64): "random init",
}


def _op(
    code: int, name: str, inputs: tuple[Kind, ...], output: Kind | None, pretty: str, **kw: int
) -> OpSpec:
    return OpSpec(code, name, inputs, output, kw.get("constants", 0), pretty, kw.get("indices", 0))


OPS: tuple[OpSpec, ...] = (
    _op(0, "no_op", (), None, "pass"),
    _op(1, "scalar_sum", (S, S), S, "s{out} = s{in1} + s{in2}"),
    _op(2, "scalar_diff", (S, S), S, "s{out} = s{in1} - s{in2}"),
    _op(3, "scalar_product", (S, S), S, "s{out} = s{in1} * s{in2}"),
    _op(4, "scalar_division", (S, S), S, "s{out} = s{in1} / s{in2}"),
    _op(5, "scalar_abs", (S,), S, "s{out} = abs(s{in1})"),
    _op(6, "scalar_reciprocal", (S,), S, "s{out} = 1 / s{in1}"),
    _op(7, "scalar_sin", (S,), S, "s{out} = sin(s{in1})"),
    _op(8, "scalar_cos", (S,), S, "s{out} = cos(s{in1})"),
    _op(9, "scalar_tan", (S,), S, "s{out} = tan(s{in1})"),
    _op(10, "scalar_arcsin", (S,), S, "s{out} = arcsin(s{in1})"),
    _op(11, "scalar_arccos", (S,), S, "s{out} = arccos(s{in1})"),
    _op(12, "scalar_arctan", (S,), S, "s{out} = arctan(s{in1})"),
    _op(13, "scalar_exp", (S,), S, "s{out} = exp(s{in1})"),
    _op(14, "scalar_log", (S,), S, "s{out} = log(s{in1})"),
    _op(15, "scalar_heaviside", (S,), S, "s{out} = heaviside(s{in1})"),
    _op(16, "vector_heaviside", (V,), V, "v{out} = heaviside(v{in1})"),
    _op(17, "matrix_heaviside", (M,), M, "m{out} = heaviside(m{in1})"),
    _op(18, "scalar_vector_product", (S, V), V, "v{out} = s{in1} * v{in2}"),
    _op(19, "scalar_broadcast", (S,), V, "v{out} = broadcast(s{in1})"),
    _op(20, "vector_reciprocal", (V,), V, "v{out} = 1 / v{in1}"),
    _op(21, "vector_norm", (V,), S, "s{out} = norm(v{in1})"),
    _op(22, "vector_abs", (V,), V, "v{out} = abs(v{in1})"),
    _op(23, "vector_sum", (V, V), V, "v{out} = v{in1} + v{in2}"),
    _op(24, "vector_diff", (V, V), V, "v{out} = v{in1} - v{in2}"),
    _op(25, "vector_product", (V, V), V, "v{out} = v{in1} * v{in2}"),
    _op(26, "vector_division", (V, V), V, "v{out} = v{in1} / v{in2}"),
    _op(27, "vector_inner_product", (V, V), S, "s{out} = dot(v{in1}, v{in2})"),
    _op(28, "vector_outer_product", (V, V), M, "m{out} = outer(v{in1}, v{in2})"),
    _op(29, "scalar_matrix_product", (S, M), M, "m{out} = s{in1} * m{in2}"),
    _op(30, "matrix_reciprocal", (M,), M, "m{out} = 1 / m{in1}"),
    _op(31, "matrix_vector_product", (M, V), V, "v{out} = m{in1} @ v{in2}"),
    _op(32, "vector_column_broadcast", (V,), M, "m{out} = column_broadcast(v{in1})"),
    _op(33, "vector_row_broadcast", (V,), M, "m{out} = row_broadcast(v{in1})"),
    _op(34, "matrix_norm", (M,), S, "s{out} = norm(m{in1})"),
    _op(35, "matrix_column_norm", (M,), V, "v{out} = column_norms(m{in1})"),
    _op(36, "matrix_row_norm", (M,), V, "v{out} = row_norms(m{in1})"),
    _op(37, "matrix_transpose", (M,), M, "m{out} = transpose(m{in1})"),
    _op(38, "matrix_abs", (M,), M, "m{out} = abs(m{in1})"),
    _op(39, "matrix_sum", (M, M), M, "m{out} = m{in1} + m{in2}"),
    _op(40, "matrix_diff", (M, M), M, "m{out} = m{in1} - m{in2}"),
    _op(41, "matrix_product", (M, M), M, "m{out} = m{in1} * m{in2}"),
    _op(42, "matrix_division", (M, M), M, "m{out} = m{in1} / m{in2}"),
    _op(43, "matrix_matrix_product", (M, M), M, "m{out} = m{in1} @ m{in2}"),
    _op(44, "scalar_min", (S, S), S, "s{out} = minimum(s{in1}, s{in2})"),
    _op(45, "vector_min", (V, V), V, "v{out} = minimum(v{in1}, v{in2})"),
    _op(46, "matrix_min", (M, M), M, "m{out} = minimum(m{in1}, m{in2})"),
    _op(47, "scalar_max", (S, S), S, "s{out} = maximum(s{in1}, s{in2})"),
    _op(48, "vector_max", (V, V), V, "v{out} = maximum(v{in1}, v{in2})"),
    _op(49, "matrix_max", (M, M), M, "m{out} = maximum(m{in1}, m{in2})"),
    _op(50, "vector_mean", (V,), S, "s{out} = mean(v{in1})"),
    _op(51, "matrix_mean", (M,), S, "s{out} = mean(m{in1})"),
    _op(52, "matrix_row_mean", (M,), V, "v{out} = row_means(m{in1})"),
    _op(53, "matrix_row_st_dev", (M,), V, "v{out} = row_stds(m{in1})"),
    _op(54, "vector_st_dev", (V,), S, "s{out} = std(v{in1})"),
    _op(55, "matrix_st_dev", (M,), S, "s{out} = std(m{in1})"),
    _op(56, "scalar_const_set", (), S, "s{out} = {d0}", constants=1),
    _op(57, "vector_const_set", (), V, "v{out}[{in1}] = {d0}", constants=1, indices=1),
    _op(58, "matrix_const_set", (), M, "m{out}[{in1}, {in2}] = {d0}", constants=1, indices=2),
    _op(59, "scalar_uniform_set", (), S, "s{out} = uniform({d0}, {d1})", constants=2),
    _op(60, "vector_uniform_set", (), V, "v{out} = uniform({d0}, {d1}, size=F)", constants=2),
    _op(61, "matrix_uniform_set", (), M, "m{out} = uniform({d0}, {d1}, size=(F, F))", constants=2),
    _op(62, "scalar_gaussian_set", (), S, "s{out} = normal({d0}, {d1})", constants=2),
    _op(63, "vector_gaussian_set", (), V, "v{out} = normal({d0}, {d1}, size=F)", constants=2),
    _op(64, "matrix_gaussian_set", (), M, "m{out} = normal({d0}, {d1}, size=(F, F))", constants=2),
)
assert all(spec.code == i for i, spec in enumerate(OPS))

OPS_BY_NAME = {spec.name: spec for spec in OPS}

# Random-init ops draw from the interpreter's per-evaluation generator.
RANDOM_OPS = tuple(range(59, 65))

OP_SETS: dict[str, tuple[int, ...]] = {
    # The released linear-regression demo: constant set, dot, -, *, scalar*vector, vector + (code);
    # exactly the ops of the hand-written SGD reference (SPEC.md 4.8).
    "linear_demo": (56, 27, 2, 3, 18, 23),
    "full": tuple(range(65)),
    # Everything but no-op: the paper's table, each op a real instruction.
    "all_ops": tuple(range(1, 65)),
    # No random-init ops: programs are deterministic functions of their data.
    "deterministic": tuple(range(1, 59)),
    # Per-component lists in the spirit of the released CIFAR baseline: Setup initializes,
    # Predict computes forward, Learn updates (the exact lists of the code are not in SPEC.md).
    "setup_init": (56, 57, 58, 59, 60, 61, 62, 63, 64),
    "predict_forward": (1, 2, 3, 15, 16, 18, 23, 27, 31),
    "learn_update": (1, 2, 3, 4, 16, 18, 23, 24, 25, 27, 28, 29, 31, 37, 39, 40),
}


def op_set(name: str) -> tuple[int, ...]:
    """The op codes of named set ``name``; ConfigError listing the known names otherwise."""
    try:
        return OP_SETS[name]
    except KeyError:
        raise ConfigError(f"unknown op set {name!r}; known: {', '.join(OP_SETS)}") from None
