"""Where the time goes: pyinstrument trees, per-layer steps, before/after comparisons of two trees."""
