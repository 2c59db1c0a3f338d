"""Benchmarks: ``run.py`` (end to end, processes and sockets), ``micro.py`` (hot path, no I/O)."""
