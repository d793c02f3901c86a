"""Authentication cost per request, in-process (plain python, not pytest; a few seconds).

Prints µs per authenticated request through ``AuthenticationMiddleware`` for: API key (memory
store), JWT without cache, JWT cached, JWT cached + Redis revocation check (fed by pub/sub); and the
Redis commands per request that the revocation check costs, from ``INFO commandstats`` on a
redis-server this script starts (tests/redis_servers.RedisServer).

Run: ``python -m bench.micro.auth`` from the repository root.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    RedisRevocationStore,
    TokenService,
    create_api_key,
    hash_api_key,
)
from asgi_guard.testing import make_scope
from tests.redis_servers import RedisServer

if TYPE_CHECKING:
    from asgi_guard.types import Message, Receive, Scope, Send

REQUESTS = 5000
SECRET = b"b" * 32


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def per_request_us(asgi: Any, headers: dict[str, str], n: int = REQUESTS) -> float:
    """Mean µs per request over ``n`` requests (a fresh scope each, as a server would build)."""
    base = make_scope(headers=headers)
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):  # warm up
        await asgi(dict(base), _receive, _send)
    start = time.perf_counter()
    for _ in range(n):
        await asgi(dict(base), _receive, send)
    elapsed = time.perf_counter() - start
    assert statuses == [200] * n, f"unexpected statuses {set(statuses)}"
    return elapsed / n * 1e6


def _jwt_config(revocation: Any, cache_size: int) -> AuthConfig:
    jwt_auth = JWTAuth(
        keyring=KeyRing.single(SECRET), revocation=revocation, issuer=None, audience=None, cache_size=cache_size
    )
    return AuthConfig(jwt=jwt_auth)


async def main() -> None:
    key = create_api_key()
    store = MemoryAPIKeyStore([APIKeyRecord(key_hash=hash_api_key(key), owner_id="o", permissions=frozenset({"a:b"}))])
    service = TokenService(KeyRing.single(SECRET), MemoryRevocationStore())
    token = service.issue_access("u1", roles=["user"], communities=["c1"])
    bearer = {"authorization": f"Bearer {token}"}

    results: dict[str, float] = {"bare app": await per_request_us(app, {})}
    results["API key (memory store)"] = await per_request_us(
        AuthenticationMiddleware(app, AuthConfig(api_key=APIKeyAuth(store=store))), {"x-api-key": key}
    )
    memory = MemoryRevocationStore()
    results["JWT, no cache"] = await per_request_us(AuthenticationMiddleware(app, _jwt_config(memory, 0)), bearer)
    results["JWT, cached"] = await per_request_us(AuthenticationMiddleware(app, _jwt_config(memory, 10_000)), bearer)

    server = RedisServer().start()
    client = aioredis.Redis.from_url(server.url)
    revocation = RedisRevocationStore(client)
    try:
        await revocation.start()
        assert revocation.healthy
        await revocation.revoke("some-other-token", time.time() + 3600)
        middleware = AuthenticationMiddleware(app, _jwt_config(revocation, 10_000))
        await client.config_resetstat()
        before = await _command_calls(client)
        results["JWT, cached + Redis revocation check"] = await per_request_us(middleware, bearer)
        after = await _command_calls(client)
        commands = (after - before - 1) / (REQUESTS + 200)  # minus the INFO call itself
        uncached = AuthenticationMiddleware(app, _jwt_config(revocation, 0))
        results["JWT, no cache + Redis revocation check"] = await per_request_us(uncached, bearer)
    finally:
        await revocation.aclose()
        await client.aclose()
        server.stop()

    width = max(len(name) for name in results)
    print(f"asgi_guard auth, in-process, {REQUESTS} requests each")
    for name, value in results.items():
        print(f"  {name:<{width}}  {value:8.1f} µs/request")
    print(f"  Redis commands per request for the revocation check: {commands:.3f}")


async def _command_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


if __name__ == "__main__":
    asyncio.run(main())
