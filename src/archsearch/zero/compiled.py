"""The compiled search engine: regularized evolution and random search over programs in one numba loop.

The Python engine (``evolution.py`` with ``mutation.Mutator`` and ``fec.FunctionalEquivalenceCache``) is
the readable statement of the search and spends most of each individual in Python (drawing the mutation,
building the child's instruction objects, looking up the cache). This engine runs the same search with no
Python per individual:

- the same regularized evolution (P, T with replacement, the first fittest pick wins a tie, the oldest
  member leaves; P initial members random or empty) and random search (sizes uniform in their bounds);
- the same mutations with the same probabilities (type uniform among those allowed, then a component
  uniform among those where the type can act; a type that can act nowhere is skipped; constants altered
  on a log scale or flipped one time in ten; ``mutation.py`` is the reference);
- the same fitness, bit for bit: the interpreter's compiled kernels (``kernels.evaluate_kernel``,
  ``kernels.fec_kernel``) called from the loop, combined by ``kernels.combine_kernel``;
- the same FEC cache: least recently used out at ``capacity``, an entry dropped after ``max_hits`` hits
  (an open-addressing table with a doubly linked recency list instead of an OrderedDict).

Both engines draw from one random stream (``stream.py``, xoshiro256**) in the same order, so one seed
gives one search: the same children, fitness sequence and best program (tests/zero/test_engines.py
asserts it child by child). Its whole state (population, elite, cache, generator) is a set of arrays
saved and restored exactly. Programs live as fixed rows: component c of a program occupies
rows ``base[c] .. base[c] + size[c]`` of an (N, 4) int64 code array and an (N, 2) float64 constant array,
N the sum of the components' maximum sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.evolution import Individual
from archsearch.zero.interpreter import check_combine, task_batch
from archsearch.zero.kernels import (
    OP_TABLES,
    combine_kernel,
    evaluate_kernel,
    fec_kernel,
    jit,
    jit_inline,
    kernel_params,
)
from archsearch.zero.mutation import GAUSSIAN_OPS, MUTATION_TYPES, ProgramSpace, arguments
from archsearch.zero.ops import OPS
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program
from archsearch.zero.stream import seed_state

# Mutation type codes, in MUTATION_TYPES order.
INSERT_REMOVE, RANDOMIZE_COMPONENT, ALTER_ARGUMENT, RANDOMIZE_INSTRUCTION = range(4)
# Counters (int64 state): individuals, full evaluations, FEC hits, FEC misses, population ring head and
# count, elite count, cache entries, free cache slots.
C_EVALUATED, C_FULL, C_HITS, C_MISSES, C_HEAD, C_COUNT, C_ELITE, C_FEC_SIZE, C_FEC_FREE = range(9)
# Integer settings.
S_POPULATION, S_TOURNAMENT, S_EMPTY, S_ELITE, S_MEDIAN, S_FEC, S_CAPACITY, S_MAX_HITS, S_RANDOM = range(9)
# Space rows: base row, minimum, maximum and initial size, number of allowed ops of each component.
R_BASE, R_MIN, R_MAX, R_INIT, R_NOPS = range(5)
_EMPTY_SLOT = -1


# -- the generator: stream.Stream's draws in numba (xoshiro256**, seeded by stream.seed_state) ------------
@jit_inline
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@jit_inline
def _next(s):
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@jit_inline
def _uniform(s):
    """Uniform in [0, 1) with 53 random bits."""
    return float(_next(s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit_inline
def _below(s, n):
    return int(_uniform(s) * n)


@jit_inline
def _between(s, low, high):
    return low + (high - low) * _uniform(s)


@jit_inline
def _gauss(s):
    """Standard normal (Box-Muller, one value per call)."""
    return np.sqrt(-2.0 * np.log(1.0 - _uniform(s))) * np.cos(2.0 * np.pi * _uniform(s))


# -- programs as rows --------------------------------------------------------------------------------------
@jit_inline
def _random_instruction(s, op, codes, consts, row, arg_lo, arg_hi, n_const, gaussian):
    """Row ``row`` := op ``op`` with uniform arguments and fresh constants (mutation.random_instruction)."""
    codes[row, 0] = op
    for slot in range(3):
        low, high = arg_lo[op, slot], arg_hi[op, slot]
        codes[row, 1 + slot] = low + _below(s, high - low) if high > 0 else 0
    consts[row, 0] = 0.0
    consts[row, 1] = 0.0
    count = n_const[op]
    if count > 0:
        first = _between(s, -1.0, 1.0)
        consts[row, 0] = first
        if count == 2:
            if gaussian[op]:
                consts[row, 1] = _between(s, 0.0, 1.0)
            else:
                second = _between(s, -1.0, 1.0)
                consts[row, 0] = min(first, second)
                consts[row, 1] = max(first, second)


@jit_inline
def _fresh(s, component, codes, consts, row, comp_ops, space, arg_lo, arg_hi, n_const, gaussian):
    op = comp_ops[component, _below(s, space[R_NOPS, component])]
    _random_instruction(s, op, codes, consts, row, arg_lo, arg_hi, n_const, gaussian)


@jit_inline
def _alter_constant(s, value, flip):
    """mutation._alter_constant: flip the sign 1 time in 10, else times exp(N(0, 1))."""
    if flip and _uniform(s) < 0.1:
        return -value
    if value == 0.0 or not np.isfinite(value):
        return _between(s, -1.0, 1.0) if flip else _between(s, 0.0, 1.0)
    return value * np.exp(_gauss(s))


@jit
def _alter(s, codes, consts, row, arg_lo, arg_hi, n_const, gaussian):
    """mutation.alter_argument on one row: a new value for one address/index (another than the current)
    or one constant."""
    op = codes[row, 0]
    choices = np.empty(5, dtype=np.int64)
    n = 0
    for slot in range(3):
        if arg_hi[op, slot] - arg_lo[op, slot] > 1:
            choices[n] = slot
            n += 1
    for k in range(n_const[op]):
        choices[n] = 3 + k
        n += 1
    if n == 0:
        return
    which = choices[_below(s, n)]
    if which < 3:
        low, high, current = arg_lo[op, which], arg_hi[op, which], codes[row, 1 + which]
        other = low + _below(s, high - low - 1)
        codes[row, 1 + which] = other if other < current else other + 1
        return
    first, second = consts[row, 0], consts[row, 1]
    if which == 3:
        first = _alter_constant(s, first, True)
    else:
        second = _alter_constant(s, second, not gaussian[op])
    if gaussian[op]:
        second = abs(second)
    elif n_const[op] == 2:
        first, second = min(first, second), max(first, second)
    consts[row, 0] = first
    consts[row, 1] = second


@jit
def _mutate(
    s, codes, consts, sizes, mutate_prob, mut_types, comp_ops, space, arg_lo, arg_hi, n_const, gaussian
):
    """The child in (codes, consts, sizes), a copy of the parent on entry: Mutator.__call__."""
    if mutate_prob < 1.0 and _uniform(s) >= mutate_prob:
        return
    order = mut_types.copy()
    remaining = order.shape[0]
    able = np.empty(3, dtype=np.int64)
    while remaining > 0:
        pick = _below(s, remaining)
        mutation = order[pick]
        for k in range(pick, remaining - 1):
            order[k] = order[k + 1]
        remaining -= 1
        n = 0
        for c in range(3):
            size = sizes[c]
            if mutation == INSERT_REMOVE:
                ok = size < space[R_MAX, c] or size > space[R_MIN, c]
            else:
                ok = size > 0
            if ok:
                able[n] = c
                n += 1
        if n == 0:
            continue
        c = able[_below(s, n)]
        base, size = space[R_BASE, c], sizes[c]
        if mutation == INSERT_REMOVE:
            can_insert = size < space[R_MAX, c]
            can_remove = size > space[R_MIN, c]
            if can_insert and (not can_remove or _uniform(s) < 0.5):
                position = _below(s, size + 1)
                for row in range(base + size, base + position, -1):
                    codes[row] = codes[row - 1]
                    consts[row] = consts[row - 1]
                _fresh(
                    s, c, codes, consts, base + position, comp_ops, space, arg_lo, arg_hi, n_const, gaussian
                )
                sizes[c] = size + 1
            else:
                position = _below(s, size)
                for row in range(base + position, base + size - 1):
                    codes[row] = codes[row + 1]
                    consts[row] = consts[row + 1]
                sizes[c] = size - 1
        elif mutation == RANDOMIZE_COMPONENT:
            for row in range(base, base + size):
                _fresh(s, c, codes, consts, row, comp_ops, space, arg_lo, arg_hi, n_const, gaussian)
        elif mutation == RANDOMIZE_INSTRUCTION:
            row = base + _below(s, size)
            _fresh(s, c, codes, consts, row, comp_ops, space, arg_lo, arg_hi, n_const, gaussian)
        else:
            _alter(s, codes, consts, base + _below(s, size), arg_lo, arg_hi, n_const, gaussian)
        return


@jit
def _random_program(
    s, codes, consts, sizes, random_sizes, empty, comp_ops, space, arg_lo, arg_hi, n_const, gaussian
):
    """A random program of the initial sizes (uniform sizes in their bounds for random search), or empty."""
    for c in range(3):
        if empty:
            sizes[c] = 0
        elif random_sizes:
            sizes[c] = space[R_MIN, c] + _below(s, space[R_MAX, c] - space[R_MIN, c] + 1)
        else:
            sizes[c] = space[R_INIT, c]
        base = space[R_BASE, c]
        for row in range(base, base + sizes[c]):
            _fresh(s, c, codes, consts, row, comp_ops, space, arg_lo, arg_hi, n_const, gaussian)


@jit_inline
def _same(codes_a, consts_a, sizes_a, codes_b, consts_b, sizes_b, space):
    for c in range(3):
        if sizes_a[c] != sizes_b[c]:
            return False
    for c in range(3):
        base = space[R_BASE, c]
        for row in range(base, base + sizes_a[c]):
            for k in range(4):
                if codes_a[row, k] != codes_b[row, k]:
                    return False
            for k in range(2):
                if consts_a[row, k] != consts_b[row, k]:
                    return False
    return True


# -- the FEC cache: open addressing (linear probing, backward-shift deletion) + a recency list -----------
@jit_inline
def _fec_find(table, key0, key1, k0, k1):
    """The table position holding key (k0, k1), or -(position of the empty cell that ends its probe) - 1."""
    mask = table.shape[0] - 1
    i = np.int64((k0 >> np.uint64(1)) & np.uint64(mask))  # the digest's low bit is always 1
    while table[i] != _EMPTY_SLOT:
        slot = table[i]
        if key0[slot] == k0 and key1[slot] == k1:
            return i
        i = (i + 1) & mask
    return -i - 1


@jit_inline
def _fec_unlink(prev, nxt, slot):
    prev[nxt[slot]] = prev[slot]
    nxt[prev[slot]] = nxt[slot]


@jit_inline
def _fec_append(prev, nxt, slot):
    """Link ``slot`` as the most recently used (before the sentinel, the last index)."""
    sentinel = prev.shape[0] - 1
    last = prev[sentinel]
    prev[slot] = last
    nxt[slot] = sentinel
    nxt[last] = slot
    prev[sentinel] = slot


@jit
def _fec_remove(table, key0, key1, prev, nxt, free, counters, position):
    """Delete the entry at table ``position`` (backward-shift: no tombstones) and free its slot."""
    slot = table[position]
    _fec_unlink(prev, nxt, slot)
    free[counters[C_FEC_FREE]] = slot
    counters[C_FEC_FREE] += 1
    counters[C_FEC_SIZE] -= 1
    mask = table.shape[0] - 1
    hole = position
    table[hole] = _EMPTY_SLOT
    j = hole
    while True:
        j = (j + 1) & mask
        if table[j] == _EMPTY_SLOT:
            return
        home = np.int64((key0[table[j]] >> np.uint64(1)) & np.uint64(mask))
        stays = (hole < home <= j) if hole <= j else (hole < home or home <= j)
        if not stays:
            table[hole] = table[j]
            table[j] = _EMPTY_SLOT
            hole = j


@jit
def _fec_lookup(table, key0, key1, fit, hits, prev, nxt, free, counters, max_hits, k0, k1):
    """FunctionalEquivalenceCache.lookup: the fitness, or -1.0 for a miss (a used-up entry is dropped)."""
    position = _fec_find(table, key0, key1, k0, k1)
    if position >= 0 and hits[table[position]] >= max_hits:
        _fec_remove(table, key0, key1, prev, nxt, free, counters, position)
        position = -1
    if position < 0:
        counters[C_MISSES] += 1
        return -1.0
    slot = table[position]
    hits[slot] += 1
    _fec_unlink(prev, nxt, slot)
    _fec_append(prev, nxt, slot)
    counters[C_HITS] += 1
    return fit[slot]


@jit
def _fec_insert(table, key0, key1, fit, hits, prev, nxt, free, counters, capacity, k0, k1, fitness):
    """FunctionalEquivalenceCache.insert: remember, most recent; the least recently used out past capacity."""
    position = _fec_find(table, key0, key1, k0, k1)
    if position >= 0:
        slot = table[position]
        _fec_unlink(prev, nxt, slot)
    else:
        counters[C_FEC_FREE] -= 1
        slot = free[counters[C_FEC_FREE]]
        table[-position - 1] = slot
        key0[slot], key1[slot] = k0, k1
        counters[C_FEC_SIZE] += 1
    fit[slot] = fitness
    hits[slot] = 0
    _fec_append(prev, nxt, slot)
    sentinel = prev.shape[0] - 1
    while counters[C_FEC_SIZE] > capacity:
        oldest = nxt[sentinel]
        _fec_remove(
            table,
            key0,
            key1,
            prev,
            nxt,
            free,
            counters,
            _fec_find(table, key0, key1, key0[oldest], key1[oldest]),
        )


# -- the search loop --------------------------------------------------------------------------------------
@jit
def _fitness(
    codes,
    consts,
    sizes,
    space,
    pk_codes,
    pk_consts,
    offsets,
    per_task,
    fec,
    counters,
    ints,
    floats,
    tables,
    data,
    classification,
    params,
    fec_params,
):
    """The child's fitness: the FEC signature first, the full evaluation on a miss (ProgramFitness)."""
    n = 0
    for c in range(3):
        offsets[c] = n
        base = space[R_BASE, c]
        for row in range(base, base + sizes[c]):
            pk_codes[n] = codes[row]
            pk_consts[n] = consts[row]
            n += 1
    offsets[3] = n
    table, key0, key1, fit, hits, prev, nxt, free = fec
    k0 = k1 = np.uint64(0)
    if ints[S_FEC]:
        digest = fec_kernel(
            pk_codes[:n], pk_consts[:n], offsets, tables, data, classification, fec_params, floats[1]
        )
        k0, k1 = digest[0], digest[1]
        cached = _fec_lookup(
            table, key0, key1, fit, hits, prev, nxt, free, counters, ints[S_MAX_HITS], k0, k1
        )
        if cached >= 0.0:
            return cached
    evaluate_kernel(
        pk_codes[:n],
        pk_consts[:n],
        offsets,
        tables,
        data,
        classification,
        params,
        floats[1],
        per_task,
        np.zeros((0, 0)),
        np.zeros(0),
    )
    counters[C_FULL] += 1
    fitness = combine_kernel(per_task, ints[S_MEDIAN] != 0)
    if ints[S_FEC]:
        _fec_insert(
            table, key0, key1, fit, hits, prev, nxt, free, counters, ints[S_CAPACITY], k0, k1, fitness
        )
    return fitness


