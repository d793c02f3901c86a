"""Exactness across processes: 4 processes x 50 concurrent clients hammering one key on a real Redis.

The bound is GCRA's own: a bucket of ``burst`` tokens refilling every ``interval`` admits at most
``burst + (t_last - t_first) // interval`` requests between its first and last admission, where the
times are the Redis server's (every reply carries it). The clients never stop asking, so admissions
must also come close to that allowance.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest
import redis.asyncio as aioredis

from asgi_guard.ratelimit.gcra import Check
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.redis

PROCESSES = 4
CLIENTS = 50
DURATION = 3.0
INTERVAL_US = 10_000  # 100 per second
BURST = 20
KEY = "rl:{exact}:one"


async def _hammer(url: str, start_at: float) -> list[int]:
    client = aioredis.Redis.from_url(url)
    backend = RedisRateLimitBackend(client)
    admitted: list[int] = []
    check = [Check(KEY, INTERVAL_US, BURST, 1)]
    while time.time() < start_at:
        await asyncio.sleep(0.005)
    deadline = time.monotonic() + DURATION

    async def one_client() -> None:
        while time.monotonic() < deadline:
            outcome = await backend.check(check)
            if outcome.allowed:
                admitted.append(outcome.now_us)
            else:
                await asyncio.sleep(0)

    await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    await backend.aclose()
    await client.aclose()
    return admitted


def worker(url: str, start_at: float) -> list[int]:
    """One process: ``CLIENTS`` coroutines sharing a coalescing backend; returns admission times."""
    return asyncio.run(_hammer(url, start_at))


def test_never_exceeds_the_allowance(redis_server: RedisServer) -> None:
    """Across processes admissions never exceed burst + elapsed/interval, and stay within 10% of it."""
    import redis

    sync = redis.Redis.from_url(redis_server.url)
    sync.delete(KEY)
    sync.close()
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    with context.Pool(PROCESSES) as pool:  # leaving the block terminates the workers, even after a timeout
        results = pool.starmap_async(worker, [(redis_server.url, start_at)] * PROCESSES).get(timeout=90)
    times = sorted(t for result in results for t in result)
    assert all(results), "every process got admissions"
    allowance = BURST + (times[-1] - times[0]) // INTERVAL_US
    assert len(times) <= allowance
    assert len(times) >= 0.9 * allowance
    assert times[-1] - times[0] >= (DURATION - 0.5) * 1_000_000
