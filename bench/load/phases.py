"""The phases of a load/fault run: the load driver, the fault script, and the checks of each phase.

Used by :mod:`bench.load.faults`; kept apart so the script reads as the sequence it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis as redis_sync

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


def request_parts(spec: dict[str, Any]) -> tuple[str, dict[str, str], bytes | None]:
    headers = {k: v for k, v in spec["headers"] if k.lower() not in ("host", "content-length")}
    return spec["method"], headers, (spec["body"].encode("latin-1") if spec["body"] else None)


async def drive(url: str, spec: dict[str, Any], concurrency: int, phases: list[Phase], stop: asyncio.Event) -> None:
    """``concurrency`` keep-alive loops sending the stack's request until ``stop``; each record goes to the
    phase current when the request started."""
    method, headers, body = request_parts(spec)
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
                f"{late} late 200s" if late else fmt_statuses(statuses),
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


def fmt_statuses(statuses: Counter[int | str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))


__all__ = (
    "HANG_BUDGET_S",
    "Phase",
    "Verdict",
    "busiest_node",
    "check_phases",
    "drive",
    "faults",
    "fmt_statuses",
    "request_parts",
    "wait_cluster_ok",
)