@jit
def _remember(codes, consts, sizes, fitness, el_codes, el_consts, el_sizes, el_fit, counters, space):
    """_Search._remember: keep the fittest distinct programs, fittest first (equal fitness: older first)."""
    count, size = counters[C_ELITE], el_fit.shape[0]
    if count == size and fitness <= el_fit[size - 1]:
        return
    for k in range(count):
        if _same(codes, consts, sizes, el_codes[k], el_consts[k], el_sizes[k], space):
            return
    position = 0
    while position < count and el_fit[position] >= fitness:
        position += 1
    last = min(count, size - 1)
    for k in range(last, position, -1):
        el_codes[k] = el_codes[k - 1]
        el_consts[k] = el_consts[k - 1]
        el_sizes[k] = el_sizes[k - 1]
        el_fit[k] = el_fit[k - 1]
    el_codes[position] = codes
    el_consts[position] = consts
    el_sizes[position] = sizes
    el_fit[position] = fitness
    counters[C_ELITE] = min(count + 1, size)


@jit
def _append(codes, consts, sizes, fitness, pop_codes, pop_consts, pop_sizes, pop_fit, counters, population):
    """The newcomer joins as the youngest member; past P the oldest leaves."""
    head, count = counters[C_HEAD], counters[C_COUNT]
    if count < population:
        where = (head + count) % population
        counters[C_COUNT] = count + 1
    else:
        where = head
        counters[C_HEAD] = (head + 1) % population
    pop_codes[where] = codes
    pop_consts[where] = consts
    pop_sizes[where] = sizes
    pop_fit[where] = fitness


