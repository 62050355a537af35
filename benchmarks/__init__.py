"""Benchmarks (`just bench <target>`): each prints its figures next to an in-run baseline."""
