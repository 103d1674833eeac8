from __future__ import annotations

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.zero.mutation import (
    DEMO_MUTATIONS,
    MUTATION_TYPES,
    PAPER_MUTATIONS,
    Mutator,
    ProgramSpace,
    alter_argument,
    empty_program,
    random_instruction,
    random_program,
)
from archsearch.zero.ops import OP_SETS, OPS
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig
from archsearch.zero.stream import Stream


def demo_space() -> ProgramSpace:
    ops = OP_SETS["linear_demo"]
    return ProgramSpace(
        memory=MemoryConfig(4, 3, 1, 4),
        ops={name: ops for name in COMPONENTS},
        min_sizes={"setup": 10, "predict": 2, "learn": 8},
        max_sizes={"setup": 10, "predict": 2, "learn": 8},
        init_sizes={"setup": 10, "predict": 2, "learn": 8},
    )


def paper_space() -> ProgramSpace:
    return ProgramSpace(
        memory=MemoryConfig(5, 9, 2, 16),
        ops={"setup": OP_SETS["setup_init"], "predict": OP_SETS["full"], "learn": OP_SETS["all_ops"]},
        min_sizes={"setup": 0, "predict": 0, "learn": 0},
        max_sizes={"setup": 7, "predict": 11, "learn": 23},
    )


@pytest.mark.parametrize(
    ("make_space", "mutations"),
    [(demo_space, DEMO_MUTATIONS), (paper_space, PAPER_MUTATIONS), (paper_space, MUTATION_TYPES)],
)
def test_thousands_of_mutations_keep_programs_valid(make_space, mutations):
    space = make_space()
    mutator = Mutator(space, mutate_prob=1.0, mutations=mutations)
    rng = Stream(0)
    program = random_program(
        space, rng, {"setup": 3, "predict": 5, "learn": 7} if make_space is paper_space else None
    )
    space.check(program)
    changed = 0
    for _ in range(1000):
        child = mutator(program, rng)
        space.check(child)  # memory addresses, indices, allowed ops per component, size bounds
        changed += child != program
        program = child
    assert changed > 800  # U = 1: nearly every child differs from its parent


def test_insert_remove_walks_sizes_within_bounds():
    space = paper_space()
    mutator = Mutator(space, mutate_prob=1.0, mutations=("insert_remove",))
    rng = Stream(1)
    program = empty_program()
    seen: dict[str, set[int]] = {name: set() for name in COMPONENTS}
    for _ in range(2500):
        before = program.size()
        program = mutator(program, rng)
        assert abs(program.size() - before) == 1
        for name in COMPONENTS:
            seen[name].add(len(program.component(name)))
    for name in COMPONENTS:  # the walk reaches both ends of every component's range
        assert seen[name] == set(range(space.max_sizes[name] + 1))


def test_fixed_size_space_keeps_sizes_and_changes_one_component():
    space = demo_space()
    mutator = Mutator(space, mutate_prob=1.0, mutations=DEMO_MUTATIONS)
    rng = Stream(2)
    parent = random_program(space, rng)
    for _ in range(500):
        child = mutator(parent, rng)
        assert [len(child.component(n)) for n in COMPONENTS] == [10, 2, 8]
        assert sum(child.component(n) != parent.component(n) for n in COMPONENTS) <= 1


def test_mutate_prob_is_the_fraction_of_mutated_children():
    space = demo_space()
    rng = Stream(3)
    parent = random_program(space, rng)
    mutator = Mutator(space, mutate_prob=0.3, mutations=("randomize_component",))
    copies = sum(mutator(parent, rng) is parent for _ in range(4000))
    assert 0.66 < copies / 4000 < 0.74


def test_alter_argument_changes_exactly_one_argument():
    memory = MemoryConfig(4, 3, 2, 4)  # two of each bank: every op but the no-op has an argument to alter
    rng = Stream(4)
    for _ in range(2000):
        before = random_instruction(OP_SETS["all_ops"], memory, rng)
        if before.op in (59, 60, 61) and before.data[0] == before.data[1]:
            continue
        after = alter_argument(before, memory, rng)
        differences = [f for f in ("in1", "in2", "out") if getattr(before, f) != getattr(after, f)]
        differences += [f"data{i}" for i in range(2) if before.data[i] != after.data[i]]
        spec = OPS[before.op]
        if spec.constants == 2 and differences[0].startswith("data"):
            # reordering alpha <= beta may move the other bound too; a sigma stays non-negative
            assert set(differences) <= {"data0", "data1"}
            if before.op in (62, 63, 64):
                assert after.data[1] >= 0
            else:
                assert after.data[0] <= after.data[1]
        else:
            assert len(differences) == 1, (before, after)


