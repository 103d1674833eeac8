"""Benchmark runners behind `archsearch bench`: many seeded searches on tabular benchmarks."""
