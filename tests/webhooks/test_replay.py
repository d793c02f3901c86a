"""Replay stores: the bounded memory store, the Redis store, and the fail modes when Redis is down."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from asgi_guard.errors import ConfigurationError
from asgi_guard.testing import FakeClock
from asgi_guard.webhooks import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    ReplayStoreUnavailable,
    TwitchEventSub,
    WebhookConfig,
    WebhookMiddleware,
    sign_twitch,
)
from tests.redis_servers import RedisServer
from tests.webhooks.helpers import NOW, RecordingApp, last_event, middleware, post

pytestmark = pytest.mark.anyio

SECRET = "replay-secret-0123"
BODY = b'{"event":{}}'
STAMP = "2023-11-14T22:13:20Z"


async def test_memory_store_remembers_until_expiry() -> None:
    """A key is a replay until its TTL passes on the injected clock, then it is new again."""
    clock = FakeClock()
    store = MemoryReplayStore(clock=clock)
    assert isinstance(store, ReplayStore)
    assert await store.remember(b"k", 10) is True
    assert await store.remember(b"k", 10) is False
    clock.advance(10.5)
    assert await store.remember(b"k", 10) is True


async def test_memory_store_forget() -> None:
    """A forgotten key is new again at once."""
    store = MemoryReplayStore(clock=FakeClock())
    await store.remember(b"k", 10)
    await store.forget(b"k")
    await store.forget(b"never-seen")
    assert await store.remember(b"k", 10) is True


async def test_memory_store_is_bounded() -> None:
    """At capacity the oldest key is evicted; expired keys are dropped as new ones arrive."""
    clock = FakeClock()
    store = MemoryReplayStore(3, clock=clock)
    for key in (b"a", b"b", b"c", b"d"):
        assert await store.remember(key, 100)
    assert len(store) == 3
    assert await store.remember(b"a", 100) is True  # evicted, so new again
    clock.advance(200)
    assert await store.remember(b"e", 100) is True
    assert len(store) == 1


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_memory_store_size_must_be_positive(size: object) -> None:
    """max_entries must be a positive integer."""
    with pytest.raises(ConfigurationError, match="max_entries"):
        MemoryReplayStore(size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("client", "timeout"), [(None, 0.5), (object(), 0.5), ("client", 0), ("client", True)])
def test_redis_store_arguments(client: object, timeout: object, redis_server: RedisServer) -> None:
    """The Redis store needs a client and a positive timeout."""
    real = aioredis.Redis.from_url(redis_server.url)
    with pytest.raises(ConfigurationError):
        RedisReplayStore(real if client == "client" else client, timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.redis
async def test_redis_store_set_nx_with_expiry(redis_client: aioredis.Redis) -> None:
    """remember is SET NX PX: first caller wins, the key carries the TTL, forget deletes it."""
    store = RedisReplayStore(redis_client, prefix="t:")
    assert await store.remember(b"k", 2.5) is True
    assert await store.remember(b"k", 2.5) is False
    ttl = await redis_client.pttl("t:k")
    assert 0 < ttl <= 2500
    await store.forget(b"k")
    assert await redis_client.exists("t:k") == 0


@pytest.mark.redis
@pytest.mark.cluster
async def test_redis_store_on_cluster(cluster_client: RedisCluster) -> None:
    """The store works unchanged on a Redis Cluster client (one key per command)."""
    store = RedisReplayStore(cluster_client)
    assert await store.remember(b"twitch:abc", 5) is True
    assert await store.remember(b"twitch:abc", 5) is False


@pytest.mark.redis
async def test_middleware_dedupes_across_instances_through_redis(redis_client: aioredis.Redis) -> None:
    """Two middleware instances (two workers) sharing Redis see one delivery once."""
    store = RedisReplayStore(redis_client)
    first, app_one, _ = middleware(TwitchEventSub(secrets=[SECRET], on_replay="reject"), replay_store=store)
    second, app_two, _ = middleware(TwitchEventSub(secrets=[SECRET], on_replay="reject"), replay_store=store)
    headers = sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP)
    assert (await post(first, headers, BODY))[0].status == 200
    assert (await post(second, headers, BODY))[0].status == 409
    assert (len(app_one.bodies), len(app_two.bodies)) == (1, 0)


@pytest.mark.redis
async def test_redis_killed_fails_closed_then_recovers(fault_redis: RedisServer) -> None:
    """Redis gone: 503 service_unavailable (closed by default); after a restart it works again."""
    client = aioredis.Redis.from_url(fault_redis.url)
    try:
        store = RedisReplayStore(client, timeout=0.5)
        mw, app, _ = middleware(TwitchEventSub(secrets=[SECRET]), replay_store=store)
        fault_redis.kill()
        response, scope = await post(mw, sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP), BODY)
        assert (response.status, response.json()["error"]) == (503, "service_unavailable")
        assert last_event(scope).type == "backend_failure"
        # The reason names the failure's kind, never the backend's own text (addresses, hosts).
        assert last_event(scope).reason == "replay_store_unavailable"
        assert str(fault_redis.port) not in str(scope["asgi_guard"].events)
        with pytest.raises(ReplayStoreUnavailable):
            await store.forget(b"x")
        fault_redis.start()
        assert (await post(mw, sign_twitch(SECRET, BODY, message_id="m-2", timestamp=STAMP), BODY))[0].status == 200
        assert len(app.bodies) == 1
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_paused_times_out_and_fail_open_skips_dedupe(fault_redis: RedisServer) -> None:
    """A stalled Redis times out; a route that fails open lets the verified delivery through and logs it."""
    client = aioredis.Redis.from_url(fault_redis.url)
    try:
        store = RedisReplayStore(client, timeout=0.2)
        verifier = TwitchEventSub(secrets=[SECRET], replay_fail_mode="open")
        mw, app, _ = middleware(verifier, replay_store=store)
        await client.ping()
        fault_redis.pause()
        response, scope = await post(mw, sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP), BODY)
        assert response.status == 200
        assert app.bodies == [BODY]
        kinds = [(event.type, event.result) for event in scope["asgi_guard"].events]
        assert ("backend_failure", "allow") in kinds
    finally:
        fault_redis.resume()
        await client.aclose()


@pytest.mark.redis
async def test_forget_failure_after_app_error_is_swallowed(fault_redis: RedisServer) -> None:
    """If Redis dies while the app fails, the app's 5xx still reaches the client (the key just expires)."""
    client = aioredis.Redis.from_url(fault_redis.url)
    try:
        store = RedisReplayStore(client, timeout=0.5)
        failing = RecordingApp(status=500)

        async def crash_redis_then_fail(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            fault_redis.kill()
            await failing(scope, receive, send)

        config = WebhookConfig(
            routes={"/hook": TwitchEventSub(secrets=[SECRET])}, replay_store=store, clock=FakeClock(NOW)
        )
        mw = WebhookMiddleware(crash_redis_then_fail, config)
        response, _ = await post(mw, sign_twitch(SECRET, BODY, message_id="m-1", timestamp=STAMP), BODY)
        assert response.status == 500
    finally:
        await client.aclose()
