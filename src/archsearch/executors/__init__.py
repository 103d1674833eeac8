"""Executors: where evaluations run (inline, a local process pool; Ray in a later step)."""
