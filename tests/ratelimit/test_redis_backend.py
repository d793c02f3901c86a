"""What only the Redis backend does: one EVALSHA per request, coalescing, NOSCRIPT, the deny cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from asgi_guard.ratelimit.gcra import Check
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from asgi_guard.ratelimit.script import SCRIPT_SHA
from asgi_guard.testing import FakeClock
from tests.redis_servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

MINUTE = 60_000_000


async def evalsha_calls(client: aioredis.Redis) -> int:
    """Calls of EVALSHA the server has processed (INFO commandstats)."""
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def connections_received(client: aioredis.Redis) -> int:
    return int((await client.info("stats"))["total_connections_received"])


@pytest.fixture
async def backend(redis_client: aioredis.Redis) -> AsyncIterator[RedisRateLimitBackend]:
    backend = RedisRateLimitBackend(redis_client, clock=FakeClock())
    yield backend
    await backend.aclose()


def checks(subject: str, count: int, *, burst: int = 3) -> list[Check]:
    return [Check(f"rl:{{{subject}}}:limit{i}", MINUTE, burst, 1) for i in range(count)]


async def test_one_evalsha_for_many_limits(redis_client: aioredis.Redis, backend: RedisRateLimitBackend) -> None:
    """Five limits of one request cost exactly one EVALSHA."""
    await backend.check(checks("warm", 1))  # first call loads the script (NOSCRIPT, load, replay)
    before = await evalsha_calls(redis_client)
    outcome = await backend.check(checks("alice", 5))
    assert outcome.allowed
    assert len(outcome.states) == 5
    assert await evalsha_calls(redis_client) - before == 1


async def test_deny_cache_skips_redis(redis_client: aioredis.Redis) -> None:
    """Once a bucket refused, requests for it are refused locally until the retry-after has passed."""
    clock = FakeClock()
    backend = RedisRateLimitBackend(redis_client, clock=clock)
    limit = checks("bob", 1, burst=1)
    assert (await backend.check(limit)).allowed
    first_refusal = await backend.check(limit)
    assert not first_refusal.allowed
    assert not first_refusal.cached
    before = await evalsha_calls(redis_client)
    for _ in range(20):
        refused = await backend.check([*checks("other", 1), *limit])
        assert refused.cached
        assert not refused.allowed
        assert refused.states[0] is None
        assert refused.states[1] is not None
        assert 0 < refused.states[1].retry_after_us <= MINUTE
    assert await evalsha_calls(redis_client) == before
    assert (await backend.check(checks("other", 1))).allowed  # other keys still go to Redis
    clock.advance(61)  # the local deadline passed: ask Redis again (which still refuses: its clock did not move)
    asked = await backend.check(limit)
    assert not asked.cached
    assert await evalsha_calls(redis_client) == before + 2
    await backend.aclose()


async def test_deny_cache_disabled_and_shadow_not_cached(redis_client: aioredis.Redis) -> None:
    """With no deny cache every request asks Redis; shadow refusals are never cached."""
    backend = RedisRateLimitBackend(redis_client, deny_cache_size=0)
    shadow = [Check("rl:{s}:shadow", MINUTE, 1, 1, enforce=False)]
    for _ in range(3):
        assert not (await backend.check(shadow)).cached
    limit = checks("c", 1, burst=1)
    await backend.check(limit)
    for _ in range(3):
        assert not (await backend.check(limit)).cached


async def test_deny_cache_is_bounded(redis_client: aioredis.Redis) -> None:
    """The deny cache keeps at most its configured number of keys."""
    backend = RedisRateLimitBackend(redis_client, deny_cache_size=2)
    for subject in ("a", "b", "c"):
        limit = checks(subject, 1, burst=1)
        await backend.check(limit)
        await backend.check(limit)
    assert len(backend._deny) == 2


async def test_noscript_reloads_once(redis_client: aioredis.Redis, backend: RedisRateLimitBackend) -> None:
    """After the script cache is flushed (restart, failover), the backend reloads it and answers."""
    await backend.check(checks("a", 1))
    await redis_client.script_flush()
    assert (await redis_client.script_exists(SCRIPT_SHA)) == [False]
    assert (await backend.check(checks("a", 1))).allowed
    assert (await redis_client.script_exists(SCRIPT_SHA)) == [True]
    await redis_client.script_flush()
    results = await asyncio.gather(*(backend.check(checks(f"p{i}", 1)) for i in range(10)))
    assert all(result.allowed for result in results)


async def test_concurrent_checks_share_a_pipeline(redis_server: RedisServer, redis_client: aioredis.Redis) -> None:
    """Fifty checks from one tick go out as one pipeline on one connection, and are all exact."""
    client = aioredis.Redis.from_url(redis_server.url)
    backend = RedisRateLimitBackend(client)
    await backend.check(checks("warm", 1))
    before_connections = await connections_received(redis_client)
    before_calls = await evalsha_calls(redis_client)
    results = await asyncio.gather(*(backend.check(checks("shared", 2, burst=20)) for _ in range(50)))
    assert sum(result.allowed for result in results) == 20
    assert await evalsha_calls(redis_client) - before_calls == 50
    assert await connections_received(redis_client) - before_connections == 0  # the warm connection did it all
    await backend.aclose()
    await client.aclose()


async def test_keys_expire_when_full(redis_client: aioredis.Redis, backend: RedisRateLimitBackend) -> None:
    """A bucket's key lives only until the bucket is full again."""
    outcome = await backend.check([Check("rl:{t}:ttl", MINUTE, 5, 2)])
    state = outcome.states[0]
    assert state is not None
    ttl_ms = await redis_client.pttl("rl:{t}:ttl")
    assert 0 < ttl_ms <= state.reset_us // 1000 + 1


async def test_error_reply_reaches_caller(redis_client: aioredis.Redis, backend: RedisRateLimitBackend) -> None:
    """A Redis error (a key of the wrong type) fails the call instead of deciding anything."""
    await redis_client.hset("rl:{x}:bad", "a", "1")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await backend.check([Check("rl:{x}:bad", MINUTE, 5, 1)])


async def test_from_url_owns_its_client(redis_server: RedisServer) -> None:
    """A backend built from a URL works and closes the client it created."""
    backend = RedisRateLimitBackend.from_url(redis_server.url)
    assert (await backend.check(checks("url", 1))).allowed
    await backend.aclose()


async def test_middleware_refuses_from_deny_cache(redis_client: aioredis.Redis) -> None:
    """Through the middleware, a flood on an empty bucket is refused locally with correct headers."""
    from asgi_guard.context import GuardContext
    from asgi_guard.ratelimit import Limit, RateLimitConfig, RateLimitMiddleware
    from asgi_guard.testing import call, make_scope
    from tests.ratelimit.test_middleware import ok_app

    backend = RedisRateLimitBackend(redis_client)
    limits = (Limit(name="ip", rate="1/minute"), Limit(name="wide", rate="100/minute"))
    app = RateLimitMiddleware(ok_app, RateLimitConfig(limits=limits, backend=backend, budget=2.0))
    assert (await call(app, make_scope())).status == 200
    assert (await call(app, make_scope())).status == 429
    before = await evalsha_calls(redis_client)
    scope = make_scope()
    refused = await call(app, scope)
    assert (refused.status, refused.headers["x-ratelimit-limit"], refused.headers["retry-after"]) == (429, "1", "60")
    assert GuardContext.from_scope(scope).rate_limit.source == "deny_cache"
    assert await evalsha_calls(redis_client) == before
    await backend.aclose()
