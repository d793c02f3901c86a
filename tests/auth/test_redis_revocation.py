"""Redis revocation on real servers: propagation, zero-round-trip checks, feed loss, restart and resync."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from asgi_guard.auth import RedisRevocationStore, RevocationUnavailable
from asgi_guard.errors import ConfigurationError
from tests.redis_servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

HOUR = 3600.0


async def _propagation_seconds(store: RedisRevocationStore, token_id: str, limit: float = 1.0) -> float:
    """How long until ``store`` refuses ``token_id`` (polled from memory; bounded by ``limit``)."""
    import asyncio

    start = time.monotonic()
    while time.monotonic() - start < limit:
        if await store.is_revoked([token_id]):
            return time.monotonic() - start
        await asyncio.sleep(0.001)
    return float("inf")


async def _commands(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


@pytest.fixture
async def pair(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[RedisRevocationStore, RedisRevocationStore]]:
    """Two instances, each with its own client, on the shared server."""
    first = aioredis.Redis.from_url(redis_server.url)
    second = aioredis.Redis.from_url(redis_server.url)
    a = RedisRevocationStore(first, reconnect_delay=0.3)
    b = RedisRevocationStore(second, reconnect_delay=0.3)
    await a.start()
    await b.start()
    assert a.healthy
    assert b.healthy
    yield a, b
    await a.aclose()
    await b.aclose()
    await first.aclose()
    await second.aclose()


async def test_revocation_propagates_within_100ms(pair: tuple[RedisRevocationStore, RedisRevocationStore]) -> None:
    """A revocation made through one instance is refused by the other within 100 ms."""
    a, b = pair
    for index in range(5):
        await a.revoke(f"jti-{index}", time.time() + HOUR)
        assert await _propagation_seconds(b, f"jti-{index}") < 0.1


async def test_checks_cost_no_redis_command(
    redis_client: aioredis.Redis, pair: tuple[RedisRevocationStore, RedisRevocationStore]
) -> None:
    """While the feed is healthy, checks are answered from memory: zero Redis commands per check."""
    _, b = pair
    await redis_client.config_resetstat()
    before = await _commands(redis_client)
    for index in range(1000):
        assert not await b.is_revoked([f"never-{index}", "fam"])
    after = await _commands(redis_client)
    assert after - before == 1  # the INFO call itself (CONFIG RESETSTAT is not counted after reset)


async def test_new_instance_loads_existing_revocations(redis_server: RedisServer, redis_client: aioredis.Redis) -> None:
    """An instance started later loads what was revoked before, but not what already expired or was marked used."""
    writer = RedisRevocationStore(redis_client)
    await writer.revoke("old-1", time.time() + HOUR)
    await writer.revoke("gone", time.time() - 1)
    assert await writer.claim_refresh("refresh-1", time.time() + HOUR) is None
    client = aioredis.Redis.from_url(redis_server.url)
    late = RedisRevocationStore(client)
    await late.start()
    await late.start()  # idempotent
    try:
        assert late.healthy
        assert await late.is_revoked(["old-1"])
        assert not await late.is_revoked(["gone"])
        assert not await late.is_revoked(["used:refresh-1", "refresh-1"])
    finally:
        await late.aclose()
        await client.aclose()


async def test_resync_loads_more_than_one_batch(redis_server: RedisServer, redis_client: aioredis.Redis) -> None:
    """Thousands of existing revocations are all loaded at start."""
    expires = repr(time.time() + HOUR)
    async with redis_client.pipeline(transaction=False) as pipe:
        for index in range(2500):
            pipe.set(f"asgi_guard:revoked:bulk-{index}", expires, ex=3600)
        pipe.set("asgi_guard:revoked:not-a-number", "x", ex=3600)
        await pipe.execute()
    client = aioredis.Redis.from_url(redis_server.url)
    store = RedisRevocationStore(client)
    await store.start()
    try:
        assert await store.is_revoked(["bulk-0"])
        assert await store.is_revoked(["bulk-2499"])
    finally:
        await store.aclose()
        await client.aclose()


async def test_claim_refresh_is_atomic_first_use(redis_client: aioredis.Redis) -> None:
    """The first claim of a refresh token wins; later claims see the first-use time."""
    store = RedisRevocationStore(redis_client)
    now = time.time()
    assert await store.claim_refresh("r1", now + HOUR) is None
    first = await store.claim_refresh("r1", now + HOUR)
    assert first is not None
    assert abs(first - now) < 5


async def test_foreign_messages_on_the_channel_are_ignored(
    redis_client: aioredis.Redis, pair: tuple[RedisRevocationStore, RedisRevocationStore]
) -> None:
    """Garbage published on the channel neither revokes anything nor breaks the feed."""
    a, b = pair
    await redis_client.publish(b.channel, b"hello world")
    await redis_client.publish(b.channel, b" 123.0")
    await a.revoke("after-garbage", time.time() + HOUR)
    assert await _propagation_seconds(b, "after-garbage") < 0.1
    assert not await b.is_revoked(["hello"])
    assert b.healthy


async def test_dropped_subscription_falls_back_to_lookups_then_resyncs(
    redis_client: aioredis.Redis, pair: tuple[RedisRevocationStore, RedisRevocationStore]
) -> None:
    """Killing the subscription switches checks to direct lookups (never trust), and reconnecting resyncs."""
    a, b = pair
    await redis_client.client_kill_filter(_type="pubsub")
    assert await b.wait_for_state(healthy=False, timeout=5)
    await a.revoke("during-outage", time.time() + HOUR)  # published while b is not subscribed
    assert await b.is_revoked(["during-outage"])  # direct lookup
    assert not await b.is_revoked(["other"])
    assert await b.wait_for_state(healthy=True, timeout=5)
    assert await b.is_revoked(["during-outage"])  # from memory, loaded by the resync
    await a.revoke("after-reconnect", time.time() + HOUR)
    assert await _propagation_seconds(b, "after-reconnect") < 0.1


async def test_deny_mode_refuses_while_the_feed_is_down(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    """With on_feed_loss='deny', every check fails closed until the feed is back."""
    client = aioredis.Redis.from_url(redis_server.url)
    store = RedisRevocationStore(client, on_feed_loss="deny", reconnect_delay=0.3)
    await store.start()
    try:
        await redis_client.client_kill_filter(_type="pubsub")
        assert await store.wait_for_state(healthy=False, timeout=5)
        with pytest.raises(RevocationUnavailable):
            await store.is_revoked(["anything"])
        assert await store.wait_for_state(healthy=True, timeout=5)
        assert not await store.is_revoked(["anything"])
    finally:
        await store.aclose()
        await client.aclose()


async def test_redis_restart_fails_closed_then_resyncs(fault_redis: RedisServer) -> None:
    """A dead server makes checks fail closed; after a restart the feed resyncs and propagation resumes."""
    clients = [aioredis.Redis.from_url(fault_redis.url) for _ in range(2)]
    a = RedisRevocationStore(clients[0], reconnect_delay=0.05)
    b = RedisRevocationStore(clients[1], reconnect_delay=0.05, lookup_timeout=0.2)
    await a.start()
    await b.start()
    try:
        await a.revoke("before-crash", time.time() + HOUR)
        assert await _propagation_seconds(b, "before-crash") < 0.1
        fault_redis.kill()
        assert await b.wait_for_state(healthy=False, timeout=5)
        with pytest.raises(RevocationUnavailable):
            await b.is_revoked(["unknown"])
        assert await b.is_revoked(["before-crash"])  # what is known stays refused
        fault_redis.start()
        assert await b.wait_for_state(healthy=True, timeout=10)
        assert await a.wait_for_state(healthy=True, timeout=10)
        assert await b.is_revoked(["before-crash"])  # the server lost it; the mirror did not
        await a.revoke("after-restart", time.time() + HOUR)
        assert await _propagation_seconds(b, "after-restart") < 0.1
    finally:
        await a.aclose()
        await b.aclose()
        for client in clients:
            await client.aclose()


async def test_stopped_store_is_not_healthy_and_bad_mode_is_refused(redis_client: aioredis.Redis) -> None:
    """Before start (and after aclose) checks take the fallback path; an unknown mode is a config error."""
    store = RedisRevocationStore(redis_client)
    assert not store.healthy
    await store.revoke("x", time.time() + HOUR)
    await store.revoke("expired", time.time() - 5)
    fresh = RedisRevocationStore(redis_client)
    assert await fresh.is_revoked(["x"])
    assert not await fresh.is_revoked(["expired"])
    assert not await fresh.wait_for_state(healthy=True, timeout=0.01)
    await fresh.aclose()
    with pytest.raises(ConfigurationError, match="on_feed_loss"):
        RedisRevocationStore(redis_client, on_feed_loss="trust")  # type: ignore[arg-type]


def test_cluster_or_foreign_clients_are_refused() -> None:
    """The store needs a redis-py asyncio client: anything else is a configuration error."""
    with pytest.raises(ConfigurationError, match="RedisCluster client"):
        RedisRevocationStore(object())  # type: ignore[arg-type]
