"""The readable AutoML-Zero: each op as one numpy statement, and the execution protocol, numpy only.

Real, Liang, So & Le (ICML 2020); op table of SPEC.md 4.2, protocol 4.3, fitness 4.4. This is the second
of the two writings of the op semantics (the first, for speed, is the compiled loop in ``kernels.py``;
tests hold them equal to the bit). ``export.py`` writes a program out as a module made of these
statements and of this file's part below the marker, copied as it is; ``reference.py`` evaluates a
program by running that module. So the exported file is the readable interpreter, and it reproduces the
fitness archsearch measured exactly.

Why helpers and not numpy's reductions: sums run in index order (row-major for matrices) as in the
compiled loop, where numpy's pairwise sums would differ in the last bits; the scalar functions return
inf and NaN as C does where Python's ``math`` raises.
"""

from __future__ import annotations

import math

import numpy as np

# One statement per op: s, v, m are the memory banks (scalars, F-vectors, F x F matrices); a, b, c the
# in1, in2, out addresses; i, j the entry indices of OP57/58; g the constant, lo/hi (alpha, beta) and
# mu/sd (mu, sigma) the two constants of the random ops; DIM is F and rng a numpy RandomState.
STATEMENTS: dict[int, str] = {
    0: "pass",
    1: "s[{c}] = s[{a}] + s[{b}]",
    2: "s[{c}] = s[{a}] - s[{b}]",
    3: "s[{c}] = s[{a}] * s[{b}]",
    4: "s[{c}] = s[{a}] / s[{b}]",
    5: "s[{c}] = abs(s[{a}])",
    6: "s[{c}] = 1.0 / s[{a}]",
    7: "s[{c}] = sin(s[{a}])",
    8: "s[{c}] = cos(s[{a}])",
    9: "s[{c}] = tan(s[{a}])",
    10: "s[{c}] = arcsin(s[{a}])",
    11: "s[{c}] = arccos(s[{a}])",
    12: "s[{c}] = arctan(s[{a}])",
    13: "s[{c}] = exp(s[{a}])",
    14: "s[{c}] = log(s[{a}])",
    15: "s[{c}] = 1.0 if s[{a}] >= 0.0 else 0.0",
    16: "v[{c}] = np.where(v[{a}] > 0.0, 1.0, 0.0)",
    17: "m[{c}] = np.where(m[{a}] > 0.0, 1.0, 0.0)",
    18: "v[{c}] = s[{a}] * v[{b}]",
    19: "v[{c}] = s[{a}]",
    20: "v[{c}] = 1.0 / v[{a}]",
    21: "s[{c}] = norm(v[{a}])",
    22: "v[{c}] = np.abs(v[{a}])",
    23: "v[{c}] = v[{a}] + v[{b}]",
    24: "v[{c}] = v[{a}] - v[{b}]",
    25: "v[{c}] = v[{a}] * v[{b}]",
    26: "v[{c}] = v[{a}] / v[{b}]",
    27: "s[{c}] = dot(v[{a}], v[{b}])",
    28: "m[{c}] = np.outer(v[{a}], v[{b}])",
    29: "m[{c}] = s[{a}] * m[{b}]",
    30: "m[{c}] = 1.0 / m[{a}]",
    31: "v[{c}] = matvec(m[{a}], v[{b}])",
    32: "m[{c}] = v[{a}][:, None].repeat(DIM, axis=1)",
    33: "m[{c}] = v[{a}][None, :].repeat(DIM, axis=0)",
    34: "s[{c}] = norm(m[{a}])",
    35: "v[{c}] = [norm(column) for column in m[{a}].T]",
    36: "v[{c}] = [norm(row) for row in m[{a}]]",
    37: "m[{c}] = m[{a}].T.copy()",
    38: "m[{c}] = np.abs(m[{a}])",
    39: "m[{c}] = m[{a}] + m[{b}]",
    40: "m[{c}] = m[{a}] - m[{b}]",
    41: "m[{c}] = m[{a}] * m[{b}]",
    42: "m[{c}] = m[{a}] / m[{b}]",
    43: "m[{c}] = matmul(m[{a}], m[{b}])",
    44: "s[{c}] = minimum(s[{a}], s[{b}])",
    45: "v[{c}] = minimum(v[{a}], v[{b}])",
    46: "m[{c}] = minimum(m[{a}], m[{b}])",
    47: "s[{c}] = maximum(s[{a}], s[{b}])",
    48: "v[{c}] = maximum(v[{a}], v[{b}])",
    49: "m[{c}] = maximum(m[{a}], m[{b}])",
    50: "s[{c}] = mean(v[{a}])",
    51: "s[{c}] = mean(m[{a}])",
    52: "v[{c}] = [mean(row) for row in m[{a}]]",
    53: "v[{c}] = [std(row) for row in m[{a}]]",
    54: "s[{c}] = std(v[{a}])",
    55: "s[{c}] = std(m[{a}])",
    56: "s[{c}] = {g}",
    57: "v[{c}, {i}] = {g}",
    58: "m[{c}, {i}, {j}] = {g}",
    59: "s[{c}] = {lo} + ({hi} - {lo}) * rng.random_sample()",
    60: "v[{c}] = {lo} + ({hi} - {lo}) * rng.random_sample(DIM)",
    61: "m[{c}] = {lo} + ({hi} - {lo}) * rng.random_sample((DIM, DIM))",
    62: "s[{c}] = {mu} + {sd} * rng.standard_normal()",
    63: "v[{c}] = {mu} + {sd} * rng.standard_normal(DIM)",
    64: "m[{c}] = {mu} + {sd} * rng.standard_normal((DIM, DIM))",
}

