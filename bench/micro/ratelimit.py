"""Rate-limit figures on a suite-style redis-server: Redis commands per request, client µs per check.

Run: ``python -m bench.micro.ratelimit`` (from the repository root). Prints one line per figure.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import redis.asyncio as aioredis

from asgi_guard.ratelimit import Limit, MemoryRateLimitBackend, RateLimitConfig, RateLimitMiddleware
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from asgi_guard.testing import call, make_scope
from tests.redis_servers import RedisServer

REQUESTS = 4000
HOUR = 3_600_000_000


async def command_calls(client: aioredis.Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


# Redis 7 counts the GET/SET a script runs in commandstats too; the client itself sends only EVALSHA
# (and SCRIPT LOAD after a NOSCRIPT), so those are what "commands per request" means here.
INSIDE_SCRIPT = frozenset({"get", "set", "del", "time", "info"})


def client_commands(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: after[name] - before.get(name, 0)
        for name in after
        if name not in INSIDE_SCRIPT and after[name] != before.get(name, 0)
    }


async def commands_per_request(client: aioredis.Redis, backend: RedisRateLimitBackend, limits: int) -> str:
    """Client-sent Redis commands per request checking ``limits`` limits."""
    before = await command_calls(client)
    for index in range(200):
        await backend.check([Check(f"rl:{{u{index}}}:l{i}", HOUR, 1000, 1) for i in range(limits)])
    delta = client_commands(before, await command_calls(client))
    return ", ".join(f"{name} {count / 200:.2f}" for name, count in sorted(delta.items())) or "none"


async def us_per_check(backend: object, concurrency: int, limits: int = 3) -> float:
    """Client wall time per check, ``concurrency`` checks in flight at once."""
    checks = [Check(f"rl:{{bench}}:l{i}", 1, 1_000_000, 1) for i in range(limits)]
    check = backend.check  # type: ignore[attr-defined]

    async def worker(count: int) -> None:
        for _ in range(count):
            await check(checks)

    started = time.perf_counter()
    await asyncio.gather(*(worker(REQUESTS // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - started) / REQUESTS * 1e6


async def us_per_request(backend: object, concurrency: int) -> float:
    """In-process cost of a request through RateLimitMiddleware (3 limits, headers) around a bare app."""

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    limits = (Limit(name="ip", rate="1000000/hour"), Limit(name="g", rate="1000000/hour", key="global"))
    limited = RateLimitMiddleware(app, RateLimitConfig(limits=limits, backend=backend, budget=5.0))

    async def worker(count: int) -> None:
        for _ in range(count):
            await call(limited, make_scope())

    started = time.perf_counter()
    await asyncio.gather(*(worker(REQUESTS // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - started) / REQUESTS * 1e6


async def main() -> None:
    server = RedisServer().start()
    try:
        client = aioredis.Redis.from_url(server.url)
        backend = RedisRateLimitBackend(client)
        await backend.check([Check("rl:{warm}:x", HOUR, 10, 1)])  # loads the script once
        for limits in (1, 3, 5):
            print(
                f"redis commands per request, {limits} limit(s): {await commands_per_request(client, backend, limits)}"
            )
        flood = [Check("rl:{flood}:x", HOUR, 1, 1)]
        await backend.check(flood)
        await backend.check(flood)  # refused by Redis: remembered
        before = await command_calls(client)
        refused = 0
        for _ in range(1000):
            refused += not (await backend.check(flood)).allowed
        delta = client_commands(before, await command_calls(client))
        print(f"redis commands per deny-cache refusal: {sum(delta.values()) / 1000:.2f} ({refused}/1000 refused)")
        for concurrency in (1, 50):
            print(
                f"redis backend, µs per check (3 limits), concurrency {concurrency}: "
                f"{await us_per_check(backend, concurrency):.1f}"
            )
        for concurrency in (1, 50):
            print(
                f"memory backend, µs per check (3 limits), concurrency {concurrency}: "
                f"{await us_per_check(MemoryRateLimitBackend(), concurrency):.1f}"
            )
        for concurrency in (1, 50):
            print(
                f"middleware on redis, µs per request (2 limits + headers), concurrency {concurrency}: "
                f"{await us_per_request(backend, concurrency):.1f}"
            )
        await backend.aclose()
        await client.aclose()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
