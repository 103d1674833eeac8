"""AutoML-Zero (Real, Liang, So & Le, ICML 2020): evolving whole learning algorithms from basic math.

ops: the op table OP0..OP64; program: instructions, programs, memory sizes; kernels: the compiled
evaluation (numba); interpreter: the compiled evaluation of one program; readable: the op semantics and
protocol written for reading (the exported programs and the reference evaluator run them); stream: the
search's random stream; mutation, evolution, fec: the search in Python; compiled: the same search in
numba; tasks: task families.
"""