def test_alter_argument_moves_constants_on_a_log_scale():
    memory = MemoryConfig()
    rng = Stream(5)
    instruction = Instruction(op=56, out=2, data=(0.5, 0.0))
    values = [alter_argument(instruction, memory, rng).data[0] for _ in range(2000)]
    values = [v for v in values if v != 0.5]  # the other draws altered the output address
    magnitudes = np.abs(values)
    assert 0.3 < np.median(magnitudes) < 0.8  # 0.5 times exp(N(0, 1)): median 0.5
    assert np.mean(magnitudes > 1.0) > 0.1 and np.mean(magnitudes < 0.25) > 0.1
    assert 0.05 < np.mean(np.asarray(values) < 0) < 0.2  # sign flips one time in ten


def test_unused_arguments_stay_zero_so_equal_behaviour_compares_equal():
    memory = MemoryConfig(5, 9, 2, 16)
    rng = Stream(6)
    for _ in range(1000):
        ins = random_instruction(OP_SETS["full"], memory, rng)
        if OPS[ins.op].output in (0, 1):  # s0 (label) and v0 (features) are never written
            assert ins.out >= 1
        spec = OPS[ins.op]
        used = len(spec.inputs) + spec.indices
        assert all(getattr(ins, f) == 0 for f in ("in1", "in2")[used:])
        assert all(x == 0.0 for x in ins.data[spec.constants :])


def test_bad_space_and_mutator_settings_are_rejected():
    memory = MemoryConfig()
    sizes = {name: 1 for name in COMPONENTS}
    with pytest.raises(ConfigError, match="size bounds"):
        ProgramSpace(memory, {n: (1,) for n in COMPONENTS}, sizes, {**sizes, "learn": 0})
    with pytest.raises(ConfigError, match="allows no ops"):
        ProgramSpace(memory, {**{n: (1,) for n in COMPONENTS}, "predict": ()}, sizes, sizes)
    with pytest.raises(ConfigError, match="op 99"):
        ProgramSpace(memory, {n: (99,) for n in COMPONENTS}, sizes, sizes)
    with pytest.raises(ConfigError, match="unknown mutation type 'swap'"):
        Mutator(demo_space(), mutations=("swap",))
    with pytest.raises(ConfigError, match="mutate_prob"):
        Mutator(demo_space(), mutate_prob=1.5)


def test_check_rejects_a_program_outside_the_space():
    space = demo_space()
    program = random_program(space, Stream(7))
    bad_op = program.__class__(program.setup, (Instruction(op=1, in1=0, in2=1, out=1),) * 2, program.learn)
    with pytest.raises(ConfigError, match="predict\\[0\\] uses op 1"):
        space.check(bad_op)
    too_short = program.__class__(program.setup, program.predict[:1], program.learn)
    with pytest.raises(ConfigError, match="predict has 1 instructions"):
        space.check(too_short)


def test_inputs_are_never_written_unless_allowed():
    space = paper_space()
    rng = Stream(8)
    mutator = Mutator(space, mutate_prob=1.0, mutations=MUTATION_TYPES)
    program = random_program(space, rng, {"setup": 4, "predict": 6, "learn": 8})
    for _ in range(2000):
        program = mutator(program, rng)
        for name in COMPONENTS:
            for ins in program.component(name):
                if OPS[ins.op].output in (0, 1):
                    assert ins.out != 0
    writes_label = Instruction(op=56, out=0, data=(1.0, 0.0))
    bad = program.__class__((writes_label,), program.predict, program.learn)
    with pytest.raises(ConfigError, match="out outside 1..4"):
        space.check(bad)
    free = ProgramSpace(space.memory, space.ops, space.min_sizes, space.max_sizes, protect_inputs=False)
    free.check(bad)
