"""Random programs and the mutations of AutoML-Zero (Real et al. 2020, section 4.2; SPEC.md 4.6).

A ``ProgramSpace`` says what a program may contain: the memory (address counts), the ops each component
function may use and the size bounds of each component. ``Mutator`` turns a parent into a child with the
paper's mutations, applied with probability U (``mutate_prob``); every child it makes is a valid program of
its space (``MemoryConfig.validate`` passes, sizes within bounds, ops from the component's allowed list).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.ops import OPS
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program

#: The paper's mutation types (section 4.2): (i) insert or remove an instruction at a random position of
#: one component function, (ii) randomize all instructions of one component function (size kept),
#: (iii) alter one argument (an address or a constant) of one instruction. The authors' released code adds
#: ``randomize_instruction`` (replace one instruction by a random one), used by its linear-regression demo.
MUTATION_TYPES = ("insert_remove", "randomize_component", "alter_argument", "randomize_instruction")
PAPER_MUTATIONS = ("insert_remove", "randomize_component", "alter_argument")
DEMO_MUTATIONS = ("alter_argument", "randomize_instruction", "randomize_component")

# Constants of const-set ops start uniform in [-1, 1] and are altered on a log scale (times 10**U(-1, 1)),
# with a sign flip one time in ten, so that evolution can reach both 0.01 and 10 as learning rates.
_CONSTANT_RANGE = 1.0
_LOG_SCALE_DECADES = 1.0
_FLIP_PROB = 0.1
GAUSSIAN_OPS = (62, 63, 64)


@dataclass(frozen=True)
class ProgramSpace:
    """What a program may contain: memory sizes, allowed ops and size bounds per component function.

    ``ops``, ``min_sizes``, ``max_sizes`` and ``init_sizes`` are keyed by component name ("setup",
    "predict", "learn"). Fixed-size spaces (the authors' linear-regression demo) have min = max = init.
    """

    memory: MemoryConfig
    ops: dict[str, tuple[int, ...]]
    min_sizes: dict[str, int]
    max_sizes: dict[str, int]
    init_sizes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            for table, label in (
                (self.ops, "ops"),
                (self.min_sizes, "min_sizes"),
                (self.max_sizes, "max_sizes"),
            ):
                if name not in table:
                    raise ConfigError(f"program space: {label} has no entry for component {name!r}")
            low, high = self.min_sizes[name], self.max_sizes[name]
            if not 0 <= low <= high:
                raise ConfigError(
                    f"program space: {name} size bounds [{low}, {high}] are not 0 <= min <= max"
                )
            init = self.init_sizes.get(name, low)
            if not low <= init <= high:
                raise ConfigError(f"program space: {name} initial size {init} is outside [{low}, {high}]")
            if high > 0 and not self.ops[name]:
                raise ConfigError(f"program space: {name} may hold instructions but allows no ops")
            for code in self.ops[name]:
                if not 0 <= code < len(OPS):
                    raise ConfigError(f"program space: {name} allows op {code}, not in 0..{len(OPS) - 1}")

    def init_size(self, name: str) -> int:
        return self.init_sizes.get(name, self.min_sizes[name])

    def check(self, program: Program) -> None:
        """Raise ConfigError unless ``program`` belongs to this space (memory, ops and sizes)."""
        self.memory.validate(program)
        for name in COMPONENTS:
            instructions = getattr(program, name)
            low, high = self.min_sizes[name], self.max_sizes[name]
            if not low <= len(instructions) <= high:
                raise ConfigError(f"{name} has {len(instructions)} instructions, outside [{low}, {high}]")
            allowed = set(self.ops[name])
            for position, instruction in enumerate(instructions):
                if instruction.op not in allowed:
                    raise ConfigError(f"{name}[{position}] uses op {instruction.op}, not allowed in {name}")


def _random_constants(op: int, rng: np.random.Generator) -> tuple[float, float]:
    """Constants of a fresh instruction: gamma ~ U(-1, 1); (alpha, beta) sorted U(-1, 1); (mu, U(0, 1))."""
    spec = OPS[op]
    if spec.constants == 0:
        return (0.0, 0.0)
    if spec.constants == 1:
        return (float(rng.uniform(-_CONSTANT_RANGE, _CONSTANT_RANGE)), 0.0)
    first = float(rng.uniform(-_CONSTANT_RANGE, _CONSTANT_RANGE))
    if op in GAUSSIAN_OPS:
        return (first, float(rng.uniform(0.0, 1.0)))  # (mu, sigma)
    second = float(rng.uniform(-_CONSTANT_RANGE, _CONSTANT_RANGE))
    return (min(first, second), max(first, second))  # (alpha, beta)


def _arguments(op: int, memory: MemoryConfig) -> list[tuple[str, int]]:
    """The integer arguments ``op`` reads, each with the number of values it may take.

    Input addresses index their bank, the output address its bank; OP57/58 keep entry indices (0..F-1)
    in ``in1``/``in2`` instead of addresses.
    """
    spec = OPS[op]
    arguments = [(f"in{i + 1}", memory.count(kind)) for i, kind in enumerate(spec.inputs)]
    arguments += [(f"in{i + 1}", memory.dim) for i in range(spec.indices)]
    if spec.output is not None:
        arguments.append(("out", memory.count(spec.output)))
    return arguments


def random_instruction(
    op_codes: tuple[int, ...], memory: MemoryConfig, rng: np.random.Generator
) -> Instruction:
    """One instruction: an op drawn uniformly from ``op_codes``, uniform addresses, random constants.

    Arguments an op does not use stay 0, so that two instructions that act the same compare equal.
    """
    op = int(op_codes[int(rng.integers(len(op_codes)))])
    values = {name: int(rng.integers(size)) for name, size in _arguments(op, memory)}
    return Instruction(op=op, data=_random_constants(op, rng), **values)


def random_component(
    op_codes: tuple[int, ...], size: int, memory: MemoryConfig, rng: np.random.Generator
) -> tuple[Instruction, ...]:
    return tuple(random_instruction(op_codes, memory, rng) for _ in range(size))


def random_program(
    space: ProgramSpace, rng: np.random.Generator, sizes: dict[str, int] | None = None
) -> Program:
    """A random program of the given sizes (default: the space's initial sizes)."""
    chosen = sizes or {name: space.init_size(name) for name in COMPONENTS}
    parts = {name: random_component(space.ops[name], chosen[name], space.memory, rng) for name in COMPONENTS}
    return Program(setup=parts["setup"], predict=parts["predict"], learn=parts["learn"])


def empty_program() -> Program:
    """The paper's starting point: three empty component functions."""
    return Program(setup=(), predict=(), learn=())


def _alter_constant(value: float, rng: np.random.Generator, flip: bool = True) -> float:
    if flip and rng.random() < _FLIP_PROB:
        return -value
    scaled = value * 10.0 ** float(rng.uniform(-_LOG_SCALE_DECADES, _LOG_SCALE_DECADES))
    if scaled == 0.0 or not math.isfinite(scaled):  # a zero constant could never move on a log scale
        return float(rng.uniform(-_CONSTANT_RANGE, _CONSTANT_RANGE)) if flip else float(rng.uniform(0.0, 1.0))
    return scaled


def _new_address(current: int, size: int, rng: np.random.Generator) -> int:
    """A uniformly drawn address other than ``current`` (the same one when the bank has only one)."""
    if size <= 1:
        return current
    other = int(rng.integers(size - 1))
    return other if other < current else other + 1


def alter_argument(instruction: Instruction, memory: MemoryConfig, rng: np.random.Generator) -> Instruction:
    """Change one argument of ``instruction``: an address (or entry index) or one of its constants."""
    spec = OPS[instruction.op]
    sizes = {name: size for name, size in _arguments(instruction.op, memory) if size > 1}
    choices = [*sizes, *("data0", "data1")[: spec.constants]]
    if not choices:  # a no-op (or an op whose banks hold one address): nothing to alter
        return instruction
    which = choices[int(rng.integers(len(choices)))]
    if which in sizes:
        changes: dict[str, Any] = {which: _new_address(getattr(instruction, which), sizes[which], rng)}
        return replace(instruction, **changes)
    first, second = instruction.data
    if which == "data0":
        first = _alter_constant(first, rng)
    else:
        second = _alter_constant(second, rng, flip=spec.code not in GAUSSIAN_OPS)
    if spec.code in GAUSSIAN_OPS:
        second = abs(second)  # sigma stays a standard deviation
    elif spec.constants == 2:
        first, second = min(first, second), max(first, second)  # alpha <= beta
    return replace(instruction, data=(first, second))


class Mutator:
    """Makes a child from a parent: with probability ``mutate_prob`` (U in the paper) one mutation.

    Each mutation picks its type uniformly from ``mutations`` and then a component function uniformly
    among those where that type can act (an insertion needs room below the maximum size, a removal an
    instruction above the minimum, the other types an instruction to act on). A type that can act nowhere
    is skipped for another; a parent no type can change is copied.
    """

    def __init__(
        self, space: ProgramSpace, mutate_prob: float = 0.9, mutations: tuple[str, ...] = PAPER_MUTATIONS
    ) -> None:
        if not 0.0 <= mutate_prob <= 1.0:
            raise ConfigError(f"mutate_prob must be in [0, 1], got {mutate_prob}")
        if not mutations:
            raise ConfigError(
                f"at least one mutation type is needed; choose from {', '.join(MUTATION_TYPES)}"
            )
        for name in mutations:
            if name not in MUTATION_TYPES:
                raise ConfigError(f"unknown mutation type {name!r}; choose from {', '.join(MUTATION_TYPES)}")
        self.space = space
        self.mutate_prob = mutate_prob
        self.mutations = tuple(mutations)

    def __call__(self, parent: Program, rng: np.random.Generator) -> Program:
        if rng.random() >= self.mutate_prob:
            return parent
        return self.mutate_once(parent, rng)

    def _can(self, mutation: str, program: Program, name: str) -> bool:
        size = len(getattr(program, name))
        if mutation == "insert_remove":
            return size < self.space.max_sizes[name] or size > self.space.min_sizes[name]
        return size > 0

    def mutate_once(self, parent: Program, rng: np.random.Generator) -> Program:
        """Apply exactly one mutation (when any can act)."""
        order = list(self.mutations)
        while order:
            mutation = order.pop(int(rng.integers(len(order))))
            names = [name for name in COMPONENTS if self._can(mutation, parent, name)]
            if names:
                name = names[int(rng.integers(len(names)))]
                instructions = list(getattr(parent, name))
                self._apply(mutation, name, instructions, rng)
                return replace(parent, **{name: tuple(instructions)})
        return parent

    def _apply(
        self, mutation: str, name: str, instructions: list[Instruction], rng: np.random.Generator
    ) -> None:
        space, memory = self.space, self.space.memory
        if mutation == "insert_remove":
            can_insert = len(instructions) < space.max_sizes[name]
            can_remove = len(instructions) > space.min_sizes[name]
            if can_insert and (not can_remove or rng.random() < 0.5):
                position = int(rng.integers(len(instructions) + 1))
                instructions.insert(position, random_instruction(space.ops[name], memory, rng))
            else:
                del instructions[int(rng.integers(len(instructions)))]
        elif mutation == "randomize_component":
            instructions[:] = random_component(space.ops[name], len(instructions), memory, rng)
        elif mutation == "randomize_instruction":
            position = int(rng.integers(len(instructions)))
            instructions[position] = random_instruction(space.ops[name], memory, rng)
        else:  # alter_argument
            position = int(rng.integers(len(instructions)))
            instructions[position] = alter_argument(instructions[position], memory, rng)
