"""The suite's own Redis processes really start, serve, fail and recover."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from tests.redis_servers import RedisCluster, RedisServer

pytestmark = pytest.mark.anyio


async def test_standalone_serves_and_flushes(redis_client: aioredis.Redis) -> None:
    """A suite-started server answers commands and starts each test empty."""
    assert await redis_client.dbsize() == 0
    await redis_client.set("k", "v")
    assert await redis_client.get("k") == b"v"


async def test_kill_pause_restart(fault_redis: RedisServer) -> None:
    """A test-owned server can be killed, paused and restarted on the same port, losing its data."""
    client = aioredis.Redis.from_url(fault_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    await client.set("k", "v")
    fault_redis.pause()
    with pytest.raises(redis.exceptions.TimeoutError):
        await client.get("k")
    fault_redis.resume()
    fault_redis.kill()
    with pytest.raises(redis.exceptions.ConnectionError):
        await client.get("k")
    fault_redis.restart()
    assert await client.get("k") is None
    await client.aclose()


async def test_cluster_spreads_slots(cluster_client: AsyncRedisCluster, redis_cluster: RedisCluster) -> None:
    """The 3-master cluster has every slot covered and routes keys to different nodes."""
    info = await cluster_client.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_known_nodes"]) == 3
    for index in range(30):
        await cluster_client.set(f"key:{index}", index)
    counts = []
    for node in redis_cluster.nodes:
        direct = aioredis.Redis(port=node.port)
        counts.append(await direct.dbsize())
        await direct.aclose()
    assert sum(counts) == 30
    assert all(count > 0 for count in counts)
