"""Abuse fixtures: the same scenarios over memory, a standalone Redis and a Redis Cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import jwt
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from asgi_guard.auth import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.redis import RedisRateLimitBackend
from asgi_guard.testing import FakeClock
from asgi_guard.types import Receive, Scope, Send

NOW = 1_700_000_000.0
SECRET = b"s" * 32


class Backend(NamedTuple):
    kind: str
    backend: Any
    clock: FakeClock


@pytest.fixture(params=["memory", "redis", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A rate-limit backend of each kind (Redis ones on suite-started servers, flushed)."""
    clock = FakeClock(NOW)
    if request.param == "memory":
        yield Backend("memory", MemoryRateLimitBackend(clock=clock), clock)
        return
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        client: Any = aioredis.Redis.from_url(server.url)
        await client.flushall()
    else:
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        client = AsyncRedisCluster.from_url(cluster.url)
        await client.initialize()
    remote = RedisRateLimitBackend(client, clock=clock)
    yield Backend(request.param, remote, clock)
    await remote.aclose()
    await client.aclose()


def token(sub: str = "user-1", **extra: Any) -> str:
    """A valid access token at ``NOW``."""
    claims = {"sub": sub, "iat": int(NOW), "exp": int(NOW) + 3600, "type": "access", "jti": f"j-{sub}", **extra}
    return jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "k1"})


def auth_config(clock: FakeClock) -> AuthConfig:
    return AuthConfig(
        jwt=JWTAuth(
            keyring=KeyRing.single(SECRET, kid="k1"),
            revocation=MemoryRevocationStore(clock=clock),
            issuer=None,
            audience=None,
        ),
        clock=clock,
    )


class App:
    """Answers 200, or the status a test asks for in the path (``/status/401``); counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        self.calls += 1
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        status = int(scope["path"].rsplit("/", 1)[1]) if scope["path"].startswith("/status/") else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
