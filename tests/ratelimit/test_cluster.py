"""Redis Cluster: one script per hash slot, sent concurrently; a later refusal refunds earlier slots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.crc import key_slot

from asgi_guard.context import GuardContext
from asgi_guard.ratelimit import Decision, Limit, RateLimitConfig, RateLimitMiddleware, RedisRateLimitBackend
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.testing import call, make_scope
from tests.ratelimit.helpers import principal
from tests.ratelimit.test_middleware import as_user, ok_app

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.cluster]

MINUTE = 60_000_000


def subjects_on_distinct_masters(count: int) -> list[str]:
    """Hash tags whose slots fall in different thirds of the slot space (so on different masters)."""
    found: dict[int, str] = {}
    candidate = 0
    while len(found) < count:
        tag = f"s{candidate}"
        found.setdefault(key_slot(f"{{{tag}}}".encode()) * 3 // 16384, tag)
        candidate += 1
    return [found[third] for third in sorted(found)][:count]


@pytest.fixture
async def backend(cluster_client: AsyncRedisCluster) -> AsyncIterator[RedisRateLimitBackend]:
    backend = RedisRateLimitBackend(cluster_client)
    yield backend
    await backend.aclose()


async def remaining(backend: RedisRateLimitBackend, key: str, burst: int) -> int:
    outcome = await backend.check([Check(key, MINUTE, burst, 0)])
    state = outcome.states[0]
    assert state is not None
    return state.remaining


async def test_one_subject_one_slot(backend: RedisRateLimitBackend) -> None:
    """Limits sharing a hash tag go in one script call, all-or-nothing."""
    keys = [Check("rl:{u:alice}:a", MINUTE, 1, 1), Check("rl:{u:alice}:b", MINUTE, 5, 1)]
    assert len(backend._split(keys)) == 1
    assert (await backend.check(keys)).allowed
    assert not (await backend.check(keys)).allowed
    assert await remaining(backend, "rl:{u:alice}:b", 5) == 4


async def test_cross_slot_refusal_refunds(cluster_client: AsyncRedisCluster, backend: RedisRateLimitBackend) -> None:
    """When one master refuses, what the others consumed for that request is given back."""
    first, second, third = subjects_on_distinct_masters(3)
    loose_a = Check(f"rl:{{{first}}}:loose", MINUTE, 10, 1)
    loose_b = Check(f"rl:{{{second}}}:loose", MINUTE, 10, 3)
    tight = Check(f"rl:{{{third}}}:tight", MINUTE, 1, 1)
    assert len(backend._split([loose_a, loose_b, tight])) == 3
    assert (await backend.check([loose_a, loose_b, tight])).allowed
    for _ in range(3):
        refused = await backend.check([loose_a, loose_b, tight])
        assert not refused.allowed
        assert refused.states[2] is not None
        assert not refused.states[2].allowed
        await asyncio.sleep(0)  # let the refund pipeline finish before the next read
        if backend._task is not None:
            await backend._task
        backend._deny._entries.clear()  # force the next request to Redis
    assert await remaining(backend, loose_a.key, 10) == 9
    assert await remaining(backend, loose_b.key, 10) == 7


async def test_cluster_noscript_and_coalescing(
    cluster_client: AsyncRedisCluster, backend: RedisRateLimitBackend
) -> None:
    """A flushed script cache on every master is reloaded, and concurrent requests stay exact."""
    subjects = subjects_on_distinct_masters(3)
    await cluster_client.script_flush()
    requests = [[Check(f"rl:{{{subject}}}:shared", MINUTE, 10, 1) for subject in subjects] for _ in range(30)]
    results = await asyncio.gather(*(backend.check(request) for request in requests))
    assert sum(result.allowed for result in results) == 10
    if backend._task is not None:
        await backend._task
    backend._deny._entries.clear()
    for subject in subjects:
        assert await remaining(backend, f"rl:{{{subject}}}:shared", 10) == 0


async def test_middleware_on_cluster(cluster_client: AsyncRedisCluster) -> None:
    """IP and user limits (different slots) are enforced together through the middleware."""
    backend = RedisRateLimitBackend(cluster_client)
    app = RateLimitMiddleware(
        ok_app,
        RateLimitConfig(
            limits=(Limit(name="ip", rate="100/minute"), Limit(name="user", rate="2/minute", key="user")),
            backend=backend,
            budget=2.0,
        ),
    )
    statuses = [(await call(app, as_user(make_scope(), principal("zoe")))).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    if backend._task is not None:
        await backend._task
    scope = as_user(make_scope(), principal("yan"))
    await call(app, scope)
    decision = GuardContext.from_scope(scope).rate_limit
    assert isinstance(decision, Decision)
    ip = next(status for status in decision.limits if status.name == "ip")
    assert ip.remaining == 97  # 100 - zoe's two - yan's one: the refused request's token was refunded
    await backend.aclose()
