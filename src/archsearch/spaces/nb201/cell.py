"""The NB201 cell (Dong & Yang 2020, SPEC 7.1-7.2): its operations and edges, in the benchmark's order."""

from __future__ import annotations

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The 5 operations, in the order of the benchmark's 6-digit op codes (SPEC 7.2)."""
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""(source, target) node of each edge, in the order of the NB201 string (SPEC 7.2)."""
EDGE_NAMES = tuple(f"edge_{target}_{source}" for source, target in EDGES)
