"""Evaluators: how good an architecture is (trained child networks or table lookups)."""
