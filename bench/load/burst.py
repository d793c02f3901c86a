"""``python -m bench load burst``: 1,000 simultaneous connections to the demo on a healthy Redis.

Starts a throwaway ``redis-server`` and ``python -m asgi_guard demo --redis URL`` (real uvicorn, one
worker), then opens ``--connections`` connections at once with httpx (one ``GET /health`` each, behind
the demo's per-IP limit checked in Redis), ``--rounds`` times, flushing Redis between rounds so every
request is checked there and none is refused by the limit itself. Bounded: every request has a
timeout, the run has a wall-clock limit. The figure that matters is the number of 503s (the limiter
refusing for its own load while Redis is healthy): the target is 0. Results go to the ``burst``
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

import httpx
import redis

from bench.harness import report
from tests.redis_servers import RedisServer, free_port


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench load burst", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000, help="simultaneous connections per burst")
    parser.add_argument("--rounds", type=int, default=5, help="bursts")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--path", default="/health", help="the demo route each connection asks for")
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing RESULTS.md")
    return parser.parse_args(argv)


def start_demo(port: int, redis_url: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "asgi_guard", "demo", "--port", str(port), "--redis", redis_url]
    log = open(os.environ["BURST_LOG"], "wb") if os.environ.get("BURST_LOG") else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(command, stdout=log, stderr=log)


def wait_ready(url: str, deadline: float = 30.0) -> None:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the demo did not answer at {url} within {deadline}s")


class Round:
    """One burst: statuses (or the transport error's name) and latencies."""

    def __init__(self) -> None:
        self.outcomes: Counter[int | str] = Counter()
        self.latencies: list[float] = []
        self.wall = 0.0

    def row(self, number: int) -> str:
        statuses = self.outcomes
        other = sum(count for key, count in statuses.items() if key not in (200, 429, 503))
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        p99 = sorted(self.latencies)[int(len(self.latencies) * 0.99) - 1] * 1000 if self.latencies else 0.0
        return (
            f"| {number} | {statuses[200]} | {statuses[429]} | {statuses[503]} | {other} "
            f"| {self.wall:.2f} | {p50:.0f} | {p99:.0f} |"
        )


async def burst(url: str, path: str, connections: int, timeout: float) -> Round:
    result = Round()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        gate = asyncio.Event()

        async def one() -> None:
            await gate.wait()
            started = time.monotonic()
            try:
                response = await client.get(path)
            except httpx.HTTPError as exc:
                result.outcomes[type(exc).__name__] += 1
                return
            result.latencies.append(time.monotonic() - started)
            result.outcomes[response.status_code] += 1

        tasks = [asyncio.ensure_future(one()) for _ in range(connections)]
        await asyncio.sleep(0)
        started = time.monotonic()
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout * 2)
        result.wall = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = RedisServer().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    demo = start_demo(port, server.url)
    rounds: list[Round] = []
    try:
        wait_ready(url)
        with redis.Redis.from_url(server.url) as control:
            for number in range(1, args.rounds + 1):
                control.flushall()  # a full per-IP bucket: only the limiter's own failures can refuse
                rounds.append(asyncio.run(burst(url, args.path, args.connections, args.timeout)))
                print(rounds[-1].row(number), flush=True)
    finally:
        demo.terminate()
        demo.wait(timeout=10)
        server.stop()
    refused = sum(result.outcomes[503] for result in rounds)
    lines = [
        f"## Burst: {args.connections:,} simultaneous connections to the demo on Redis (`python -m bench load burst`)",
        "",
        *report.machine("python -m bench load burst"),
        "",
        "`python -m asgi_guard demo --redis URL` under uvicorn (one worker) against a healthy throwaway",
        f"redis-server; each round opens {args.connections:,} connections at once (httpx), one `GET {args.path}`",
        "each (the demo's per-IP limit, checked in Redis); Redis is flushed between rounds so the limit",
        "itself refuses nothing. A 503 is the limiter failing for its own load.",
        "",
        "| round | 200 | 429 | 503 | other | wall s | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(result.row(number) for number, result in enumerate(rounds, 1)),
        "",
        f"Responses 503 in all rounds: **{refused}** (target: 0).",
    ]
    text = "\n".join(lines)
    if args.no_write:
        print(text)
    else:
        report.replace_section("burst", text)
        print(f"wrote {report.RESULTS}")
    return 0 if refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
