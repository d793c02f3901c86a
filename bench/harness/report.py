"""bench/RESULTS.md: the machine, the versions, the tables, and the targets checked from one run.

The file is made of marked sections (``<!-- section:NAME -->`` ... ``<!-- /section:NAME -->``) so
the benchmark run and the load/fault script each replace only their own part.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.harness.inproc import StackResult
    from bench.harness.server import ServerResult

RESULTS = Path(__file__).resolve().parents[1] / "RESULTS.md"
TITLE = (
    "# asgi_guard benchmark results\n\n"
    "Written by `python -m bench` and `python -m bench load faults`; do not edit by hand.\n"
)


def machine(command: str = "python -m bench") -> list[str]:
    """One bullet per fact about the machine and the software."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis_version = "-"
    if shutil.which("redis-server"):
        text = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
        match = re.search(r"v=(\S+)", text)
        redis_version = match.group(1) if match else text.strip()
    wrk_version = "-"
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "-"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- command: `{' '.join([command, *sys.argv[1:]])}`",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs, load average at start {load}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- redis-server {redis_version}; {wrk_version}",
    ]


def replace_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Put ``text`` in section ``name`` of the results file, keeping the other sections."""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    current = path.read_text() if path.exists() else TITLE
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        current = before + block + ("\n" + after if after else "")
    else:
        current = current.rstrip() + "\n\n" + block
    path.write_text(current)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def versions_table(results: dict[str, StackResult]) -> list[str]:
    merged: dict[str, set[str]] = {}
    for result in results.values():
        for dist, version in result.versions.items():
            merged.setdefault(dist, set()).add(version)
    rows = ["| package | version(s) |", "|---|---|"]
    rows += [f"| {dist} | {', '.join(sorted(found))} |" for dist, found in sorted(merged.items())]
    return rows


def inproc_table(results: dict[str, StackResult], concurrencies: tuple[int, ...]) -> list[str]:
    head = "| stack | " + " | ".join(f"µs/req c={c} | x bare c={c}" for c in concurrencies) + " | statuses | note |"
    rows = [head, "|---|" + "---:|---:|" * len(concurrencies) + "---|---|"]
    for name, result in results.items():
        if result.error is not None:
            continue
        cells = []
        for c in concurrencies:
            cells += [_fmt(result.median_us(c)), _fmt(result.median_ratio(c), 2)]
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {statuses} | {result.stack.note} |")
    return rows


def unavailable(results: dict[str, StackResult]) -> list[str]:
    return [f"- **{name}**: {result.error}" for name, result in results.items() if result.error is not None]


def redis_table(results: dict[str, StackResult]) -> list[str]:
    rows = [
        "| stack | commands/req (commandstats) | round trips/req (reads) | client cmds/req (MONITOR) "
        "| in-script cmds/req (MONITOR) | breakdown per request |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, result in results.items():
        counts = result.redis
        if not counts:
            continue
        breakdown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(counts["by_command"].items()))
        rows.append(
            f"| {name} | {_fmt(counts['commands'], 2)} | {_fmt(counts['round_trips'], 2)} "
            f"| {_fmt(counts['client_commands'], 2)} | {_fmt(counts['script_commands'], 2)} | {breakdown} |"
        )
    return rows


def server_table(results: dict[str, ServerResult]) -> list[str]:
    rows = [
        "| stack | req/s (median) | x bare req/s | p50 ms | p99 ms | non-2xx | commands/req | round trips/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        if result.error is not None:
            rows.append(f"| {name} | not available: {result.error} | | | | | | |")
            continue
        rows.append(
            f"| {name} | {_fmt(result.median('rps'), 0)} | {_fmt(result.median_ratio(), 3)} "
            f"| {_fmt(result.median('p50_ms'), 2)} | {_fmt(result.median('p99_ms'), 2)} | {result.non_2xx} "
            f"| {_fmt(result.redis_commands, 2)} | {_fmt(result.redis_round_trips, 2)} |"
        )
    return rows


def _get(results: dict[str, Any], name: str, attr: str, *args: Any) -> float | None:
    result = results.get(name)
    if result is None or getattr(result, "error", None) is not None:
        return None
    value = getattr(result, attr)(*args)
    return None if value is None else float(value)


def targets(
    inproc: dict[str, StackResult], server: dict[str, ServerResult], concurrencies: tuple[int, ...] = (1,)
) -> list[str]:
    """The issue's targets, each checked from this run's numbers (``n/a`` when a side is missing).

    In-process ratios are given at every measured concurrency: coalesced pipelines only pay off when
    requests overlap, so c=1 and c=50 tell different stories."""

    def check(label: str, value: float | None, limit: float, *, at_most: bool, unit: str = "x") -> str:
        wanted = f"{'≤' if at_most else '≥'} {limit}{unit}"
        if value is None:
            return f"| {label} | n/a | {wanted} | n/a |"
        ok = value <= limit if at_most else value >= limit
        return f"| {label} | {value:.2f}{unit} | {wanted} | {'met' if ok else 'MISSED'} |"

    def div(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    rows = ["| target | measured | wanted | verdict |", "|---|---:|---:|---|"]
    for c in concurrencies:
        us = {name: _get(inproc, name, "median_us", c) for name in inproc}
        full_mem, full_redis = us.get("asgi_guard full (memory)"), us.get("asgi_guard full (redis)")
        base_http = us.get("BaseHTTPMiddleware x4 (JWT, community, Redis window, log)")
        rows += [
            check(f"c={c}: full (memory) cost / bare", div(full_mem, us.get("bare Starlette")), 2.5, at_most=True),
            check(
                f"c={c}: full (redis) cost / bare+EVALSHA floor",
                div(full_redis, us.get("floor: bare + raw EVALSHA")),
                1.15,
                at_most=True,
            ),
            check(f"c={c}: BaseHTTPMiddleware x4 cost / full (redis)", div(base_http, full_redis), 6.0, at_most=False),
            check(
                f"c={c}: slowapi (redis, headers) cost / full (redis)",
                div(us.get("slowapi (redis, headers)"), full_redis),
                2.5,
                at_most=False,
            ),
        ]
    rows += [
        check(
            "uvicorn: full (memory), share of bare req/s",
            _get(server, "asgi_guard full (memory)", "median_ratio"),
            0.50,
            at_most=False,
            unit="",
        ),
        check(
            "uvicorn: full (redis), share of bare req/s",
            _get(server, "asgi_guard full (redis)", "median_ratio"),
            0.40,
            at_most=False,
            unit="",
        ),
        check(
            "full (redis): Redis round trips per request",
            _redis_value(inproc, "asgi_guard full (redis)", "round_trips"),
            1.0,
            at_most=True,
            unit="",
        ),
        check(
            "4 limits (redis): round trips per request",
            _redis_value(inproc, "asgi_guard rate limit, 4 limits (redis)", "round_trips"),
            1.0,
            at_most=True,
            unit="",
        ),
        check(
            "Redis revocation check: commands per request",
            _redis_value(inproc, "asgi_guard auth: JWT + Redis revocation", "commands"),
            0.0,
            at_most=True,
            unit="",
        ),
        check(
            "deny-cache denials: Redis commands per request",
            _redis_value(inproc, "asgi_guard rate limit: deny cache (redis)", "commands"),
            0.0,
            at_most=True,
            unit="",
        ),
    ]
    return rows


def _redis_value(results: dict[str, StackResult], name: str, key: str) -> float | None:
    result = results.get(name)
    if result is None or not result.redis:
        return None
    return float(result.redis[key])


__all__ = ("RESULTS", "machine", "replace_section", "targets")
