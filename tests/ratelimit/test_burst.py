"""A burst against a healthy Redis is never refused for our own load (issue: 503 under 1,000 connections).

The budget and the breaker measure Redis: time in our queue, or behind other requests' CPU work, is
not Redis being slow. Past the bounded queue a request is checked locally, not refused.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from asgi_guard.context import GuardContext
from asgi_guard.ratelimit import Limit, RateLimitConfig, RateLimitMiddleware, RedisRateLimitBackend
from asgi_guard.ratelimit.failover import Overloaded
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.testing import call, make_scope
from tests.ratelimit.test_middleware import ok_app
from tests.redis_servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

MINUTE = 60_000_000
HOG = 0.3  # seconds the event loop is held by "other requests' work": six times the default budget


async def evalsha_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats["cmdstat_evalsha"]["calls"])


def ip_scope(n: int) -> dict[str, object]:
    return make_scope(client=(f"10.0.{n // 250}.{n % 250}", 40000))


async def test_loop_saturated_by_a_burst_is_not_a_redis_failure(redis_client: aioredis.Redis) -> None:
    """A burst whose requests wait behind CPU-bound work far past the budget: every one is checked in
    Redis (no 503, no fallback, the breaker stays closed)."""
    backend = RedisRateLimitBackend(redis_client)
    await backend.warm()
    config = RateLimitConfig(limits=(Limit(name="ip", rate="5/minute"),), backend=backend, breaker_threshold=3)
    app = RateLimitMiddleware(ok_app, config)
    scopes = [ip_scope(n) for n in range(300)]
    requests = [asyncio.ensure_future(call(app, scope)) for scope in scopes]
    loop = asyncio.get_running_loop()
    for delay in (0.0, 0.001, 0.002):  # the loop is held several times while the burst is in flight
        loop.call_later(delay, time.sleep, HOG)
    recorders = await asyncio.gather(*requests)
    assert [recorder.status for recorder in recorders] == [200] * 300
    assert {GuardContext.from_scope(scope).rate_limit.source for scope in scopes} == {"redis"}
    assert app._failover.breaker.state == "closed"
    assert not [event for scope in scopes for event in GuardContext.from_scope(scope).events]
    await backend.aclose()


async def test_queue_past_its_bound_is_checked_locally(redis_client: aioredis.Redis) -> None:
    """Checks past ``max_queue`` are refused by the backend at once (:class:`Overloaded`); the middleware
    checks them in the local limiter instead of answering 503, and the breaker is not told."""
    backend = RedisRateLimitBackend(redis_client, max_queue=4)
    await backend.warm()
    config = RateLimitConfig(limits=(Limit(name="ip", rate="3/minute"),), backend=backend, breaker_threshold=1)
    app = RateLimitMiddleware(ok_app, config)
    scopes = [make_scope() for _ in range(20)]  # one client: one bucket of 3
    recorders = await asyncio.gather(*(call(app, scope) for scope in scopes))
    sources = [GuardContext.from_scope(scope).rate_limit.source for scope in scopes]
    assert sources.count("redis") == 5  # one in flight, four queued
    assert sources.count("local") == 15
    statuses = [recorder.status for recorder in recorders]
    assert 503 not in statuses
    assert statuses.count(200) <= 3 + 3  # Redis' bucket and the local one: each enforces the limit
    local = [recorder for recorder, source in zip(recorders, sources, strict=True) if source == "local"]
    assert {recorder.status for recorder in local} == {200, 429}
    assert app._failover.breaker.state == "closed"
    await backend.aclose()


async def test_overloaded_open_limit_is_allowed_and_logged(redis_client: aioredis.Redis) -> None:
    """Past the queue, a fail-open limit is allowed (with its event), like any other backend unavailability."""
    backend = RedisRateLimitBackend(redis_client, max_queue=0)
    await backend.warm()
    config = RateLimitConfig(limits=(Limit(name="ip", rate="100/minute", fail_mode="open"),), backend=backend)
    app = RateLimitMiddleware(ok_app, config)
    scopes = [make_scope() for _ in range(3)]
    recorders = await asyncio.gather(*(call(app, scope) for scope in scopes))
    assert [recorder.status for recorder in recorders] == [200] * 3
    sources = sorted(GuardContext.from_scope(scope).rate_limit.source for scope in scopes)
    assert sources == ["fail_open", "fail_open", "redis"]
    reasons = [event.reason for scope in scopes for event in GuardContext.from_scope(scope).events]
    assert reasons == ["overloaded", "overloaded"]
    await backend.aclose()


async def test_backend_raises_overloaded_without_asking_redis(redis_server: RedisServer) -> None:
    """The bound holds at the backend: the check past it fails before anything is sent."""
    client = aioredis.Redis.from_url(redis_server.url)
    backend = RedisRateLimitBackend(client, max_queue=1)
    await backend.warm()
    check = [Check("rl:{burst}:x", MINUTE, 100, 1)]
    results = await asyncio.gather(*(backend.check(check) for _ in range(3)), return_exceptions=True)
    assert [type(result).__name__ for result in results] == ["Outcome", "Outcome", "Overloaded"]
    assert isinstance(results[2], Overloaded)
    await backend.aclose()
    await client.aclose()


async def test_large_backlog_goes_out_in_bounded_pipelines(redis_client: aioredis.Redis) -> None:
    """A backlog larger than ``max_batch`` is sent in successive pipelines, every check exact."""
    backend = RedisRateLimitBackend(redis_client, max_batch=16)
    await backend.warm()
    before = await evalsha_calls(redis_client)
    check = [Check("rl:{backlog}:x", MINUTE, 100, 1)]
    outcomes = await asyncio.gather(*(backend.check(check) for _ in range(150)))
    assert sum(outcome.allowed for outcome in outcomes) == 100
    assert await evalsha_calls(redis_client) - before == 150
    await backend.aclose()
