"""Load and faults: a stack under uvicorn with several workers while Redis is killed, paused, restarted.

``python -m bench load faults`` starts its own Redis (standalone, or ``--cluster`` for a 3-master
Cluster, faults then hit the master holding the loaded keys), serves the stack under uvicorn with
``--workers`` processes, drives bounded concurrent load with httpx through these phases, and
checks each one:

    steady -> kill Redis -> restart Redis (recovery) -> pause Redis (SIGSTOP) -> resume (recovery)

Checks: no 5xx other than the fail-closed 503 (no 500 ever), the app server never stops answering,
no request hangs past the budget, no request is admitted later than a second into an outage (fail
closed, the stacks' default), and every other phase settles at >= 95% 200s again, in every worker,
without restarting the app (the table gives when: the breaker re-probes Redis after 5 s). When the
rate-limit layer is present, a second run hammers one user's
tight limit from every worker at once and checks that the admitted count never exceeds what the
bucket allows across processes (and is not far below it).

The stack defaults to the first available of the full Redis stack, the rate-limit stack, and the
foundation; the report says which layers were active, since a stack without Redis layers proves
only that the app keeps serving. Figures go to the ``load-faults`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

import httpx

from bench.harness import report
from bench.harness.registry import Stack, all_stacks
from bench.harness.server import Server
from bench.load.phases import (
    Phase,
    Verdict,
    check_phases,
    drive,
    faults,
    fmt_statuses,
    request_parts,
    wait_cluster_ok,
)

CANDIDATES = ("asgi_guard full (redis)", "asgi_guard rate limit (redis)", "asgi_guard foundation only")
EXACT_STACK = "asgi_guard exact limit (redis)"


async def run_load(server: Server, spec: dict[str, Any], redis: Any, args: argparse.Namespace) -> list[Phase]:
    phases = [Phase("steady", time.monotonic())]
    stop = asyncio.Event()
    url = server.url + spec["path"]
    await asyncio.gather(drive(url, spec, args.concurrency, phases, stop), faults(redis, args.seconds, phases, stop))
    return phases


async def hammer(
    server: Server, spec: dict[str, Any], total: int, concurrency: int
) -> tuple[Counter[int | str], float]:
    """``total`` requests for one user from ``concurrency`` loops (spread over every worker)."""
    method, headers, body = request_parts(spec)
    url = server.url + spec["path"]
    counts: Counter[int | str] = Counter()
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)  # new connection: any worker
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def lane() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    counts[(await client.request(method, url, headers=headers, content=body)).status_code] += 1
                except httpx.HTTPError as exc:
                    counts[type(exc).__name__] += 1

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return counts, time.monotonic() - started


def exactness(stacks: dict[str, Stack], redis_url: str, args: argparse.Namespace, verdict: Verdict) -> list[str]:
    from bench.stacks.guard import EXACT_RATE

    server = Server(stacks[EXACT_STACK], redis_url, workers=args.workers, cluster=args.cluster)
    try:
        try:
            spec = server.wait_ready()
        except RuntimeError as exc:
            return [f"- exactness across processes: not run, the rate-limit stack is not available ({exc})"]
        limit, per = EXACT_RATE.split("/")
        burst = int(limit)
        per_second = burst / {"second": 1, "minute": 60, "hour": 3600}[per]
        total = burst * 3
        # wait_ready spent one request of the bucket
        counts, elapsed = asyncio.run(hammer(server, spec, total, args.concurrency))
        admitted = counts.get(200, 0) + 1
        ceiling = burst + per_second * elapsed
        verdict.add("exactness: admitted <= burst + refill", admitted <= ceiling, f"{admitted} <= {ceiling:.1f}")
        verdict.add("exactness: admitted >= 90% of the burst", admitted >= 0.9 * burst, f"{admitted} of {burst}")
        five = {k: v for k, v in counts.items() if not isinstance(k, int) or (k >= 500 and k != 503)}
        verdict.add("exactness: no 5xx other than 503, no errors", not five, str(five) if five else "")
        return [
            f"- exactness across {args.workers} processes: {total} requests for one user at concurrency "
            f"{args.concurrency} against {EXACT_RATE}: admitted {admitted} in {elapsed:.2f}s "
            f"(allowed at most {ceiling:.1f}); statuses {fmt_statuses(counts)}",
        ]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load faults", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=None, help=f"stack name (default: first available of {CANDIDATES})")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="length of each phase (longer than the breaker's 5 s reset)"
    )
    parser.add_argument(
        "--cluster", action="store_true", help="a 3-master Redis Cluster; faults hit the master holding the keys"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from tests.redis_servers import RedisCluster, RedisServer

    stacks = all_stacks()
    redis: Any = RedisCluster().start() if args.cluster else RedisServer().start()
    verdict = Verdict()
    lines: list[str] = []
    server: Server | None = None
    try:
        chosen = None
        for name in [args.stack] if args.stack else list(CANDIDATES):
            server = Server(stacks[name], redis.url, workers=args.workers, cluster=args.cluster)
            try:
                spec = server.wait_ready()
            except RuntimeError as exc:
                print(f"  {name}: not available ({str(exc).splitlines()[-1][:200]})")
                server.stop()
                server = None
                continue
            chosen = name
            break
        if chosen is None or server is None:
            print("no stack could be served")
            return 2
        layers = spec.get("layers", [])
        uses_redis = stacks[chosen].redis
        print(f"stack: {chosen}; layers: {layers}; workers: {args.workers}; Redis {'cluster' if args.cluster else ''}")
        phases = asyncio.run(run_load(server, spec, redis, args))
        server.stop()
        server = None
        check_phases(phases, verdict, uses_redis=uses_redis, workers=args.workers)
        topology = "3-master Cluster, faults on the master holding the keys" if args.cluster else "standalone"
        lines += [
            f"- stack: **{chosen}**, active layers: {', '.join(layers) or '-'}",
            f"- uvicorn with {args.workers} workers (httptools, uvloop); load: {args.concurrency} keep-alive "
            f"connections from httpx; Redis: {topology}",
        ]
        if not uses_redis:
            lines.append("- this stack does not talk to Redis: the run shows only that the app keeps serving")
        lines += [
            "",
            "| phase | s | requests | req/s | statuses | p50 ms | p99 ms | first 200 (s) | settled (s) "
            "| workers with 200s (2nd half) |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for phase in phases:
            span = max(phase.end - phase.start, 1e-9)
            p50, p99, first = phase.latency_ms(0.5), phase.latency_ms(0.99), phase.recovery_s()
            lines.append(
                f"| {phase.name} | {span:.1f} | {len(phase.records)} | {len(phase.records) / span:,.0f} "
                f"| {fmt_statuses(phase.statuses())} | {_fmt(p50)} | {_fmt(p99)} | {_fmt(first, 2)} "
                f"| {_fmt(phase.steady_after(), 1)} | {phase.workers_serving()} of {args.workers} |"
            )
        lines.append("")
        if args.cluster and not wait_cluster_ok(redis):
            verdict.add("cluster back to cluster_state:ok after the faults", False, "not within 20 s")
        if _has_ratelimit():
            lines += exactness(stacks, redis.url, args, verdict)
        else:
            lines.append("- exactness across processes: not run, asgi_guard.ratelimit is not present yet")
    finally:
        if server is not None:
            server.stop()
        redis.stop()

    lines += ["", "| check | ok | detail |", "|---|---|---|"]
    lines += [f"| {label} | {'yes' if ok else '**NO**'} | {detail} |" for label, ok, detail in verdict.checks]
    command = "python -m bench load faults" + (" --cluster" if args.cluster else "")
    machine = report.machine("python -m bench load faults")  # appends the arguments of this run itself
    topology = "Redis Cluster" if args.cluster else "standalone Redis"
    text = "\n".join([f"## Load and faults, {topology} (`{command}`)", "", *machine, "", *lines, ""])
    if args.no_write:
        print(text)
    else:
        report.replace_section("load-faults-cluster" if args.cluster else "load-faults", text)
        print(f"wrote {report.RESULTS}")
    print("PASS" if verdict.ok else "FAIL")
    return 0 if verdict.ok else 1


def _has_ratelimit() -> bool:
    import importlib.util

    return importlib.util.find_spec("asgi_guard.ratelimit") is not None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
