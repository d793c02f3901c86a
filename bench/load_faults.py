"""Load and faults: a stack under uvicorn with several workers while Redis is killed, paused, restarted.

``python -m bench.load_faults`` starts its own Redis (standalone, or ``--cluster`` for a 3-master
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
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis as redis_sync

from bench import report
from bench.server import Server
from bench.stacks import Stack, all_stacks

CANDIDATES = ("asgi_guard full (redis)", "asgi_guard rate limit (redis)", "asgi_guard foundation only")
EXACT_STACK = "asgi_guard exact limit (redis)"
HANG_BUDGET_S = 2.0
RECONNECT_EVERY = 20
OUTAGE_GRACE_S = 1.0
"""Requests already past the limiter when Redis dies may still succeed; later ones must not (fail closed)."""


@dataclass
class Phase:
    """One phase of the run and what happened during it."""

    name: str
    start: float
    end: float = 0.0
    records: list[tuple[float, float, int | str]] = field(default_factory=list)
    workers: list[tuple[float, str]] = field(default_factory=list)
    """``(started, pid)`` of each 200, from the app's ``x-bench-worker`` header."""

    def statuses(self) -> Counter[int | str]:
        return Counter(outcome for _, _, outcome in self.records)

    def latency_ms(self, quantile: float) -> float | None:
        values = sorted(latency for _, latency, _ in self.records)
        if not values:
            return None
        return values[min(len(values) - 1, int(quantile * len(values)))] * 1000

    def recovery_s(self) -> float | None:
        """Seconds from the phase start to the first 200."""
        firsts = [at for at, _, outcome in self.records if outcome == 200]
        return min(firsts) - self.start if firsts else None

    def share_ok(self) -> float:
        records = self.records
        return sum(1 for _, _, outcome in records if outcome == 200) / len(records) if records else 0.0

    def steady_after(self, window: float = 0.5, share: float = 0.95) -> float | None:
        """The earliest ``window`` boundary from which on at least ``share`` of responses were 200
        (``None``: the phase never got there)."""
        span = self.end - self.start
        for step in range(int(span / window) + 1):
            rest = [outcome == 200 for at, _, outcome in self.records if at - self.start >= step * window]
            if rest and sum(rest) / len(rest) >= share:
                return step * window
        return None

    def workers_serving(self) -> int:
        """Distinct server processes that answered 200 in the second half of the phase."""
        middle = self.start + (self.end - self.start) / 2
        return len({pid for at, pid in self.workers if at >= middle})

    def late_admits(self, after: float) -> int:
        """200s for requests started more than ``after`` seconds into the phase."""
        return sum(1 for at, _, outcome in self.records if outcome == 200 and at - self.start > after)


def _request_parts(spec: dict[str, Any]) -> tuple[str, dict[str, str], bytes | None]:
    headers = {k: v for k, v in spec["headers"] if k.lower() not in ("host", "content-length")}
    return spec["method"], headers, (spec["body"].encode("latin-1") if spec["body"] else None)


async def drive(url: str, spec: dict[str, Any], concurrency: int, phases: list[Phase], stop: asyncio.Event) -> None:
    """``concurrency`` keep-alive loops sending the stack's request until ``stop``; each record goes to the
    phase current when the request started."""
    method, headers, body = _request_parts(spec)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=HANG_BUDGET_S * 2, limits=limits) as client:

        async def lane() -> None:
            sent = 0
            while not stop.is_set():
                phase = phases[-1]
                started = time.monotonic()
                outcome: int | str
                sent += 1
                # Reconnect now and then so that connections spread over every worker process.
                extra = {"connection": "close"} if sent % RECONNECT_EVERY == 0 else {}
                try:
                    response = await client.request(method, url, headers=headers | extra, content=body)
                    outcome = response.status_code
                    if outcome == 200:
                        phase.workers.append((started, response.headers.get("x-bench-worker", "?")))
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                    await asyncio.sleep(0.01)
                phase.records.append((started, time.monotonic() - started, outcome))

        await asyncio.gather(*(lane() for _ in range(concurrency)))


def busiest_node(redis: Any) -> Any:
    """The server to fault: the standalone server, or the cluster master that ran the most scripts so
    far (the one holding the loaded keys; faulting another master would prove nothing)."""
    nodes = getattr(redis, "nodes", None)
    if not nodes:
        return redis

    def scripts(node: Any) -> int:
        try:
            with redis_sync.Redis(port=node.port, socket_timeout=2) as client:
                stats = client.info("commandstats")
        except redis_sync.RedisError:
            return -1
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval", "incrby"))

    return max(nodes, key=scripts)


