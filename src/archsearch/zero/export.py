"""A program as a standalone Python module: numpy only, no archsearch import.

The module holds an ``Algorithm`` class (memory, ``setup()``, ``predict(x)``, ``learn(x, y)``) and a
``fitness`` function that runs the execution protocol of SPEC.md 4.3/4.4 on one task, so that the exported
file reproduces the fitness archsearch measured (random ops draw from ``numpy.random.RandomState`` seeded
per task as the interpreter seeds its generator).
"""

from __future__ import annotations

import json

from archsearch.zero.interpreter import SEED_STRIDE
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program

# One numpy statement per op (SPEC.md 4.2); a, b, c are the in1, in2, out addresses, i and j the entry
# indices of OP57/58, g the constant, lo/hi (alpha, beta) and mu/sd (mu, sigma).
_STATEMENTS: dict[int, str] = {
    0: "pass",
    1: "s[{c}] = s[{a}] + s[{b}]",
    2: "s[{c}] = s[{a}] - s[{b}]",
    3: "s[{c}] = s[{a}] * s[{b}]",
    4: "s[{c}] = s[{a}] / s[{b}]",
    5: "s[{c}] = abs(s[{a}])",
    6: "s[{c}] = 1.0 / s[{a}]",
    7: "s[{c}] = np.sin(s[{a}])",
    8: "s[{c}] = np.cos(s[{a}])",
    9: "s[{c}] = np.tan(s[{a}])",
    10: "s[{c}] = np.arcsin(s[{a}])",
    11: "s[{c}] = np.arccos(s[{a}])",
    12: "s[{c}] = np.arctan(s[{a}])",
    13: "s[{c}] = np.exp(s[{a}])",
    14: "s[{c}] = np.log(s[{a}])",
    15: "s[{c}] = 1.0 if s[{a}] >= 0.0 else 0.0",
    16: "v[{c}] = np.where(v[{a}] > 0.0, 1.0, 0.0)",
    17: "m[{c}] = np.where(m[{a}] > 0.0, 1.0, 0.0)",
    18: "v[{c}] = s[{a}] * v[{b}]",
    19: "v[{c}] = s[{a}]",
    20: "v[{c}] = 1.0 / v[{a}]",
    21: "s[{c}] = np.sqrt(np.sum(v[{a}] * v[{a}]))",
    22: "v[{c}] = np.abs(v[{a}])",
    23: "v[{c}] = v[{a}] + v[{b}]",
    24: "v[{c}] = v[{a}] - v[{b}]",
    25: "v[{c}] = v[{a}] * v[{b}]",
    26: "v[{c}] = v[{a}] / v[{b}]",
    27: "s[{c}] = np.dot(v[{a}], v[{b}])",
    28: "m[{c}] = np.outer(v[{a}], v[{b}])",
    29: "m[{c}] = s[{a}] * m[{b}]",
    30: "m[{c}] = 1.0 / m[{a}]",
    31: "v[{c}] = m[{a}] @ v[{b}]",
    32: "m[{c}] = v[{a}][:, None].repeat(DIM, axis=1)",
    33: "m[{c}] = v[{a}][None, :].repeat(DIM, axis=0)",
    34: "s[{c}] = np.sqrt(np.sum(m[{a}] * m[{a}]))",
    35: "v[{c}] = np.sqrt(np.sum(m[{a}] * m[{a}], axis=0))",
    36: "v[{c}] = np.sqrt(np.sum(m[{a}] * m[{a}], axis=1))",
    37: "m[{c}] = m[{a}].T.copy()",
    38: "m[{c}] = np.abs(m[{a}])",
    39: "m[{c}] = m[{a}] + m[{b}]",
    40: "m[{c}] = m[{a}] - m[{b}]",
    41: "m[{c}] = m[{a}] * m[{b}]",
    42: "m[{c}] = m[{a}] / m[{b}]",
    43: "m[{c}] = m[{a}] @ m[{b}]",
    44: "s[{c}] = np.minimum(s[{a}], s[{b}])",
    45: "v[{c}] = np.minimum(v[{a}], v[{b}])",
    46: "m[{c}] = np.minimum(m[{a}], m[{b}])",
    47: "s[{c}] = np.maximum(s[{a}], s[{b}])",
    48: "v[{c}] = np.maximum(v[{a}], v[{b}])",
    49: "m[{c}] = np.maximum(m[{a}], m[{b}])",
    50: "s[{c}] = np.mean(v[{a}])",
    51: "s[{c}] = np.mean(m[{a}])",
    52: "v[{c}] = np.mean(m[{a}], axis=1)",
    53: "v[{c}] = np.std(m[{a}], axis=1)",
    54: "s[{c}] = np.std(v[{a}])",
    55: "s[{c}] = np.std(m[{a}])",
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


def _number(x: float) -> str:
    text = repr(float(x))
    return f"float('{text}')" if text in ("inf", "-inf", "nan") else text


def instruction_source(instruction: Instruction) -> str:
    """One instruction as a numpy statement on the memory arrays ``s``, ``v``, ``m``."""
    first, second = (_number(x) for x in instruction.data)
    return _STATEMENTS[instruction.op].format(
        a=instruction.in1,
        b=instruction.in2,
        c=instruction.out,
        i=instruction.in1,
        j=instruction.in2,
        g=first,
        lo=first,
        hi=second,
        mu=first,
        sd=second,
    )


_TEMPLATE = '''"""{title}

Exported by archsearch from an AutoML-Zero search (Real et al., ICML 2020); needs only numpy.

    from {module} import Algorithm, fitness
    algorithm = Algorithm(seed=0)
    algorithm.setup()
    for x, y in zip(x_train, y_train):
        algorithm.predict(x)
        algorithm.learn(x, y)
    predictions = [algorithm.predict(x) for x in x_valid]

``fitness`` runs exactly that (the protocol of the search) and scores it: 1 - (2/pi) arctan(RMSE) for
regression, accuracy of sigmoid(s1) > 0.5 for binary classification.

The program, as searched:

{pretty}
"""

import math

import numpy as np

N_SCALARS, N_VECTORS, N_MATRICES, DIM = {scalars}, {vectors}, {matrices}, {dim}
PROGRAM_JSON = {program_json}


class Algorithm:
    """Memory: scalars s (s0 label, s1 prediction), vectors v (v0 features), matrices m."""

    def __init__(self, seed=0):
        self.s = np.zeros(N_SCALARS)
        self.v = np.zeros((N_VECTORS, DIM))
        self.m = np.zeros((N_MATRICES, DIM, DIM))
        self.rng = np.random.RandomState(seed)

    def setup(self):
        s, v, m, rng = self.s, self.v, self.m, self.rng
{setup}

    def predict(self, x):
        s, v, m, rng = self.s, self.v, self.m, self.rng
        v[0] = x
        s[0] = 0.0  # the label is hidden from Predict
{predict}
        return s[1]

    def learn(self, x, y):
        s, v, m, rng = self.s, self.v, self.m, self.rng
        v[0] = x
        s[0] = y
{learn}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.float64(x)))


def fitness(x_train, y_train, x_valid, y_valid, classification=False, seed=0, max_abs_error=100.0):
    """Setup once, Predict then Learn per training example, Predict per validation example; score."""
    algorithm = Algorithm(seed)
    with np.errstate(all="ignore"):
        algorithm.setup()
        for x, y in zip(x_train, y_train):
            prediction = algorithm.predict(x)
            if classification:
                prediction = algorithm.s[1] = _sigmoid(prediction)
            if not abs(y - prediction) <= max_abs_error:
                return 0.0  # a runaway program stops early with the minimum fitness
            algorithm.learn(x, y)
        total = 0.0
        for x, y in zip(x_valid, y_valid):
            prediction = algorithm.predict(x)
            if classification:
                prediction = algorithm.s[1] = _sigmoid(prediction)
                if prediction != prediction:
                    return 0.0
                total += float((prediction > 0.5) == (y > 0.5))
            else:
                total += (y - prediction) ** 2
    if total != total:
        return 0.0
    if classification:
        return total / len(y_valid)
    rmse = math.sqrt(total / len(y_valid))
    return 1.0 - 2.0 / math.pi * math.atan(rmse) if rmse < math.inf else 0.0


def task_seed(rng_seed, task_index):
    """The random-op seed archsearch gives task ``task_index`` of an evaluation with ``rng_seed``."""
    return (rng_seed * {seed_stride} + task_index) % 2**32
'''


def _body(instructions: tuple[Instruction, ...]) -> str:
    lines = [instruction_source(ins) for ins in instructions] or ["pass"]
    return "\n".join("        " + line for line in lines)


def export_source(program: Program, memory: MemoryConfig, title: str, module: str = "algorithm") -> str:
    """The standalone module's source text for ``program`` over ``memory``."""
    memory.validate(program)
    parts = {name: _body(program.component(name)) for name in COMPONENTS}
    return _TEMPLATE.format(
        title=title,
        module=module,
        pretty="\n".join("    " + line for line in program.pretty().splitlines()),
        scalars=memory.scalars,
        vectors=memory.vectors,
        matrices=memory.matrices,
        dim=memory.dim,
        program_json=repr(json.dumps(program.to_json())),
        seed_stride=SEED_STRIDE,
        **parts,
    )
