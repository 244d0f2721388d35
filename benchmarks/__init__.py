"""Benchmarks that print figures (never timed tests): `make bench` runs them all through `run_all.py`."""