EXPORTED_FROM = "# -- the helpers and the protocol (copied into every exported program) --"
# -- the helpers and the protocol (copied into every exported program) --
Number = float  # a scalar of the memory (a numpy float64)
Values = np.ndarray  # a vector or a matrix of the memory


def exp(x: Number) -> Number:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log(x: Number) -> Number:
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def sin(x: Number) -> Number:
    return math.nan if math.isinf(x) else math.sin(x)


def cos(x: Number) -> Number:
    return math.nan if math.isinf(x) else math.cos(x)


def tan(x: Number) -> Number:
    return math.nan if math.isinf(x) else math.tan(x)


def arcsin(x: Number) -> Number:
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def arccos(x: Number) -> Number:
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


def arctan(x: Number) -> Number:
    return math.atan(x)


def minimum(x: Values | Number, y: Values | Number) -> Values:
    """Element-wise minimum, NaN where either is NaN."""
    return np.where((y < x) | (y != y), y, x)


def maximum(x: Values | Number, y: Values | Number) -> Values:
    """Element-wise maximum, NaN where either is NaN."""
    return np.where((y > x) | (y != y), y, x)


def total(values: Values) -> Number:
    """The sum of all entries, in index order (row-major)."""
    result = 0.0
    for x in values.ravel().tolist():
        result += x
    return result


def dot(a: Values, b: Values) -> Number:
    result = 0.0
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
        result += x * y
    return result


def norm(values: Values) -> Number:
    return math.sqrt(dot(values, values))


def mean(values: Values) -> Number:
    return total(values) / values.size


def std(values: Values) -> Number:
    """The population standard deviation (divides by the number of entries)."""
    deviations = values.ravel() - mean(values)
    return math.sqrt(dot(deviations, deviations) / values.size)


def matvec(matrix: Values, vector: Values) -> list[Number]:
    return [dot(row, vector) for row in matrix]


def matmul(left: Values, right: Values) -> list[list[Number]]:
    return [[dot(row, column) for column in right.T] for row in left]


def sigmoid(x: Number) -> Number:
    return 1.0 / (1.0 + exp(-x))


class BaseAlgorithm:
    """The memory, all zero (scalars s with s0 the label and s1 the prediction, vectors v with v0 the
    features, matrices m), the random ops' generator, and three empty component functions."""

    def __init__(self, scalars: int, vectors: int, matrices: int, dim: int, seed: int = 0) -> None:
        self.s = np.zeros(scalars)
        self.v = np.zeros((vectors, dim))
        self.m = np.zeros((matrices, dim, dim))
        self.rng = np.random.RandomState(seed)

    def setup(self) -> None:
        pass

    def predict(self, x: Values) -> Number:
        return self.s[1]

    def learn(self, x: Values, y: Number) -> None:
        pass


def evaluate_protocol(
    algorithm: BaseAlgorithm,
    x_train: Values,
    y_train: Values,
    x_valid: Values,
    y_valid: Values,
    classification: bool = False,
    max_abs_error: float = 100.0,
    epochs: int = 1,
) -> float:
    """Setup once; Predict then Learn per training example (each epoch); Predict per validation
    example. Fitness: accuracy of sigmoid(s1) > 0.5 (classification) or 1 - (2/pi) arctan(RMSE); 0 for
    a program whose training error passes ``max_abs_error`` (it stops there) or turns NaN."""
    with np.errstate(all="ignore"):
        algorithm.setup()
        for _ in range(epochs):
            for x, y in zip(x_train, np.ravel(y_train).tolist(), strict=True):
                prediction = algorithm.predict(x)
                if classification:
                    prediction = algorithm.s[1] = sigmoid(prediction)
                if not abs(y - prediction) <= max_abs_error:
                    return 0.0
                algorithm.learn(x, y)
        result = 0.0
        for x, y in zip(x_valid, np.ravel(y_valid).tolist(), strict=True):
            prediction = algorithm.predict(x)
            if not classification:
                result += (y - prediction) * (y - prediction)
                continue
            prediction = algorithm.s[1] = sigmoid(prediction)
            if prediction != prediction:
                result = math.nan
            elif (prediction > 0.5) == (y > 0.5):
                result += 1.0
    if len(y_valid) == 0 or result != result:
        return 0.0
    if classification:
        return result / len(y_valid)
    rmse = math.sqrt(result / len(y_valid))
    return 1.0 - 2.0 / math.pi * math.atan(rmse) if rmse < math.inf else 0.0