@jit
def _select(s, pop_fit, counters, population, tournament):
    """Tournament: the fittest of T members drawn uniformly with replacement (the first drawn wins ties);
    returns its ring index."""
    head, count = counters[C_HEAD], counters[C_COUNT]
    best = -1
    for _ in range(tournament):
        index = (head + _below(s, count)) % population
        if best < 0 or pop_fit[index] > pop_fit[best]:
            best = index
    return best


@jit
def _run(
    count,
    s,
    counters,
    ints,
    floats,
    population,
    elite,
    fec,
    mut_types,
    comp_ops,
    space,
    arg_lo,
    arg_hi,
    n_const,
    gaussian,
    tables,
    data,
    classification,
    params,
    fec_params,
):
    """Evaluate ``count`` individuals (RegularizedEvolution.step or RandomSearch, by ints[S_RANDOM])."""
    pop_codes, pop_consts, pop_sizes, pop_fit = population
    el_codes, el_consts, el_sizes, el_fit = elite
    rows = pop_codes.shape[1]
    codes = np.zeros((rows, 4), dtype=np.int64)
    consts = np.zeros((rows, 2))
    sizes = np.zeros(3, dtype=np.int64)
    pk_codes = np.zeros((rows, 4), dtype=np.int64)
    pk_consts = np.zeros((rows, 2))
    offsets = np.zeros(4, dtype=np.int64)
    per_task = np.empty(data.shape[0])
    size_p = ints[S_POPULATION]
    for _ in range(count):
        if ints[S_RANDOM]:
            _random_program(
                s, codes, consts, sizes, True, False, comp_ops, space, arg_lo, arg_hi, n_const, gaussian
            )
        elif counters[C_EVALUATED] < size_p and counters[C_COUNT] < size_p:
            _random_program(
                s,
                codes,
                consts,
                sizes,
                False,
                ints[S_EMPTY],
                comp_ops,
                space,
                arg_lo,
                arg_hi,
                n_const,
                gaussian,
            )
        else:
            parent = _select(s, pop_fit, counters, size_p, ints[S_TOURNAMENT])
            codes[:] = pop_codes[parent]
            consts[:] = pop_consts[parent]
            sizes[:] = pop_sizes[parent]
            _mutate(
                s,
                codes,
                consts,
                sizes,
                floats[0],
                mut_types,
                comp_ops,
                space,
                arg_lo,
                arg_hi,
                n_const,
                gaussian,
            )
        fitness = _fitness(
            codes,
            consts,
            sizes,
            space,
            pk_codes,
            pk_consts,
            offsets,
            per_task,
            fec,
            counters,
            ints,
            floats,
            tables,
            data,
            classification,
            params,
            fec_params,
        )
        counters[C_EVALUATED] += 1
        _remember(codes, consts, sizes, fitness, el_codes, el_consts, el_sizes, el_fit, counters, space)
        if not ints[S_RANDOM]:
            _append(
                codes, consts, sizes, fitness, pop_codes, pop_consts, pop_sizes, pop_fit, counters, size_p
            )


