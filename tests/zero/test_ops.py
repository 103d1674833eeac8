"""Every op of the AutoML-Zero table (SPEC.md 4.2) against a hand-computed example, in both interpreters.

Memory for the examples (F = 3, so transposes and row/column ops cannot pass by symmetry):
s2 = 0.5, s3 = -3; v1 = [1, -2, 3], v2 = [4, 0.5, -2]; m1 = [[1, 2, 3], [4, 5, 6], [7, 8, 10]],
m2 = [[2, 0, 1], [1, 3, 0], [0, -1, 2]]. Everything else is zero. Results go to s0, v0 or m0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from archsearch.zero.interpreter import memory_after
from archsearch.zero.ops import OP_SETS, OPS, Kind, op_set
from archsearch.zero.program import Instruction, MemoryConfig, Program
from archsearch.zero.reference import memory_after_reference
from archsearch.zero.tasks import Task

F = 3
CONFIG = MemoryConfig(scalars=4, vectors=3, matrices=3, dim=F)
S2, S3 = 0.5, -3.0
V1 = np.array([1.0, -2.0, 3.0])
V2 = np.array([4.0, 0.5, -2.0])
M1 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])
M2 = np.array([[2.0, 0.0, 1.0], [1.0, 3.0, 0.0], [0.0, -1.0, 2.0]])
INF = math.inf


def _setup_memory() -> list[Instruction]:
    """Const-set instructions (OP56-58) that load the example memory."""
    setup = [Instruction(56, out=2, data=(S2, 0.0)), Instruction(56, out=3, data=(S3, 0.0))]
    for address, vector in ((1, V1), (2, V2)):
        setup += [Instruction(57, in1=i, out=address, data=(float(x), 0.0)) for i, x in enumerate(vector)]
    for address, matrix in ((1, M1), (2, M2)):
        setup += [
            Instruction(58, in1=i, in2=j, out=address, data=(float(matrix[i, j]), 0.0))
            for i in range(F)
            for j in range(F)
        ]
    return setup


EMPTY_TASK = Task("regression", np.zeros((0, F)), np.zeros(0), np.zeros((0, F)), np.zeros(0), seed=0)


@pytest.fixture(params=["compiled", "reference"])
def run_ops(request):
    """Runs instructions after the example setup; returns the memory (s, v, m)."""
    after = memory_after if request.param == "compiled" else memory_after_reference

    def run(*instructions: Instruction, rng_seed: int = 0):
        program = Program(setup=tuple(_setup_memory()) + instructions)
        return after(program, EMPTY_TASK, CONFIG, rng_seed=rng_seed)

    return run


# (op, in1, in2, out-kind, expected value at address 0 of the output kind)
CASES = [
    (1, 2, 3, Kind.SCALAR, -2.5),
    (2, 2, 3, Kind.SCALAR, 3.5),
    (3, 2, 3, Kind.SCALAR, -1.5),
    (4, 2, 3, Kind.SCALAR, 0.5 / -3.0),
    (5, 3, 0, Kind.SCALAR, 3.0),
    (6, 2, 0, Kind.SCALAR, 2.0),
    (7, 2, 0, Kind.SCALAR, 0.479425538604203),
    (8, 2, 0, Kind.SCALAR, 0.8775825618903728),
    (9, 2, 0, Kind.SCALAR, 0.5463024898437905),
    (10, 2, 0, Kind.SCALAR, math.pi / 6),
    (11, 2, 0, Kind.SCALAR, math.pi / 3),
    (12, 2, 0, Kind.SCALAR, 0.4636476090008061),
    (13, 2, 0, Kind.SCALAR, 1.6487212707001282),
    (14, 2, 0, Kind.SCALAR, -0.6931471805599453),
    (15, 3, 0, Kind.SCALAR, 0.0),
    (15, 1, 0, Kind.SCALAR, 1.0),  # H(0) = 1 for scalars
    (16, 1, 0, Kind.VECTOR, [1.0, 0.0, 1.0]),
    (16, 0, 0, Kind.VECTOR, [0.0, 0.0, 0.0]),  # H(0) = 0 element-wise
    (17, 2, 0, Kind.MATRIX, [[1, 0, 1], [1, 1, 0], [0, 0, 1]]),
    (18, 3, 1, Kind.VECTOR, [-3.0, 6.0, -9.0]),
    (19, 2, 0, Kind.VECTOR, [0.5, 0.5, 0.5]),
    (20, 2, 0, Kind.VECTOR, [0.25, 2.0, -0.5]),
    (21, 1, 0, Kind.SCALAR, math.sqrt(14.0)),
    (22, 1, 0, Kind.VECTOR, [1.0, 2.0, 3.0]),
    (23, 1, 2, Kind.VECTOR, [5.0, -1.5, 1.0]),
    (24, 1, 2, Kind.VECTOR, [-3.0, -2.5, 5.0]),
    (25, 1, 2, Kind.VECTOR, [4.0, -1.0, -6.0]),
    (26, 1, 2, Kind.VECTOR, [0.25, -4.0, -1.5]),
    (27, 1, 2, Kind.SCALAR, -3.0),
    (28, 1, 2, Kind.MATRIX, [[4, 0.5, -2], [-8, -1, 4], [12, 1.5, -6]]),
    (29, 3, 1, Kind.MATRIX, [[-3, -6, -9], [-12, -15, -18], [-21, -24, -30]]),
    (30, 2, 0, Kind.MATRIX, [[0.5, INF, 1], [1, 1 / 3, INF], [INF, -1, 0.5]]),
    (31, 1, 1, Kind.VECTOR, [6.0, 12.0, 21.0]),
    (32, 1, 0, Kind.MATRIX, [[1, 1, 1], [-2, -2, -2], [3, 3, 3]]),
    (33, 1, 0, Kind.MATRIX, [[1, -2, 3], [1, -2, 3], [1, -2, 3]]),
    (34, 1, 0, Kind.SCALAR, math.sqrt(304.0)),
    (35, 1, 0, Kind.VECTOR, [math.sqrt(66.0), math.sqrt(93.0), math.sqrt(145.0)]),
    (36, 1, 0, Kind.VECTOR, [math.sqrt(14.0), math.sqrt(77.0), math.sqrt(213.0)]),
    (37, 1, 0, Kind.MATRIX, [[1, 4, 7], [2, 5, 8], [3, 6, 10]]),
    (38, 2, 0, Kind.MATRIX, [[2, 0, 1], [1, 3, 0], [0, 1, 2]]),
    (39, 1, 2, Kind.MATRIX, [[3, 2, 4], [5, 8, 6], [7, 7, 12]]),
    (40, 1, 2, Kind.MATRIX, [[-1, 2, 2], [3, 2, 6], [7, 9, 8]]),
    (41, 1, 2, Kind.MATRIX, [[2, 0, 3], [4, 15, 0], [0, -8, 20]]),
    (42, 1, 2, Kind.MATRIX, [[0.5, INF, 3], [4, 5 / 3, INF], [INF, -8, 5]]),
    (43, 1, 2, Kind.MATRIX, [[4, 3, 7], [13, 9, 16], [22, 14, 27]]),
    (44, 2, 3, Kind.SCALAR, -3.0),
    (45, 1, 2, Kind.VECTOR, [1.0, -2.0, -2.0]),
    (46, 1, 2, Kind.MATRIX, [[1, 0, 1], [1, 3, 0], [0, -1, 2]]),
    (47, 2, 3, Kind.SCALAR, 0.5),
    (48, 1, 2, Kind.VECTOR, [4.0, 0.5, 3.0]),
    (49, 1, 2, Kind.MATRIX, [[2, 2, 3], [4, 5, 6], [7, 8, 10]]),
    (50, 1, 0, Kind.SCALAR, 2.0 / 3.0),
    (51, 1, 0, Kind.SCALAR, 46.0 / 9.0),
    (52, 1, 0, Kind.VECTOR, [2.0, 5.0, 25.0 / 3.0]),
    (53, 1, 0, Kind.VECTOR, [math.sqrt(2.0 / 3.0), math.sqrt(2.0 / 3.0), math.sqrt(14.0) / 3.0]),
    (54, 1, 0, Kind.SCALAR, math.sqrt(38.0) / 3.0),  # population std: divides by F
    (55, 1, 0, Kind.SCALAR, math.sqrt((304.0 - 9 * (46.0 / 9.0) ** 2) / 9.0)),  # divides by F*F
]


@pytest.mark.parametrize(("op", "in1", "in2", "kind", "expected"), CASES, ids=lambda x: str(x)[:8])
def test_op_matches_hand_computed_value(run_ops, op, in1, in2, kind, expected):
    s, v, m = run_ops(Instruction(op, in1=in1, in2=in2, out=0))
    got = (s, v, m)[int(kind)][0]
    np.testing.assert_allclose(got, np.asarray(expected, dtype=float), rtol=1e-12, atol=1e-12)


def test_every_op_has_a_hand_computed_case_or_its_own_test():
    own_tests = {0, 56, 57, 58, 59, 60, 61, 62, 63, 64}
    assert {case[0] for case in CASES} | own_tests == set(range(65))


def test_ops_whose_output_aliases_an_input_read_the_input_first(run_ops):
    s, v, m = run_ops(
        Instruction(31, in1=1, in2=1, out=1),  # v1 = m1 @ v1
        Instruction(37, in1=1, out=1),  # m1 = m1^T
        Instruction(43, in1=2, in2=2, out=2),  # m2 = m2 @ m2
    )
    np.testing.assert_array_equal(v[1], M1 @ V1)
    np.testing.assert_array_equal(m[1], M1.T)
    np.testing.assert_array_equal(m[2], M2 @ M2)


def test_no_op_and_empty_program_leave_memory_as_setup_made_it(run_ops):
    s, v, m = run_ops(Instruction(0, in1=1, in2=2, out=3))
    np.testing.assert_array_equal(s, [0.0, 0.0, S2, S3])
    np.testing.assert_array_equal(v[1:], [V1, V2])
    np.testing.assert_array_equal(m[1:], [M1, M2])
    assert not v[0].any() and not m[0].any()


def test_constant_ops_set_one_entry_or_one_scalar(run_ops):
    s, v, m = run_ops(
        Instruction(56, out=0, data=(7.5, 0.0)),
        Instruction(57, in1=2, out=0, data=(-1.25, 0.0)),
        Instruction(58, in1=2, in2=0, out=0, data=(3.0, 0.0)),
    )
    assert s[0] == 7.5
    np.testing.assert_array_equal(v[0], [0.0, 0.0, -1.25])
    expected = np.zeros((F, F))
    expected[2, 0] = 3.0
    np.testing.assert_array_equal(m[0], expected)


def test_ieee_semantics_for_division_by_zero_and_domain_errors(run_ops):
    s, *_ = run_ops(
        Instruction(4, in1=2, in2=1, out=0),  # 0.5 / 0 = inf
        Instruction(14, in1=3, out=1),  # log(-3) = nan
        Instruction(10, in1=3, out=2),  # arcsin(-3) = nan
        Instruction(6, in1=0, out=3),  # 1 / inf = 0
    )
    assert s[0] == INF and math.isnan(s[1]) and math.isnan(s[2]) and s[3] == 0.0


def test_min_max_propagate_nan(run_ops):
    s, *_ = run_ops(
        Instruction(14, in1=3, out=1),  # s1 = nan
        Instruction(44, in1=1, in2=2, out=0),
        Instruction(47, in1=2, in2=1, out=2),
    )
    assert math.isnan(s[0]) and math.isnan(s[2])


def test_random_ops_draw_the_seeded_numpy_stream_row_major(run_ops):
    """Uniform draws are alpha + (beta - alpha) * U[0, 1), Gaussian mu + sigma * N(0, 1), in the order of
    numpy.random.RandomState(seed): scalar, then vector entries, then matrix entries row by row."""
    s, v, m = run_ops(
        Instruction(59, out=0, data=(-1.0, 3.0)),
        Instruction(60, out=0, data=(2.0, 4.0)),
        Instruction(61, out=0, data=(0.0, 1.0)),
        Instruction(62, out=1, data=(1.0, 2.0)),
        Instruction(63, out=1, data=(0.0, 0.5)),
        Instruction(64, out=1, data=(-1.0, 1.0)),
        rng_seed=3,
    )
    rng = np.random.RandomState(3 * 1_000_003 % 2**32)
    assert s[0] == -1.0 + 4.0 * rng.random_sample()
    np.testing.assert_array_equal(v[0], [2.0 + 2.0 * rng.random_sample() for _ in range(F)])
    np.testing.assert_array_equal(m[0].ravel(), [rng.random_sample() for _ in range(F * F)])
    assert s[1] == 1.0 + 2.0 * rng.standard_normal()
    np.testing.assert_array_equal(v[1], [0.5 * rng.standard_normal() for _ in range(F)])
    np.testing.assert_array_equal(m[1].ravel(), [-1.0 + rng.standard_normal() for _ in range(F * F)])


def test_random_ops_differ_between_seeds_and_repeat_with_the_same_seed(run_ops):
    first = run_ops(Instruction(63, out=0, data=(0.0, 1.0)), rng_seed=1)[1][0]
    again = run_ops(Instruction(63, out=0, data=(0.0, 1.0)), rng_seed=1)[1][0]
    other = run_ops(Instruction(63, out=0, data=(0.0, 1.0)), rng_seed=2)[1][0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_op_table_numbering_kinds_and_sets():
    assert len(OPS) == 65 and [spec.code for spec in OPS] == list(range(65))
    assert OPS[27].name == "vector_inner_product" and OPS[27].output == Kind.SCALAR
    assert OPS[43].inputs == (Kind.MATRIX, Kind.MATRIX) and OPS[31].inputs == (Kind.MATRIX, Kind.VECTOR)
    assert [OPS[c].constants for c in (56, 57, 58, 59, 64)] == [1, 1, 1, 2, 2]
    assert [OPS[c].indices for c in (56, 57, 58)] == [0, 1, 2]
    assert OPS[0].output is None and OPS[0].inputs == ()
    assert sorted(OP_SETS["linear_demo"]) == [2, 3, 18, 23, 27, 56]
    assert OP_SETS["full"] == tuple(range(65))
    assert all(0 <= code < 65 for codes in OP_SETS.values() for code in codes)


def test_unknown_op_set_is_a_config_error():
    from archsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown op set 'nope'"):
        op_set("nope")
