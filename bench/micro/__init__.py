"""Per-layer micro-benchmarks, each run in its own process by ``python -m bench layers``."""