@jit
def _fec_relink(table, key0, key1, prev, nxt, free, counters, entries):
    """Rebuild the table and recency list from slots 0..entries-1 in least-to-most recent order."""
    table[:] = _EMPTY_SLOT
    sentinel = prev.shape[0] - 1
    prev[sentinel] = nxt[sentinel] = sentinel
    for slot in range(entries):
        position = _fec_find(table, key0, key1, key0[slot], key1[slot])
        table[-position - 1] = slot
        _fec_append(prev, nxt, slot)
    counters[C_FEC_SIZE] = entries
    free_count = 0
    for slot in range(free.shape[0] - 1, entries - 1, -1):
        free[free_count] = slot
        free_count += 1
    counters[C_FEC_FREE] = free_count


# -- the Python face: a Searcher ---------------------------------------------------------------------------
def _tables(space: ProgramSpace) -> dict[str, np.ndarray]:
    """The space as arrays: component rows and sizes, allowed ops, argument ranges and constants per op."""
    n_ops = len(OPS)
    arg_lo = np.zeros((n_ops, 3), dtype=np.int64)
    arg_hi = np.zeros((n_ops, 3), dtype=np.int64)  # 0: argument unused (stays 0)
    for code in range(n_ops):
        for name, low, high in arguments(code, space.memory, space.protect_inputs):
            slot = ("in1", "in2", "out").index(name)
            arg_lo[code, slot], arg_hi[code, slot] = low, high
    widest = max(len(space.ops[name]) for name in COMPONENTS) or 1
    comp_ops = np.zeros((3, widest), dtype=np.int64)
    grid = np.zeros((5, 3), dtype=np.int64)
    base = 0
    for c, name in enumerate(COMPONENTS):
        comp_ops[c, : len(space.ops[name])] = space.ops[name]
        grid[:, c] = (
            base,
            space.min_sizes[name],
            space.max_sizes[name],
            space.init_size(name),
            len(space.ops[name]),
        )
        base += space.max_sizes[name]
    return {
        "space": grid,
        "comp_ops": comp_ops,
        "arg_lo": arg_lo,
        "arg_hi": arg_hi,
        "n_const": np.array([spec.constants for spec in OPS], dtype=np.int64),
        "gaussian": np.array([code in GAUSSIAN_OPS for code in range(n_ops)], dtype=np.bool_),
        "rows": np.array([base], dtype=np.int64),
    }


