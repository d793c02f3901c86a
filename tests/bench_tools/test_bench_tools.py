"""The benchmark tooling parses, counts and writes what it claims to."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.harness.inproc import StackResult
from bench.harness.inproc import run as run_inproc
from bench.harness.redis_count import delta, split_sample
from bench.harness.registry import Stack, all_stacks
from bench.harness.report import replace_section, targets
from bench.harness.server import parse_wrk

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/api/v1/profile
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.21ms    1.02ms  20.11ms   90.00%
  Latency Distribution
     50%    3.01ms
     75%    3.50ms
     90%    4.20ms
     99%  812.00us
  73210 requests in 5.00s, 10.1MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  14642.10
Transfer/sec:      2.02MB
"""


def test_parse_wrk_reads_rate_percentiles_and_failures() -> None:
    """req/s, p50 and p99 (in ms, whatever unit wrk printed), completed requests and non-2xx are read."""
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed == {"rps": 14642.10, "p50_ms": 3.01, "p99_ms": 0.812, "requests": 73210.0, "non_2xx": 12.0}


def test_commandstats_delta_per_request_excludes_the_instruments() -> None:
    """Commands and read events are divided by the request count; INFO itself and handshakes are not counted."""
    before = {"cmdstat_evalsha": {"calls": 10}, "cmdstat_info": {"calls": 3}, "total_reads_processed": 100}
    after = {
        "cmdstat_evalsha": {"calls": 110},
        "cmdstat_get": {"calls": 100},
        "cmdstat_info": {"calls": 4},
        "cmdstat_client|setinfo": {"calls": 2},
        "total_reads_processed": 201,
    }
    counts = delta(before, after, 100)
    assert counts.by_command == {"evalsha": 1.0, "get": 1.0}
    assert counts.commands == 2.0
    assert counts.round_trips == 1.0


def test_monitor_sample_separates_client_and_script_commands() -> None:
    """MONITOR lines from ``lua`` count as in-script commands, the rest as the client's."""
    sample = [("127.0.0.1:5000", "evalsha"), ("lua", "get"), ("lua", "set"), ("127.0.0.1:5000", "echo")]
    client, script, detail = split_sample(sample, 1)
    assert (client, script) == (1.0, 2.0)
    assert detail == {"client:evalsha": 1, "lua:get": 1, "lua:set": 1}


def test_replace_section_keeps_the_other_sections(tmp_path: Path) -> None:
    """Writing one section of RESULTS.md replaces only that section."""
    path = tmp_path / "RESULTS.md"
    replace_section("bench", "first", path)
    replace_section("load-faults", "faults", path)
    replace_section("bench", "second", path)
    text = path.read_text()
    assert "second" in text
    assert "first" not in text
    assert "faults" in text
    assert text.count("<!-- section:bench -->") == 1


def test_inproc_run_measures_a_stack_and_reports_a_missing_one() -> None:
    """A worker process builds the bare app and returns per-request timings; a stack whose factory fails
    is reported as not available rather than failing the run."""
    stacks = all_stacks()
    missing = Stack("no such stack", "test", stacks["bare Starlette"].build)  # unknown to the worker process
    chosen = [stacks["bare Starlette"], stacks["asgi_guard foundation only"], missing]
    results = run_inproc(chosen, redis_url=None, repeats=1, seconds=0.01, concurrencies=(1,), progress=lambda *_: None)
    bare = results["bare Starlette"]
    assert bare.error is None
    assert bare.median_us(1) is not None
    assert bare.median_us(1) > 0
    assert bare.median_ratio(1) == 1.0
    assert set(bare.statuses) == {"200"}
    foundation = results["asgi_guard foundation only"]
    assert foundation.error is None
    assert "EventsConfig" in foundation.layers
    assert results["no such stack"].error is not None
    assert results["no such stack"].median_us(1) is None


def test_targets_are_checked_from_the_same_run() -> None:
    """Ratios come from the run's own medians; a target with a side missing reads n/a, never met."""
    stacks = all_stacks()

    def result(name: str, us: float) -> StackResult:
        found = StackResult(stacks[name])
        found.ns[1] = [us * 1000]
        return found

    inproc = {
        "bare Starlette": result("bare Starlette", 10.0),
        "asgi_guard full (memory)": result("asgi_guard full (memory)", 15.0),
        "floor: bare + raw EVALSHA": result("floor: bare + raw EVALSHA", 100.0),
        "asgi_guard full (redis)": result("asgi_guard full (redis)", 130.0),
    }
    rows = targets(inproc, {}, (1,))
    assert "| c=1: full (memory) cost / bare | 1.50x | ≤ 2.5x | met |" in rows
    assert "| c=1: full (redis) cost / bare+EVALSHA floor | 1.30x | ≤ 1.15x | MISSED |" in rows
    assert "| c=1: BaseHTTPMiddleware x4 cost / full (redis) | n/a | ≥ 6.0x | n/a |" in rows


def test_one_command_dispatches_every_subcommand() -> None:
    """``python -m bench`` maps each subcommand (and kind) to the module it runs; no subcommand is ``run``."""
    import importlib.util

    from bench.__main__ import COMMANDS, KINDS, resolve

    assert resolve([]) == ("bench.harness.run", "python -m bench", [])
    assert resolve(["--quick"]) == ("bench.harness.run", "python -m bench", ["--quick"])
    assert resolve(["load", "burst", "--rounds", "1"]) == (
        "bench.load.burst",
        "python -m bench load burst",
        ["--rounds", "1"],
    )
    assert resolve(["profile", "asgi_guard full (memory)"])[0] == "bench.profiling.tree"
    modules = [*COMMANDS.values(), *(module for kinds in KINDS.values() for module in kinds.values())]
    assert all(importlib.util.find_spec(module) is not None for module in modules)
    names = {path.stem for path in Path("bench").rglob("*.py")} | {path.name for path in Path("bench").iterdir()}
    assert not names & set(sys.stdlib_module_names)  # no module (or folder) named after a stdlib one
