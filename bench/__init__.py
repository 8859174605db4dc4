"""Benchmarks: `python -m bench NAME`. Each measures against a baseline in the same run and
prints one JSON line last; machines are noisy, so compare ratios, not absolute figures."""
