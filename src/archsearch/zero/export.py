"""A program as a standalone Python module: numpy only, no archsearch import.

The module holds an ``Algorithm`` class (memory, ``setup()``, ``predict(x)``, ``learn(x, y)``) whose
methods are the program's instructions written as the statements of ``readable.py``, that file's helpers
and protocol copied as they are, and a ``fitness`` function that runs the protocol of SPEC.md 4.3/4.4 on
one task. Random ops draw from ``numpy.random.RandomState`` seeded per task as the interpreter seeds its
generator, so the exported file reproduces the fitness archsearch measured, to the bit.
"""

from __future__ import annotations

import inspect
import json
from functools import lru_cache

from archsearch.zero import readable
from archsearch.zero.kernels import SEED_STRIDE
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program


def _number(x: float) -> str:
    text = repr(float(x))
    return f"float('{text}')" if text in ("inf", "-inf", "nan") else text


def instruction_source(instruction: Instruction) -> str:
    """One instruction as a numpy statement on the memory arrays ``s``, ``v``, ``m``."""
    first, second = (_number(x) for x in instruction.data)
    return readable.STATEMENTS[instruction.op].format(
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

from __future__ import annotations

import math

import numpy as np

N_SCALARS, N_VECTORS, N_MATRICES, DIM = {scalars}, {vectors}, {matrices}, {dim}
PROGRAM_JSON = {program_json}

{helpers}


class Algorithm(BaseAlgorithm):
    """The searched program: its memory (scalars s with s0 the label and s1 the prediction, vectors v
    with v0 the features, matrices m) and its three component functions."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(N_SCALARS, N_VECTORS, N_MATRICES, DIM, seed)

    def setup(self) -> None:
        s, v, m, rng = self.s, self.v, self.m, self.rng
{setup}

    def predict(self, x: Values) -> Number:
        s, v, m, rng = self.s, self.v, self.m, self.rng
        v[0] = x
        s[0] = 0.0  # the label is hidden from Predict
{predict}
        return s[1]

    def learn(self, x: Values, y: Number) -> None:
        s, v, m, rng = self.s, self.v, self.m, self.rng
        v[0] = x
        s[0] = y
{learn}


def fitness(
    x_train, y_train, x_valid, y_valid, classification=False, seed=0, max_abs_error=100.0, epochs=1
):
    """The program's fitness on one task (its random ops seeded with ``seed``)."""
    return evaluate_protocol(
        Algorithm(seed), x_train, y_train, x_valid, y_valid, classification, max_abs_error, epochs
    )


def task_seed(rng_seed, task_index):
    """The random-op seed archsearch gives task ``task_index`` of an evaluation with ``rng_seed``."""
    return (rng_seed * {seed_stride} + task_index) % 2**32
'''


@lru_cache(maxsize=1)
def _helpers() -> str:
    """readable.py below its marker: the helpers and the protocol every exported program carries."""
    source = inspect.getsource(readable)
    marker = "\n" + readable.EXPORTED_FROM + "\n"  # the comment line, not the constant
    return source[source.index(marker) + len(marker) :].strip() + "\n"


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
        helpers=_helpers(),
        **parts,
    )
