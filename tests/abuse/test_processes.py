"""Across processes: four processes failing together trip the limit at the same count as one.

Each process has its own middleware, backend and deny cache, on one Redis (standalone or Cluster).
The pre-check is shared (a peek at the bucket in Redis), so whichever process a request lands on, the
request after the 20th failure is refused, and none before it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

import pytest

from tests.redis_servers import RedisCluster, RedisServer

pytestmark = pytest.mark.redis

PROCESSES = 4
BURST = 20


async def _phases(url: str, cluster: bool, index: int, barrier: Any) -> list[int]:
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    from asgi_guard import guard
    from asgi_guard.abuse import AbuseConfig, FailureLimit, Patterns
    from asgi_guard.ratelimit.redis import RedisRateLimitBackend
    from asgi_guard.testing import FakeClock, call, make_scope
    from tests.abuse.conftest import NOW, App, auth_config

    client: Any = AsyncRedisCluster.from_url(url) if cluster else aioredis.Redis.from_url(url)
    clock = FakeClock(NOW)
    backend = RedisRateLimitBackend(client, clock=clock)
    abuse = AbuseConfig(
        backend=backend,
        clock=clock,
        limits=(FailureLimit(name="ip", rate=f"{BURST}/hour", key="ip"),),
        patterns=Patterns(repeated_failures=None, credential_stuffing=None, leaked_credential=None),
        budget=2.0,
    )
    app = guard(App(), abuse, auth_config(clock))
    statuses: list[int] = []

    async def one(n: int) -> None:
        scope = make_scope(headers={"authorization": f"Bearer bad-{index}-{n}"}, client=("10.9.9.9", 1))
        statuses.append((await call(app, scope)).status)

    loop = asyncio.get_running_loop()
    # Phase 1: 19 failures between the four processes, at once (5 + 5 + 5 + 4).
    for n in range(5 if index < PROCESSES - 1 else 4):
        await one(n)
    await loop.run_in_executor(None, barrier.wait, 60)  # a lost sibling breaks the barrier: fail, never hang
    # Phase 2: the 20th failure, in the last process.
    if index == PROCESSES - 1:
        await one(99)
    await loop.run_in_executor(None, barrier.wait, 60)
    # Phase 3: every process is refused now.
    await one(100)
    await backend.aclose()
    await client.aclose()
    return statuses


def _worker(url: str, cluster: bool, index: int, barrier: Any, results: Any) -> None:
    results.put((index, asyncio.run(_phases(url, cluster, index, barrier))))


def _run(url: str, cluster: bool) -> dict[int, list[int]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(url, cluster, index, barrier, results), daemon=True)
        for index in range(PROCESSES)
    ]
    try:
        for process in processes:
            process.start()
        found = dict(results.get(timeout=90) for _ in processes)
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
    finally:  # a child that failed or hung is ended here, never left for the interpreter's exit to wait on
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
    return found


def _expect(found: dict[int, list[int]]) -> None:
    assert found[0] == found[1] == found[2] == [401] * 5 + [429]
    assert found[3] == [401] * 4 + [401] + [429]  # its 20th failure still went through; then refused
    assert sum(status == 401 for statuses in found.values() for status in statuses) == BURST


def test_four_processes_trip_at_the_burst_on_redis(redis_server: RedisServer) -> None:
    """Standalone Redis: 20 failures across four processes, then every process refuses."""
    import subprocess

    from tests.redis_servers import REDIS_CLI

    subprocess.run([REDIS_CLI, "-p", str(redis_server.port), "flushall"], capture_output=True, timeout=5, check=True)
    _expect(_run(redis_server.url, cluster=False))


@pytest.mark.cluster
def test_four_processes_trip_at_the_burst_on_cluster(redis_cluster: RedisCluster) -> None:
    """Redis Cluster: the same count."""
    redis_cluster.flush()
    _expect(_run(redis_cluster.url, cluster=True))
