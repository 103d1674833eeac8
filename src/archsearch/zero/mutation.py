"""Random programs and the mutations of AutoML-Zero (Real et al. 2020, section 4.2; SPEC.md 4.6).

A ``ProgramSpace`` says what a program may contain: the memory (address counts), the ops each component
function may use and the size bounds of each component. ``Mutator`` turns a parent into a child with the
paper's mutations, applied with probability U (``mutate_prob``); every child it makes is a valid program of
its space (``MemoryConfig.validate`` passes, sizes within bounds, ops from the component's allowed list).

Random draws come from the search's ``stream.Stream``, in the order in which the compiled engine
(``compiled.py``) draws them, so both engines make the same children from the same seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from archsearch.errors import ConfigError
from archsearch.zero.ops import OPS, Kind
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program
from archsearch.zero.stream import Stream

#: The paper's mutation types (section 4.2): (i) insert or remove an instruction at a random position of
#: one component function, (ii) randomize all instructions of one component function (size kept),
#: (iii) alter one argument (an address or a constant) of one instruction. The authors' released code adds
#: ``randomize_instruction`` (replace one instruction by a random one), used by its linear-regression demo.
MUTATION_TYPES = ("insert_remove", "randomize_component", "alter_argument", "randomize_instruction")
PAPER_MUTATIONS = ("insert_remove", "randomize_component", "alter_argument")
DEMO_MUTATIONS = ("alter_argument", "randomize_instruction", "randomize_component")

# Constants of const-set ops start uniform in [-1, 1] and are altered on a log scale (times exp(N(0, 1))),
# with a sign flip one time in ten, as in the released code (instruction.h, MutateActivationLogScaleOrFlip).
_CONSTANT_RANGE = 1.0
_FLIP_PROB = 0.1
GAUSSIAN_OPS = (62, 63, 64)


@dataclass(frozen=True)
class ProgramSpace:
    """What a program may contain: memory sizes, allowed ops and size bounds per component function.

    ``ops``, ``min_sizes``, ``max_sizes`` and ``init_sizes`` are keyed by component name ("setup",
    "predict", "learn"). Fixed-size spaces (the authors' linear-regression demo) have min = max = init.
    With ``protect_inputs`` (the released code's kFirstOutScalarAddress = kFirstOutVectorAddress = 1) no
    instruction writes s0 (the label) or v0 (the features): they are read-only inputs.
    """

    memory: MemoryConfig
    ops: dict[str, tuple[int, ...]]
    min_sizes: dict[str, int]
    max_sizes: dict[str, int]
    init_sizes: dict[str, int] = field(default_factory=dict)
    protect_inputs: bool = True

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
                for field_name, low, high in arguments(instruction.op, self.memory, self.protect_inputs):
                    if not low <= getattr(instruction, field_name) < high:
                        raise ConfigError(
                            f"{name}[{position}] ({instruction.pretty()}): {field_name} outside {low}..{high - 1}"
                        )


def _random_constants(op: int, rng: Stream) -> tuple[float, float]:
    """Constants of a fresh instruction: gamma ~ U(-1, 1); (alpha, beta) sorted U(-1, 1); (mu, U(0, 1))."""
    count = OPS[op].constants
    if count == 0:
        return (0.0, 0.0)
    first = rng.between(-_CONSTANT_RANGE, _CONSTANT_RANGE)
    if count == 1:
        return (first, 0.0)
    if op in GAUSSIAN_OPS:
        return (first, rng.between(0.0, 1.0))  # (mu, sigma)
    second = rng.between(-_CONSTANT_RANGE, _CONSTANT_RANGE)
    return (min(first, second), max(first, second))  # (alpha, beta)


@lru_cache(maxsize=4096)
def arguments(op: int, memory: MemoryConfig, protect_inputs: bool) -> tuple[tuple[str, int, int], ...]:
    """The integer arguments ``op`` uses, each as (field, low, high): values low..high-1 are valid.

    Input addresses index their bank, the output address its bank (from 1 for scalars and vectors when
    the inputs s0 and v0 are protected); OP57/58 keep entry indices (0..F-1) in ``in1``/``in2``.
    """
    spec = OPS[op]
    arguments = [(f"in{i + 1}", 0, memory.count(kind)) for i, kind in enumerate(spec.inputs)]
    arguments += [(f"in{i + 1}", 0, memory.dim) for i in range(spec.indices)]
    if spec.output is not None:
        first = 1 if protect_inputs and spec.output in (Kind.SCALAR, Kind.VECTOR) else 0
        arguments.append(("out", first, memory.count(spec.output)))
    return tuple(arguments)


def random_instruction(
    op_codes: tuple[int, ...], memory: MemoryConfig, rng: Stream, protect_inputs: bool = True
) -> Instruction:
    """One instruction: an op drawn uniformly from ``op_codes``, uniform addresses, random constants.

    Arguments an op does not use stay 0, so that two instructions that act the same compare equal.
    """
    op = op_codes[rng.below(len(op_codes))]
    values = [0, 0, 0]  # in1, in2, out
    for name, low, high in arguments(op, memory, protect_inputs):
        values[_SLOTS[name]] = low + rng.below(high - low) if high > 0 else 0
    return Instruction(op, values[0], values[1], values[2], _random_constants(op, rng))


_SLOTS = {"in1": 0, "in2": 1, "out": 2}


def random_component(space: ProgramSpace, name: str, size: int, rng: Stream) -> tuple[Instruction, ...]:
    ops, memory, protect = space.ops[name], space.memory, space.protect_inputs
    return tuple(random_instruction(ops, memory, rng, protect) for _ in range(size))


def random_program(space: ProgramSpace, rng: Stream, sizes: dict[str, int] | None = None) -> Program:
    """A random program of the given sizes (default: the space's initial sizes)."""
    chosen = sizes or {name: space.init_size(name) for name in COMPONENTS}
    parts = {name: random_component(space, name, chosen[name], rng) for name in COMPONENTS}
    return Program(setup=parts["setup"], predict=parts["predict"], learn=parts["learn"])


def random_sized_program(space: ProgramSpace, rng: Stream) -> Program:
    """A random program whose component sizes are uniform within the space's bounds (random search);
    each component's size is drawn just before its instructions."""
    parts = {}
    for name in COMPONENTS:
        low, high = space.min_sizes[name], space.max_sizes[name]
        parts[name] = random_component(space, name, low + rng.below(high - low + 1), rng)
    return Program(setup=parts["setup"], predict=parts["predict"], learn=parts["learn"])


def empty_program() -> Program:
    """The paper's starting point: three empty component functions."""
    return Program(setup=(), predict=(), learn=())


def _alter_constant(value: float, rng: Stream, flip: bool = True) -> float:
    """Released code's MutateActivationLogScaleOrFlip: flip the sign 1 time in 10, else times exp(N(0, 1))."""
    if flip and rng.random() < _FLIP_PROB:
        return -value
    if value == 0.0 or not math.isfinite(value):  # a zero constant could never move on a log scale
        return rng.between(-_CONSTANT_RANGE, _CONSTANT_RANGE) if flip else rng.between(0.0, 1.0)
    return value * math.exp(rng.gauss())


def _new_value(current: int, low: int, high: int, rng: Stream) -> int:
    """A value drawn uniformly from low..high-1 other than ``current`` (itself when it is the only one)."""
    if high - low <= 1:
        return current
    other = low + rng.below(high - low - 1)
    return other if other < current else other + 1


def alter_argument(
    instruction: Instruction, memory: MemoryConfig, rng: Stream, protect_inputs: bool = True
) -> Instruction:
    """Change one argument of ``instruction``: an address (or entry index) or one of its constants."""
    spec = OPS[instruction.op]
    ranges = {name: (low, high) for name, low, high in arguments(instruction.op, memory, protect_inputs)}
    choices = [name for name, (low, high) in ranges.items() if high - low > 1]
    choices += ("data0", "data1")[: spec.constants]
    if not choices:  # a no-op (or an op whose banks hold one address): nothing to alter
        return instruction
    which = choices[rng.below(len(choices))]
    if which in ranges:
        values = [instruction.in1, instruction.in2, instruction.out]
        slot = _SLOTS[which]
        values[slot] = _new_value(values[slot], *ranges[which], rng)
        return Instruction(instruction.op, values[0], values[1], values[2], instruction.data)
    first, second = instruction.data
    if which == "data0":
        first = _alter_constant(first, rng)
    else:
        second = _alter_constant(second, rng, flip=spec.code not in GAUSSIAN_OPS)
    if spec.code in GAUSSIAN_OPS:
        second = abs(second)  # sigma stays a standard deviation
    elif spec.constants == 2:
        first, second = min(first, second), max(first, second)  # alpha <= beta
    return Instruction(instruction.op, instruction.in1, instruction.in2, instruction.out, (first, second))


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

    def __call__(self, parent: Program, rng: Stream) -> Program:
        if self.mutate_prob < 1.0 and rng.random() >= self.mutate_prob:
            return parent
        return self.mutate_once(parent, rng)

    def _can(self, mutation: str, program: Program, name: str) -> bool:
        size = len(getattr(program, name))
        if mutation == "insert_remove":
            return size < self.space.max_sizes[name] or size > self.space.min_sizes[name]
        return size > 0

    def mutate_once(self, parent: Program, rng: Stream) -> Program:
        """Apply exactly one mutation (when any can act)."""
        order = list(self.mutations)
        while order:
            mutation = order.pop(rng.below(len(order)))
            names = [name for name in COMPONENTS if self._can(mutation, parent, name)]
            if names:
                name = names[rng.below(len(names))]
                instructions = list(getattr(parent, name))
                self._apply(mutation, name, instructions, rng)
                parts = {"setup": parent.setup, "predict": parent.predict, "learn": parent.learn}
                parts[name] = tuple(instructions)
                return Program(parts["setup"], parts["predict"], parts["learn"])
        return parent

    def _apply(self, mutation: str, name: str, instructions: list[Instruction], rng: Stream) -> None:
        space = self.space
        ops, memory, protect = space.ops[name], space.memory, space.protect_inputs
        if mutation == "insert_remove":
            can_insert = len(instructions) < space.max_sizes[name]
            can_remove = len(instructions) > space.min_sizes[name]
            if can_insert and (not can_remove or rng.random() < 0.5):
                position = rng.below(len(instructions) + 1)
                instructions.insert(position, random_instruction(ops, memory, rng, protect))
            else:
                del instructions[rng.below(len(instructions))]
        elif mutation == "randomize_component":
            instructions[:] = random_component(space, name, len(instructions), rng)
        elif mutation == "randomize_instruction":
            position = rng.below(len(instructions))  # drawn before the instruction, as compiled.py does
            instructions[position] = random_instruction(ops, memory, rng, protect)
        else:  # alter_argument
            position = rng.below(len(instructions))
            instructions[position] = alter_argument(instructions[position], memory, rng, protect)