class CompiledSearch:
    """Regularized evolution (``strategy="evolution"``) or random search (``"random"``) in the compiled loop,
    with the Searcher interface of ``evolution.py`` (islands, checkpoints and the experiment use it as they
    use the Python engine). Arguments as ``RegularizedEvolution``, ``Mutator`` and ``ProgramFitness``.
    """

    def __init__(
        self,
        space: ProgramSpace,
        tasks: Any,
        memory: MemoryConfig,
        *,
        strategy: str = "evolution",
        population_size: int = 1000,
        tournament_size: int = 10,
        mutate_prob: float = 0.9,
        mutations: tuple[str, ...] = ("alter_argument",),
        initial: str = "random",
        seed: int = 0,
        elite_size: int = 10,
        combine: str = "mean",
        max_abs_error: float = 100.0,
        rng_seed: int = 0,
        fec: bool = True,
        fec_capacity: int = 100_000,
        fec_max_hits: int = 100,
        fec_train: int = 10,
        fec_valid: int = 10,
    ) -> None:
        if strategy not in ("evolution", "random"):
            raise ConfigError(f"strategy must be 'evolution' or 'random', got {strategy!r}")
        if population_size < 1 or tournament_size < 1:
            raise ConfigError("population_size and tournament_size must be at least 1")
        if initial not in ("random", "empty"):
            raise ConfigError(f"initial population must be 'random' or 'empty', got {initial!r}")
        if elite_size < 1:
            raise ConfigError(f"elite_size must be at least 1, got {elite_size}")
        if (
            strategy == "evolution"
            and initial == "empty"
            and any(space.min_sizes[name] > 0 for name in COMPONENTS)
        ):
            raise ConfigError("initial population 'empty' needs every component's minimum size to be 0")
        if not 0.0 <= mutate_prob <= 1.0:
            raise ConfigError(f"mutate_prob must be in [0, 1], got {mutate_prob}")
        unknown = [name for name in mutations if name not in MUTATION_TYPES]
        if unknown or not mutations:
            raise ConfigError(f"mutation types must be among {', '.join(MUTATION_TYPES)}, got {mutations}")
        if fec_capacity < 1 or fec_max_hits < 1:
            raise ConfigError("FEC capacity and max_hits must be at least 1")
        check_combine(combine)
        batch = task_batch(tasks)
        if memory != space.memory:
            raise ConfigError(f"memory {memory} is not the program space's {space.memory}")
        if memory.dim != batch.dim:
            raise ConfigError(f"memory dim F={memory.dim} but the tasks have {batch.dim} features")
        self.space, self.memory, self.strategy = space, memory, strategy
        self._batch = batch
        self._t = _tables(space)
        rows = int(self._t["rows"][0])
        n_train = max(0, min(fec_train, batch.n_train))
        n_valid = max(0, min(fec_valid, batch.n_valid))
        self._params = kernel_params(
            memory, 1, batch.n_train, batch.n_train, batch.n_valid, rng_seed, False, True
        )
        self._fec_params = kernel_params(memory, 1, batch.n_train, n_train, n_valid, rng_seed, True, True)
        self._mut_types = np.array([MUTATION_TYPES.index(name) for name in mutations], dtype=np.int64)
        self._ints = np.array(
            [
                population_size,
                tournament_size,
                initial == "empty",
                elite_size,
                combine == "median",
                fec,
                fec_capacity,
                fec_max_hits,
                strategy == "random",
            ],
            dtype=np.int64,
        )
        self._floats = np.array([mutate_prob, max_abs_error])
        self.population_size = population_size if strategy == "evolution" else 0
        p = max(self.population_size, 1)
        self._rng = seed_state(seed)
        self._counters = np.zeros(9, dtype=np.int64)
        self._population = (
            np.zeros((p, rows, 4), dtype=np.int64),
            np.zeros((p, rows, 2)),
            np.zeros((p, 3), dtype=np.int64),
            np.zeros(p),
        )
        self._elite = (
            np.zeros((elite_size, rows, 4), dtype=np.int64),
            np.zeros((elite_size, rows, 2)),
            np.zeros((elite_size, 3), dtype=np.int64),
            np.zeros(elite_size),
        )
        capacity = fec_capacity if fec else 1
        cells = 1 << max(4, int(2 * (capacity + 1)).bit_length())
        self._fec = (
            np.full(cells, _EMPTY_SLOT, dtype=np.int64),  # table: position -> slot
            np.zeros(capacity + 1, dtype=np.uint64),  # key0
            np.zeros(capacity + 1, dtype=np.uint64),  # key1
            np.zeros(capacity + 1),  # fitness
            np.zeros(capacity + 1, dtype=np.int64),  # hits
            np.zeros(capacity + 2, dtype=np.int64),  # prev (last index: the sentinel)
            np.zeros(capacity + 2, dtype=np.int64),  # next
            np.zeros(capacity + 1, dtype=np.int64),  # free slots (a stack)
        )
        self._relink(0)

    # -- the Searcher interface -------------------------------------------------------------------------
    @property
    def evaluated(self) -> int:
        return int(self._counters[C_EVALUATED])

    @property
    def best(self) -> Individual | None:
        """The fittest distinct program seen (the elite's first). The Python engine keeps its best apart
        from its elite, so there a program re-measured after its FEC entry expired can count twice; here
        the first fitness recorded for a program stands."""
        elite = self.elite()
        return elite[0] if elite else None

    def run(self, count: int) -> None:
        t = self._t
        _run(
            int(count),
            self._rng,
            self._counters,
            self._ints,
            self._floats,
            self._population,
            self._elite,
            self._fec,
            self._mut_types,
            t["comp_ops"],
            t["space"],
            t["arg_lo"],
            t["arg_hi"],
            t["n_const"],
            t["gaussian"],
            OP_TABLES,
            self._batch.data,
            self._batch.classification,
            self._params,
            self._fec_params,
        )

    def elite(self) -> list[Individual]:
        codes, consts, sizes, fitness = self._elite
        return [
            Individual(self._program(codes[k], consts[k], sizes[k]), float(fitness[k]))
            for k in range(int(self._counters[C_ELITE]))
        ]

    def members(self) -> list[Individual]:
        """The population, oldest first."""
        codes, consts, sizes, fitness = self._population
        ring = (self._counters[C_HEAD] + np.arange(self._counters[C_COUNT])) % max(self.population_size, 1)
        return [Individual(self._program(codes[i], consts[i], sizes[i]), float(fitness[i])) for i in ring]

    def emigrants(self, count: int) -> list[Individual]:
        """Tournament winners sent to another island (they stay here too)."""
        if self.strategy == "random" or self._counters[C_COUNT] == 0:
            return []
        codes, consts, sizes, fitness = self._population
        picks = [
            _select(self._rng, fitness, self._counters, self.population_size, int(self._ints[S_TOURNAMENT]))
            for _ in range(count)
        ]
        return [Individual(self._program(codes[i], consts[i], sizes[i]), float(fitness[i])) for i in picks]

    def immigrate(self, individuals: list[Individual]) -> None:
        """Newcomers join as the youngest members; the oldest leave to keep P."""
        if self.strategy == "random":
            return
        space = self._t["space"]
        for individual in individuals:
            codes, consts, sizes = self._rows(individual.program)
            _remember(codes, consts, sizes, individual.fitness, *self._elite, self._counters, space)
            _append(
                codes,
                consts,
                sizes,
                individual.fitness,
                *self._population,
                self._counters,
                self.population_size,
            )

    def stats(self) -> dict[str, float]:
        counters = self._counters
        result = {
            "evaluated": float(counters[C_EVALUATED]),
            "full_evaluations": float(counters[C_FULL]),
        }
        if counters[C_ELITE]:
            result["best_fitness"] = float(self._elite[3][0])
        if self._ints[S_FEC]:
            result["fec_hits"] = float(counters[C_HITS])
            result["fec_lookups"] = float(counters[C_HITS] + counters[C_MISSES])
        if self.strategy == "evolution" and counters[C_COUNT]:
            ring = (counters[C_HEAD] + np.arange(counters[C_COUNT])) % self.population_size  # oldest first
            result["population_mean"] = float(np.mean(self._population[3][ring]))
        return result

    def state_dict(self) -> dict[str, Any]:
        """Everything as arrays; the cache in least-to-most recent order (slots renumbered)."""
        table, key0, key1, fit, hits, prev, nxt, _ = self._fec
        order, sentinel = [], prev.shape[0] - 1
        slot = int(nxt[sentinel])
        while slot != sentinel:
            order.append(slot)
            slot = int(nxt[slot])
        index = np.array(order, dtype=np.int64)
        return {
            "engine": "compiled",
            "rng": self._rng.copy(),
            "counters": self._counters.copy(),
            "population": tuple(a.copy() for a in self._population),
            "elite": tuple(a.copy() for a in self._elite),
            "fec": (key0[index].copy(), key1[index].copy(), fit[index].copy(), hits[index].copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("engine") != "compiled":
            raise ConfigError(
                "this checkpoint was written by the Python search engine; resume it with engine=python"
            )
        self._rng[:] = state["rng"]
        self._counters[:] = state["counters"]
        for mine, saved in zip(
            self._population + self._elite, state["population"] + state["elite"], strict=True
        ):
            mine[...] = saved
        keys0, keys1, fits, hits = state["fec"]
        entries = len(keys0)
        self._fec[1][:entries], self._fec[2][:entries] = keys0, keys1
        self._fec[3][:entries], self._fec[4][:entries] = fits, hits
        self._relink(entries)

    # -- helpers ----------------------------------------------------------------------------------------
    def _relink(self, entries: int) -> None:
        table, key0, key1, _, _, prev, nxt, free = self._fec
        _fec_relink(table, key0, key1, prev, nxt, free, self._counters, entries)

    def _program(self, codes: np.ndarray, consts: np.ndarray, sizes: np.ndarray) -> Program:
        space = self._t["space"]
        parts = []
        for c in range(3):
            base = int(space[R_BASE, c])
            parts.append(
                tuple(
                    Instruction(
                        int(op), int(a), int(b), int(o), (float(consts[row, 0]), float(consts[row, 1]))
                    )
                    for row in range(base, base + int(sizes[c]))
                    for op, a, b, o in (codes[row].tolist(),)
                )
            )
        return Program(*parts)

    def _rows(self, program: Program) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.space.check(program)
        rows = int(self._t["rows"][0])
        codes, consts = np.zeros((rows, 4), dtype=np.int64), np.zeros((rows, 2))
        sizes = np.zeros(3, dtype=np.int64)
        packed_codes, packed_consts, offsets = program.arrays
        for c in range(3):
            base, start, end = int(self._t["space"][R_BASE, c]), int(offsets[c]), int(offsets[c + 1])
            codes[base : base + end - start] = packed_codes[start:end]
            consts[base : base + end - start] = packed_consts[start:end]
            sizes[c] = end - start
        return codes, consts, sizes
