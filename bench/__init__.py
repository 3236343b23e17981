"""Benchmarks: each prints its figures, against a baseline measured in the same run, as a final JSON line."""
