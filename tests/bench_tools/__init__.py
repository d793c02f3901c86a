"""Tests of the benchmark tooling in bench/ (parsers, counters, report writer, one worker run)."""
