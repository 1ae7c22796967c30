"""Benchmark scripts (run by hand, never as timed tests)."""
