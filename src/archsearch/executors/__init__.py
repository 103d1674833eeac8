"""Executors: where evaluations run (inline, a local process pool, a Ray cluster)."""
