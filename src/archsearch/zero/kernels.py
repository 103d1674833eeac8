"""The compiled AutoML-Zero kernels (numba): evaluation of a program on a batch of tasks, its FEC hash,
and the combination of per-task fitness. ``interpreter.py`` calls them for one program; the compiled
search engine (``compiled.py``) calls them from its own loop.

Inside the kernel the memory is one flat float64 array [scalars | vectors | matrices (row-major)] and
each instruction's addresses are resolved once to flat offsets; ops that differ only in operand size
(vector/matrix element-wise ops, norms, means, stds, constant and random fills) share one loop over n
entries. Dead instructions (whose results can reach no prediction; ``Program.live_mask``) are dropped
before running, which leaves every prediction bit-identical and makes random programs several times
faster. Random ops draw from the kernel's own MT19937 stream with numpy's RandomState semantics.

Arithmetic is IEEE (division by zero gives inf, log of a negative NaN); reductions sum in index order
(row-major for matrices), as the readable semantics (``readable.py``) does operation for operation.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from archsearch.zero.ops import OPS, Kind
from archsearch.zero.program import MemoryConfig

MIN_FITNESS = 0.0
DEFAULT_MAX_ABS_ERROR = 100.0  # early stop on runaway programs (code)
COMBINE_MODES = ("median", "mean")
SEED_STRIDE = 1_000_003  # separates the per-task random streams of consecutive rng_seeds
# FEC hashes error values with their float64 mantissa cut to 23 bits (about 7 significant digits).
FEC_MANTISSA_MASK = np.int64(~((1 << 29) - 1))
_CANONICAL_NAN = np.array([np.nan]).view(np.int64)[0]

# Decoding tables for the kernel, one row per op code.
# _KINDS[op] = kinds of (in1, in2, out), -1 where unused; _INDICES[op] = index parameters (OP57/58).
_KINDS = np.full((len(OPS), 3), -1, dtype=np.int64)
for _spec in OPS:
    for _slot, _kind in enumerate(_spec.inputs):
        _KINDS[_spec.code, _slot] = int(_kind)
    if _spec.output is not None:
        _KINDS[_spec.code, 2] = int(_spec.output)
_INDICES = np.array([spec.indices for spec in OPS], dtype=np.int64)
# _HANDLER[op] = the op whose loop runs it; _SIZE[op] = entries it touches: 1, F (-1) or F*F (-2).
_SHARED = {
    17: 16, 29: 18, 30: 20, 34: 21, 38: 22, 39: 23, 40: 24, 41: 25, 42: 26,
    46: 45, 49: 48, 51: 50, 55: 54, 57: 56, 58: 56, 59: 60, 61: 60, 62: 63, 64: 63,
}  # fmt: skip
_HANDLER = np.array([_SHARED.get(code, code) for code in range(len(OPS))], dtype=np.int64)
_SIZE = np.ones(len(OPS), dtype=np.int64)
for _spec in OPS:
    _operand = _spec.output if _spec.code not in (21, 34, 50, 51, 54, 55) else _spec.inputs[0]
    if _spec.code not in (56, 57, 58, 59, 62):
        _SIZE[_spec.code] = {Kind.SCALAR: 1, Kind.VECTOR: -1, Kind.MATRIX: -2}.get(_operand, 1)  # type: ignore[arg-type]
OP_TABLES = np.ascontiguousarray(np.column_stack([_KINDS, _INDICES, _HANDLER, _SIZE]), dtype=np.int64)

# Kernel parameters (an int64 array, so the compiled call unboxes few arguments).
P_SCALARS, P_VECTORS, P_MATRICES, P_EPOCHS, P_TRAIN_TOTAL, P_TRAIN, P_VALID, P_SEED, P_RECORD, P_PRUNE = (
    range(10)
)


# ---------------------------------------------------------------------------------------------------
# The compiled kernel.
# ---------------------------------------------------------------------------------------------------

# error_model="numpy": IEEE inf/NaN on division by zero instead of an exception.
jit = numba.njit(cache=True, error_model="numpy", nogil=True)
# Small helpers called per draw are inlined in numba's IR: a call passing arrays costs more than a draw.
jit_inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")


@jit
def _backward(codes, tables, lo, hi, live_after, keep):
    """Liveness through instructions lo..hi-1 (backwards): ``live_after`` (address ids 3 * address + kind)
    becomes the live set before them; instructions whose output is live get ``keep[k] = 1``."""
    for k in range(hi - 1, lo - 1, -1):
        op = codes[k, 0]
        kind = tables[op, 2]
        if kind < 0:
            continue
        written = 3 * codes[k, 3] + kind
        if live_after[written] == 0:
            continue
        keep[k] = 1
        if tables[op, 3] == 0:  # OP57/58 change one entry: the rest of the output stays live
            live_after[written] = 0
        for slot in range(2):
            kind = tables[op, slot]
            if kind >= 0:
                live_after[3 * codes[k, 1 + slot] + kind] = 1


@jit
def live_instructions(codes, offsets, tables, n_ids, keep):
    """Mark live instructions in ``keep`` (the compiled twin of ``Program.live_mask``, same rules): those
    whose result can reach s1 after a Predict, over Setup, then Predict/Learn pairs, then Predicts."""
    for k in range(codes.shape[0]):
        keep[k] = 0
    in_predict = np.zeros(n_ids, dtype=np.int64)
    in_learn = np.zeros(n_ids, dtype=np.int64)
    work = np.zeros(n_ids, dtype=np.int64)
    while True:
        changed = False
        # Before Predict: the harness sets s0 (id 0) and v0 (id 1); after it, it reads s1 (id 3).
        for i in range(n_ids):
            work[i] = (in_predict[i] | in_learn[i]) if i > 1 else 0
        work[3] = 1
        _backward(codes, tables, offsets[1], offsets[2], work, keep)
        for i in range(n_ids):
            if work[i] != in_predict[i]:
                changed = True
                in_predict[i] = work[i]
        for i in range(n_ids):
            work[i] = in_predict[i] if i > 1 else 0
        _backward(codes, tables, offsets[2], offsets[3], work, keep)
        for i in range(n_ids):
            if work[i] != in_learn[i]:
                changed = True
                in_learn[i] = work[i]
        if not changed:
            break
    for i in range(n_ids):
        work[i] = in_predict[i] if i > 1 else 0
    _backward(codes, tables, offsets[0], offsets[1], work, keep)
    any_random = False
    for k in range(codes.shape[0]):
        if keep[k] != 0 and codes[k, 0] >= 59:
            any_random = True
    if any_random:  # one random stream: a live draw needs every earlier draw
        for k in range(codes.shape[0]):
            if codes[k, 0] >= 59:
                keep[k] = 1


@jit
def _decode(
    codes, constants, offsets, prune, tables, n_scalars, n_vectors, n_matrices, dim, decoded, kept, bounds
):
    """Check every instruction against the memory, then resolve each live one (all when not ``prune``) to
    (handler, in1 offset, in2 offset, out offset, size) in the flat memory: rows of ``decoded``, constants
    in ``kept``, component bounds in ``bounds``. Returns False when an op, address or index does not fit."""
    counts = (n_scalars, n_vectors, n_matrices)
    bases = (0, n_scalars, n_scalars + n_vectors * dim)
    sizes = (1, dim, dim * dim)
    for k in range(codes.shape[0]):
        op = codes[k, 0]
        if op < 0 or op >= tables.shape[0]:
            return False
        for slot in range(3):
            kind = tables[op, slot]
            if kind >= 0 and (codes[k, 1 + slot] < 0 or codes[k, 1 + slot] >= counts[kind]):
                return False
        for slot in range(tables[op, 3]):
            if codes[k, 1 + slot] < 0 or codes[k, 1 + slot] >= dim:
                return False
    live = np.ones(codes.shape[0], dtype=np.int64)
    if prune:
        live_instructions(codes, offsets, tables, 3 * max(n_scalars, n_vectors, n_matrices), live)
    row = 0
    component = 0
    for k in range(codes.shape[0] + 1):
        while component < 4 and offsets[component] == k:
            bounds[component] = row
            component += 1
        if k == codes.shape[0] or live[k] == 0:
            continue
        op = codes[k, 0]
        for slot in range(3):
            kind = tables[op, slot]
            decoded[row, 1 + slot] = 0 if kind < 0 else bases[kind] + codes[k, 1 + slot] * sizes[kind]
        if tables[op, 3] == 1:
            decoded[row, 3] += codes[k, 1]
        elif tables[op, 3] == 2:
            decoded[row, 3] += codes[k, 1] * dim + codes[k, 2]
        decoded[row, 0] = tables[op, 4]
        size = tables[op, 5]
        decoded[row, 4] = dim if size == -1 else (dim * dim if size == -2 else size)
        kept[row, 0] = constants[k, 0]
        kept[row, 1] = constants[k, 1]
        row += 1
    return True


@jit
def _minimum(x, y):
    """np.minimum: NaN if either is NaN."""
    return y if (y < x or y != y) else x


@jit
def _maximum(x, y):
    """np.maximum: NaN if either is NaN."""
    return y if (y > x or y != y) else x


@jit
def _mean_std(mem, a, stride, count, want_std):
    """Mean, or population std, of mem[a], mem[a + stride], ... (count entries), summed in order."""
    mean = 0.0
    for i in range(count):
        mean += mem[a + i * stride]
    mean = mean / count
    if not want_std:
        return mean
    acc = 0.0
    for i in range(count):
        d = mem[a + i * stride] - mean
        acc += d * d
    return math.sqrt(acc / count)


@jit
def _norm(mem, a, stride, count):
    acc = 0.0
    for i in range(count):
        x = mem[a + i * stride]
        acc += x * x
    return math.sqrt(acc)


# Random ops draw from MT19937 with numpy's legacy RandomState semantics (seeding of an int seed, 53-bit
# doubles, the polar Gaussian with its cached second value), so numpy.random.RandomState(seed) reproduces
# every draw; the state lives in the kernel's own arrays (no global generator is touched).
_MT_N, _MT_M = 624, 397


@jit
def _mt_seed(mt, seed, rng_state):
    x = seed & 0xFFFFFFFF
    for pos in range(_MT_N):
        mt[pos] = x
        x = (1812433253 * (x ^ (x >> 30)) + pos + 1) & 0xFFFFFFFF
    rng_state[0] = _MT_N  # next draw regenerates the block
    rng_state[1] = 0  # no cached gaussian


@jit_inline
def _mt_next(mt, rng_state):
    if rng_state[0] >= _MT_N:
        for i in range(_MT_N):
            y = (mt[i] & 0x80000000) | (mt[i + 1 if i + 1 < _MT_N else 0] & 0x7FFFFFFF)
            j = i + _MT_M
            v = mt[j if j < _MT_N else j - _MT_N] ^ (y >> 1)
            mt[i] = v ^ 0x9908B0DF if y & 1 else v
        rng_state[0] = 0
    y = mt[rng_state[0]]
    rng_state[0] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    return y ^ (y >> 18)


@jit_inline
def _random_double(mt, rng_state):
    high = _mt_next(mt, rng_state) >> 5
    low = _mt_next(mt, rng_state) >> 6
    return (high * 67108864.0 + low) / 9007199254740992.0


@jit_inline
def _standard_normal(mt, rng_state, gauss):
    if rng_state[1]:
        rng_state[1] = 0
        return gauss[0]
    while True:
        x1 = 2.0 * _random_double(mt, rng_state) - 1.0
        x2 = 2.0 * _random_double(mt, rng_state) - 1.0
        r2 = x1 * x1 + x2 * x2
        if r2 < 1.0 and r2 != 0.0:
            break
    f = math.sqrt(-2.0 * math.log(r2) / r2)
    gauss[0] = f * x1
    rng_state[1] = 1
    return f * x2


@jit
def _fill_uniform(mem, c, n, low, high, mt, rng_state):
    width = high - low
    for i in range(n):
        mem[c + i] = low + width * _random_double(mt, rng_state)


@jit
def _fill_normal(mem, c, n, mean, std, mt, rng_state, gauss):
    for i in range(n):
        mem[c + i] = mean + std * _standard_normal(mt, rng_state, gauss)


@jit
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@jit
def evaluate_kernel(
    codes,
    constants,
    offsets,
    tables,
    data,
    classification,
    params,
    max_abs_error,
    fitness,
    errors,
    final,
):
    """Fitness of one program on every task (SPEC.md 4.3/4.4) into ``fitness``; False if the program does
    not fit the memory. With params[P_PRUNE] dead instructions are skipped. With params[P_RECORD] the
    error y - s1 of each training step (before Learn) and validation example goes to ``errors`` (NaN where
    never reached). ``final`` receives the last task's memory at its end when it has the memory's size.

    Each task is a flat sequence of component runs (Setup; Predict, Learn per training example and
    epoch; Predict per validation example) with the dispatch written once, which keeps compile time low.
    """
    n_scalars = params[P_SCALARS]
    dim = data.shape[2] - 1
    decoded = np.empty((codes.shape[0], 5), dtype=np.int64)
    kept = np.empty((codes.shape[0], 2))
    bounds = np.zeros(4, dtype=np.int64)
    if not _decode(
        codes,
        constants,
        offsets,
        params[P_PRUNE] != 0,
        tables,
        n_scalars,
        params[P_VECTORS],
        params[P_MATRICES],
        dim,
        decoded,
        kept,
        bounds,
    ):
        return False
    use_random = False
    for k in range(bounds[3]):
        if decoded[k, 0] == 60 or decoded[k, 0] == 63:
            use_random = True
    mem = np.zeros(n_scalars + params[P_VECTORS] * dim + params[P_MATRICES] * dim * dim)
    tmp = np.zeros(dim * dim)
    mt = np.zeros(
        _MT_N, dtype=np.int64
    )  # the random ops' generator: MT19937 state, position, cached gaussian
    rng_state = np.zeros(2, dtype=np.int64)
    gauss = np.zeros(1)
    n_train_total = params[P_TRAIN_TOTAL]
    n_train = params[P_TRAIN]
    n_valid = params[P_VALID]
    record = params[P_RECORD] != 0
    epochs = params[P_EPOCHS]
    for t in range(data.shape[0]):
        for i in range(mem.shape[0]):  # explicit loops: slice assignment costs seconds of compile time
            mem[i] = 0.0
        if use_random:
            _mt_seed(mt, (params[P_SEED] * SEED_STRIDE + t) % 4294967296, rng_state)
        is_class = classification[t] != 0
        total = 0.0
        # The task as a flat sequence of component runs with the dispatch loop written once: Setup;
        # Predict, Learn per training example and epoch; Predict per validation example. Counters, not
        # divisions, advance it: the per-step overhead matters as much as the instructions.
        component = 0  # 0 Setup, 1 Predict (training), 2 Learn, 3 Predict (validation)
        e = 0
        epoch = 0
        while True:
            if component == 0:
                lo, hi = bounds[0], bounds[1]
                y = 0.0
            else:
                row = e if component != 3 else n_train_total + e
                y = data[t, row, dim]
                for i in range(dim):
                    mem[n_scalars + i] = data[t, row, i]
                if component == 2:
                    mem[0] = y  # the label is visible to Learn only
                    lo, hi = bounds[2], bounds[3]
                else:
                    mem[0] = 0.0
                    lo, hi = bounds[1], bounds[2]
            for k in range(lo, hi):
                op = decoded[k, 0]
                a = decoded[k, 1]
                b = decoded[k, 2]
                c = decoded[k, 3]
                n = decoded[k, 4]
                if op == 27:
                    acc = 0.0
                    for i in range(dim):
                        acc += mem[a + i] * mem[b + i]
                    mem[c] = acc
                elif op == 1:
                    mem[c] = mem[a] + mem[b]
                elif op == 2:
                    mem[c] = mem[a] - mem[b]
                elif op == 3:
                    mem[c] = mem[a] * mem[b]
                elif op == 4:
                    mem[c] = mem[a] / mem[b]
                elif op == 5:
                    mem[c] = abs(mem[a])
                elif op == 6:
                    mem[c] = 1.0 / mem[a]
                elif op == 7:
                    mem[c] = math.sin(mem[a])
                elif op == 8:
                    mem[c] = math.cos(mem[a])
                elif op == 9:
                    mem[c] = math.tan(mem[a])
                elif op == 10:
                    mem[c] = math.asin(mem[a])
                elif op == 11:
                    mem[c] = math.acos(mem[a])
                elif op == 12:
                    mem[c] = math.atan(mem[a])
                elif op == 13:
                    mem[c] = math.exp(mem[a])
                elif op == 14:
                    mem[c] = math.log(mem[a])
                elif op == 15:
                    mem[c] = 1.0 if mem[a] >= 0.0 else 0.0
                elif op == 16:
                    for i in range(n):
                        mem[c + i] = 1.0 if mem[a + i] > 0.0 else 0.0
                elif op == 18:
                    x = mem[a]
                    for i in range(n):
                        mem[c + i] = x * mem[b + i]
                elif op == 19:
                    x = mem[a]
                    for i in range(n):
                        mem[c + i] = x
                elif op == 20:
                    for i in range(n):
                        mem[c + i] = 1.0 / mem[a + i]
                elif op == 21:
                    mem[c] = _norm(mem, a, 1, n)
                elif op == 22:
                    for i in range(n):
                        mem[c + i] = abs(mem[a + i])
                elif op == 23:
                    for i in range(n):
                        mem[c + i] = mem[a + i] + mem[b + i]
                elif op == 24:
                    for i in range(n):
                        mem[c + i] = mem[a + i] - mem[b + i]
                elif op == 25:
                    for i in range(n):
                        mem[c + i] = mem[a + i] * mem[b + i]
                elif op == 26:
                    for i in range(n):
                        mem[c + i] = mem[a + i] / mem[b + i]
                elif op == 28:
                    for i in range(dim):
                        for j in range(dim):
                            mem[c + i * dim + j] = mem[a + i] * mem[b + j]
                elif op == 31:
                    for i in range(dim):
                        acc = 0.0
                        for j in range(dim):
                            acc += mem[a + i * dim + j] * mem[b + j]
                        tmp[i] = acc
                    for i in range(dim):
                        mem[c + i] = tmp[i]
                elif op == 32:
                    for i in range(dim):
                        for j in range(dim):
                            mem[c + i * dim + j] = mem[a + i]
                elif op == 33:
                    for i in range(dim):
                        for j in range(dim):
                            mem[c + i * dim + j] = mem[a + j]
                elif op == 35:
                    for j in range(dim):
                        tmp[j] = _norm(mem, a + j, dim, dim)
                    for j in range(dim):
                        mem[c + j] = tmp[j]
                elif op == 36:
                    for i in range(dim):
                        tmp[i] = _norm(mem, a + i * dim, 1, dim)
                    for i in range(dim):
                        mem[c + i] = tmp[i]
                elif op == 37:
                    for i in range(dim):
                        for j in range(dim):
                            tmp[i * dim + j] = mem[a + j * dim + i]
                    for i in range(dim * dim):
                        mem[c + i] = tmp[i]
                elif op == 43:
                    # i-q-j order: independent sums in the inner loop, each still summed over q in order.
                    for i in range(dim * dim):
                        tmp[i] = 0.0
                    for i in range(dim):
                        for q in range(dim):
                            x = mem[a + i * dim + q]
                            for j in range(dim):
                                tmp[i * dim + j] += x * mem[b + q * dim + j]
                    for i in range(dim * dim):
                        mem[c + i] = tmp[i]
                elif op == 44:
                    mem[c] = _minimum(mem[a], mem[b])
                elif op == 45:
                    for i in range(n):
                        mem[c + i] = _minimum(mem[a + i], mem[b + i])
                elif op == 47:
                    mem[c] = _maximum(mem[a], mem[b])
                elif op == 48:
                    for i in range(n):
                        mem[c + i] = _maximum(mem[a + i], mem[b + i])
                elif op == 50:
                    mem[c] = _mean_std(mem, a, 1, n, False)
                elif op == 52:
                    for i in range(dim):
                        mem[c + i] = _mean_std(mem, a + i * dim, 1, dim, False)
                elif op == 53:
                    for i in range(dim):
                        mem[c + i] = _mean_std(mem, a + i * dim, 1, dim, True)
                elif op == 54:
                    mem[c] = _mean_std(mem, a, 1, n, True)
                elif op == 56:
                    mem[c] = kept[k, 0]
                elif op == 60:
                    _fill_uniform(mem, c, n, kept[k, 0], kept[k, 1], mt, rng_state)
                elif op == 63:
                    _fill_normal(mem, c, n, kept[k, 0], kept[k, 1], mt, rng_state, gauss)
            if component == 1 or component == 3:
                if is_class:
                    mem[1] = _sigmoid(mem[1])
                if record and (component == 3 or epoch == 0):
                    errors[t, e if component == 1 else n_train + e] = y - mem[1]
                if component == 1:
                    if not abs(y - mem[1]) <= max_abs_error:
                        total = math.nan  # early stop on a runaway program: minimum fitness
                        break
                elif is_class:
                    if mem[1] != mem[1]:
                        total = math.nan
                    elif (mem[1] > 0.5) == (y > 0.5):
                        total += 1.0
                else:
                    total += (y - mem[1]) * (y - mem[1])
            # Advance to the next component run.
            if component == 0:
                component = 1 if n_train > 0 else 3
            elif component == 1:
                component = 2
            elif component == 2:
                e += 1
                component = 1
                if e == n_train:
                    e = 0
                    epoch += 1
                    if epoch == epochs:
                        component = 3
            else:
                e += 1
            if component == 3 and e >= n_valid:
                break
        if final.shape[0] == mem.shape[0]:
            for i in range(mem.shape[0]):
                final[i] = mem[i]
        fitness[t] = 0.0
        if n_valid > 0 and total == total:
            if is_class:
                fitness[t] = total / n_valid
            else:
                rmse = math.sqrt(total / n_valid)
                if rmse < math.inf:
                    fitness[t] = 1.0 - 2.0 / math.pi * math.atan(rmse)
    return True


# The FEC hash's constants as unsigned 64-bit words (numba wraps uint64 arithmetic modulo 2**64).
_FEC_SEEDS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F], dtype=np.uint64)  # the digest's two lanes
_FEC_M1 = np.uint64(0xBF58476D1CE4E5B9)
_FEC_M2 = np.uint64(0x94D049BB133111EB)
_FEC_S1 = np.uint64(30)
_FEC_S2 = np.uint64(31)
_FEC_MASK = np.array([FEC_MANTISSA_MASK]).view(np.uint64)[0]
_FEC_NAN = np.array([_CANONICAL_NAN]).view(np.uint64)[0]
_FEC_ONE = np.uint64(1)


@jit_inline
def _mix64(h, word):
    """One step of the FEC hash: fold a 64-bit word into the state ``h`` (splitmix64 finalizer)."""
    z = (h ^ word) * _FEC_M1
    z = (z ^ (z >> _FEC_S1)) * _FEC_M2
    return z ^ (z >> _FEC_S2)


@jit
def fec_kernel(codes, constants, offsets, tables, data, classification, params, max_abs_error):
    """The FEC signature in one compiled call: run the short evaluation (``params`` with P_RECORD set),
    round each recorded error to FEC_MANTISSA_MASK (-0.0 as 0.0, one NaN pattern, NaN also where an
    early stop left the example unreached) and hash the error bits, preceded by the array's shape, into
    two independent 64-bit lanes. Returns the two lanes, the first 0 when the program does not fit."""
    count = data.shape[0]
    width = params[P_TRAIN] + params[P_VALID]
    fitness = np.empty(count)
    errors = np.full((count, width), np.nan)
    digest = np.zeros(2, dtype=np.uint64)
    if not evaluate_kernel(
        codes,
        constants,
        offsets,
        tables,
        data,
        classification,
        params,
        max_abs_error,
        fitness,
        errors,
        np.empty(0),
    ):
        return digest
    flat = errors.reshape(-1)
    bits = (flat + 0.0).view(np.uint64)  # + 0.0 merges -0.0 into 0.0
    # Two independent lanes in one pass (their multiply chains overlap in the CPU).
    first = _mix64(_mix64(_FEC_SEEDS[0], np.uint64(count)), np.uint64(width))
    second = _mix64(_mix64(_FEC_SEEDS[1], np.uint64(count)), np.uint64(width))
    for i in range(flat.shape[0]):
        word = _FEC_NAN if flat[i] != flat[i] else bits[i] & _FEC_MASK
        first = _mix64(first, word)
        second = _mix64(second, word)
    digest[0] = first | _FEC_ONE  # never 0: 0 answers "does not fit"
    digest[1] = second
    return digest


@jit
def combine_kernel(values, median):
    """Median (middle of the sorted values, or the mean of the two middle ones) or mean (summed left to
    right) of per-task fitness values; the one definition for both search engines."""
    count = values.shape[0]
    if median:
        ordered = np.sort(values)
        middle = count // 2
        return ordered[middle] if count % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])
    total = 0.0
    for t in range(count):
        total += values[t]
    return total / count


@functools.lru_cache(maxsize=256)
def kernel_params(
    memory: MemoryConfig,
    epochs: int,
    n_train_total: int,
    n_train: int,
    n_valid: int,
    rng_seed: int,
    record: bool,
    prune: bool,
) -> np.ndarray:
    """The kernel's int64 parameter array (indexed by the P_* constants); cached, since a search makes
    the same few of them millions of times. Shared by every call: never modified (a read-only flag
    would make numba compile the kernel a second time, for read-only arrays)."""
    params = np.array(
        [
            memory.scalars,
            memory.vectors,
            memory.matrices,
            epochs,
            n_train_total,
            n_train,
            n_valid,
            rng_seed,
            record,
            prune,
        ],
        dtype=np.int64,
    )
    return params
