"""Abuse-layer figures: client µs per successful request and per failure, with and without the layer,
on memory and on a throwaway redis-server, and Redis round trips per request.

Run: ``python -m bench.micro.abuse`` (from the repository root; ``--rounds N``, ``--requests N``,
``--no-write``). Rounds alternate the stacks so drift hits each alike; the figure is the median over
rounds. Writes the ``abuse`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jwt
import redis.asyncio as aioredis

from asgi_guard import guard
from asgi_guard.abuse import AbuseConfig, failure_limits
from asgi_guard.auth import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore
from asgi_guard.ratelimit import MemoryRateLimitBackend, RedisRateLimitBackend
from asgi_guard.testing import make_scope
from tests.redis_servers import RedisServer

SECRET = b"b" * 32
TOKEN = jwt.encode(
    {"sub": "u1", "iat": int(time.time()), "exp": int(time.time()) + 86400, "type": "access", "jti": "j1"},
    SECRET,
    algorithm="HS256",
    headers={"kid": "k1"},
)


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def stack(backend: Any | None) -> Any:
    auth = AuthConfig(
        jwt=JWTAuth(
            keyring=KeyRing.single(SECRET, kid="k1"), revocation=MemoryRevocationStore(), issuer=None, audience=None
        )
    )
    if backend is None:
        return guard(app, auth)
    return guard(app, AbuseConfig(limits=failure_limits(), backend=backend, budget=1.0), auth)


async def per_request(target: Any, requests: int, *, fail: bool, salt: str) -> list[float]:
    """µs of each request: successes from 50 clients; failures with fresh bad tokens from fresh
    addresses (no bucket ever empties: every failure is checked and charged, the most it can cost)."""
    scopes = []
    for index in range(requests):
        credential = f"bad-{salt}-{index}" if fail else TOKEN
        ip = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}" if fail else f"192.0.2.{index % 50}"
        scopes.append(make_scope(path="/p", headers={"authorization": f"Bearer {credential}"}, client=(ip, 1)))
    timings = []
    clock = time.perf_counter
    for scope in scopes:
        started = clock()
        await target(scope, _receive, _send)
        timings.append((clock() - started) * 1e6)
    return timings


async def reads(client: aioredis.Redis) -> int:
    return int((await client.info("stats"))["total_reads_processed"])


async def main(rounds: int, requests: int) -> list[str]:
    server = RedisServer().start()
    try:
        client = aioredis.Redis.from_url(server.url)
        remote = RedisRateLimitBackend(client)
        stacks = {
            "auth only": stack(None),
            "auth + abuse (memory)": stack(MemoryRateLimitBackend()),
            "auth + abuse (redis)": stack(remote),
        }
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for name, target in stacks.items():  # warm: caches, known-good clients, script loaded
            await per_request(target, 200, fail=False, salt="warm")
            await per_request(target, 50, fail=True, salt=f"warm-{name}")
        for round_ in range(rounds):
            order = list(stacks.items())
            order = order[round_ % len(order) :] + order[: round_ % len(order)]
            for name, target in order:
                for kind in ("success", "failure"):
                    timings = await per_request(target, requests, fail=kind == "failure", salt=f"{round_}-{name}")
                    figure = (statistics.median(timings), statistics.fmean(timings))
                    results.setdefault((name, kind), []).append(figure)
        lines = [
            f"client µs per request (one process, sequential), {rounds} rounds x {requests} requests:",
            "median over rounds of each round's p50 and mean",
        ]
        for (name, kind), figures in results.items():
            p50 = statistics.median(figure[0] for figure in figures)
            mean = statistics.median(figure[1] for figure in figures)
            lines.append(f"  {name:24} {kind:8} p50 {p50:8.1f} µs   mean {mean:8.1f} µs")
        target = stacks["auth + abuse (redis)"]
        for kind in ("success", "failure"):
            before = await reads(client)
            await per_request(target, 500, fail=kind == "failure", salt=f"count-{kind}")
            lines.append(f"  redis commands read per {kind}: {(await reads(client) - before) / 500:.2f}")
        await remote.aclose()
        await client.aclose()
        return lines
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()
    output = asyncio.run(main(args.rounds, args.requests))
    print("\n".join(output))
    if not args.no_write:
        from bench.harness import report

        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        text = "\n".join(
            [
                "## Abuse layer (`python -m bench.micro.abuse`)",
                "",
                f"Run {stamp}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the means carry",
                "the scheduling tail of a shared machine; the p50s are the per-request cost).",
                "Successes: one valid JWT from 50 addresses (known good after their first",
                "request). Failures: a fresh bad token from a fresh address each time (no bucket ever empties,",
                "so every failure is pre-checked, charged on both buckets and counted for the patterns).",
                "",
                "```",
                *output,
                "```",
            ]
        )
        report.replace_section("abuse", text)
