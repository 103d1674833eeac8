"""AutoML-Zero (Real, Liang, So & Le, ICML 2020): evolving whole learning algorithms from basic math.

ops: the op table OP0..OP64; program: instructions, programs, memory sizes; interpreter: the compiled
evaluator (numba); reference: a plain-numpy interpreter with identical results; tasks: task families.
"""
