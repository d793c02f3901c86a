"""Rate-limit fixtures: the same scenarios over the memory backend and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from asgi_guard.testing import FakeClock
from tests.ratelimit.helpers import Harness
from tests.redis_servers import RedisServer


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The same scenarios against :class:`MemoryRateLimitBackend` and :class:`RedisRateLimitBackend`."""
    clock = FakeClock()
    if request.param == "memory":
        yield Harness("memory", MemoryRateLimitBackend(clock=clock), clock, None)
        return
    server: RedisServer = request.getfixturevalue("redis_server")  # sync fixture: safe to request here
    client = aioredis.Redis.from_url(server.url)
    await client.flushall()
    backend = RedisRateLimitBackend(client, clock=clock)
    yield Harness("redis", backend, clock, client)
    await backend.aclose()
    await client.aclose()