def wait_cluster_ok(redis: Any, timeout: float = 20.0) -> bool:
    """After faults, wait for every cluster node to report ``cluster_state:ok`` again."""
    nodes = getattr(redis, "nodes", None)
    if not nodes:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(redis._state_ok(node.port) for node in nodes):
            return True
        time.sleep(0.2)
    return False


async def faults(redis: Any, seconds: float, phases: list[Phase], stop: asyncio.Event) -> None:
    """Run the phase script; blocking process control runs in a thread so the load never stalls."""

    async def phase(name: str, action: Any = None) -> None:
        if action is not None:
            await asyncio.to_thread(action)
        phases[-1].end = time.monotonic()
        phases.append(Phase(name, time.monotonic()))
        await asyncio.sleep(seconds)

    def restart() -> None:
        node.kill()
        node.start()

    await asyncio.sleep(seconds)  # steady
    node = await asyncio.to_thread(busiest_node, redis)
    await phase("redis killed", node.kill)
    await phase("redis restarted (recovery)", node.start)
    await phase("redis paused (SIGSTOP)", node.pause)
    await phase("redis resumed (recovery)", node.resume)
    await phase("redis restarted under load (recovery)", restart)
    phases[-1].end = time.monotonic()
    stop.set()


@dataclass
class Verdict:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, label: str, ok: bool, detail: str = "") -> None:
        self.checks.append((label, ok, detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def check_phases(phases: list[Phase], verdict: Verdict, *, uses_redis: bool, workers: int) -> None:
    """No 500s, no hangs, the app always answers; fail closed during outages; recovery afterwards."""
    for phase in phases:
        statuses = phase.statuses()
        five = {k: v for k, v in statuses.items() if isinstance(k, int) and k >= 500 and k != 503}
        verdict.add(f"{phase.name}: no 5xx other than 503", not five, str(five) if five else "")
        errors = {k: v for k, v in statuses.items() if isinstance(k, str)}
        verdict.add(f"{phase.name}: the app always answered", not errors, str(errors) if errors else "")
        slow = phase.latency_ms(1.0)
        verdict.add(
            f"{phase.name}: no request over {HANG_BUDGET_S}s",
            slow is not None and slow <= HANG_BUDGET_S * 1000,
            f"max {slow:.0f} ms" if slow is not None else "no requests",
        )
        outage = uses_redis and phase.name in ("redis killed", "redis paused (SIGSTOP)")
        if outage:
            unexpected = {k: v for k, v in statuses.items() if k not in (200, 429, 503)}
            verdict.add(f"{phase.name}: only 200/429/503", not unexpected, str(unexpected) if unexpected else "")
            late = phase.late_admits(OUTAGE_GRACE_S)
            verdict.add(
                f"{phase.name}: fail closed (no 200 later than {OUTAGE_GRACE_S}s into the outage)",
                late == 0,
                f"{late} late 200s" if late else _fmt_statuses(statuses),
            )
        else:
            settled = phase.steady_after()
            verdict.add(
                f"{phase.name}: settles at >= 95% 200s",
                settled is not None,
                f"from {settled:.1f}s; {phase.share_ok():.1%} 200 overall"
                if settled is not None
                else f"never; {phase.share_ok():.1%} 200 overall",
            )
            serving = phase.workers_serving()
            verdict.add(
                f"{phase.name}: every worker answers 200 in the second half",
                serving == workers,
                f"{serving} of {workers}",
            )


def _fmt_statuses(statuses: Counter[int | str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))


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
    method, headers, body = _request_parts(spec)
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
    from bench.guard_stacks import EXACT_RATE

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
            f"(allowed at most {ceiling:.1f}); statuses {_fmt_statuses(counts)}",
        ]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_faults", description=__doc__.splitlines()[0])
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
                f"| {_fmt_statuses(phase.statuses())} | {_fmt(p50)} | {_fmt(p99)} | {_fmt(first, 2)} "
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
    machine = report.machine("python -m bench.load_faults")
    text = "\n".join(["## Load and faults (`python -m bench.load_faults`)", "", *machine, "", *lines, ""])
    if args.no_write:
        print(text)
    else:
        report.replace_section("load-faults", text)
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
