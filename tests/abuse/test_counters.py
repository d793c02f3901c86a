"""Pattern stores: memory and Redis (standalone, Cluster) count alike; windows close; sets stay capped."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from asgi_guard.abuse.counters import MemoryPatternStore, Op, RedisPatternStore, Tally
from asgi_guard.testing import FakeClock
from tests.redis_servers import RedisCluster, RedisServer

pytestmark = pytest.mark.anyio

SEQUENCE = [
    Op("p:{ip:1}:rf", None, 0, 60_000),
    Op("p:{ip:1}:rf", None, 0, 60_000),
    Op("p:{ip:1}:cs", "c:a", 2, 60_000),
    Op("p:{ip:1}:cs", "c:a", 2, 60_000),
    Op("p:{ip:1}:cs", "c:b", 2, 60_000),
    Op("p:{ip:1}:cs", "c:c", 2, 60_000),  # over the cap: not kept, not counted
    Op("p:{ip:2}:rf", None, 0, 60_000),
]
EXPECTED = [(1, True), (2, True), (1, True), (1, False), (2, True), (2, False), (1, True)]


async def _tallies(store: Any) -> list[Tally]:
    found = []
    for op in SEQUENCE[:2]:
        found += await store.observe([op])
    found += await store.observe(SEQUENCE[2:])  # several at once: one call (one per slot on a Cluster)
    return found


def _check(tallies: list[Tally]) -> None:
    assert [(tally.total, tally.added) for tally in tallies] == EXPECTED
    assert all(0 < tally.ttl_ms <= 60_000 for tally in tallies)


async def test_memory_store_counts_caps_and_forgets() -> None:
    """Counts and capped sets in memory; a closed window starts again; the store stays bounded."""
    clock = FakeClock()
    store = MemoryPatternStore(clock=clock, max_keys=2)
    _check(await _tallies(store))
    assert len(store) == 2  # three keys seen, two kept (least recently used dropped)
    clock.advance(60)
    (again,) = await store.observe([Op("p:{ip:2}:rf", None, 0, 60_000)])
    assert (again.total, again.added, again.ttl_ms) == (1, True, 60_000)


async def test_redis_store_counts_alike(redis_server: RedisServer) -> None:
    """Standalone Redis gives the memory store's answers."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    _check(await _tallies(RedisPatternStore(client)))
    await client.aclose()


@pytest.mark.cluster
async def test_cluster_store_counts_alike(redis_cluster: RedisCluster) -> None:
    """A Cluster, with the keys of one call spread over slots, gives the same answers."""
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    redis_cluster.flush()
    client = AsyncRedisCluster.from_url(redis_cluster.url)
    _check(await _tallies(RedisPatternStore(client)))
    await client.aclose()
