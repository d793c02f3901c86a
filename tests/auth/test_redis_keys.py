"""Redis API-key store and the middleware across two instances sharing Redis."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import redis.asyncio as aioredis

from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    RedisAPIKeyStore,
    RedisRevocationStore,
    TokenService,
    create_api_key,
    hash_api_key,
)
from asgi_guard.testing import call, make_scope
from asgi_guard.types import Receive, Scope, Send
from tests.redis_servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def _record(key: str, **overrides: object) -> APIKeyRecord:
    fields: dict[str, object] = {
        "key_hash": hash_api_key(key),
        "owner_id": "owner-1",
        "name": "deploy",
        "permissions": ["trigger:webhook"],
        "role": "trigger",
        "owner_roles": ["user"],
        "communities": {"c1": ["moderator"]},
        "created_at": 1.5,
    }
    fields.update(overrides)
    return msgspec.convert(fields, APIKeyRecord)


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_records_round_trip_through_one_hash_per_key(redis_client: aioredis.Redis) -> None:
    """A record is stored as one Redis hash named by the key's SHA-256 and read back unchanged."""
    store = RedisAPIKeyStore(redis_client)
    key = create_api_key()
    record = _record(key, expires_at=2e9)
    await store.put(record)
    assert await store.get(record.key_hash) == record
    assert await redis_client.type(f"asgi_guard:apikey:{record.key_hash}") == b"hash"
    raw = await redis_client.hgetall(f"asgi_guard:apikey:{record.key_hash}")
    assert key.encode() not in b"".join([*raw.keys(), *raw.values()])
    assert await store.get(hash_api_key(create_api_key())) is None


async def test_revoke_and_touch(redis_client: aioredis.Redis) -> None:
    """Revoking flags the record; touch writes last-used only for keys that still exist."""
    store = RedisAPIKeyStore(redis_client, prefix="t:")
    record = _record(create_api_key())
    await store.put(record)
    assert await store.revoke(record.key_hash)
    assert not await store.revoke("0" * 64)
    await store.touch({record.key_hash: 123.25, "f" * 64: 1.0})
    await store.touch({})
    stored = await store.get(record.key_hash)
    assert stored is not None
    assert stored.revoked
    assert stored.last_used_at == 123.25
    assert not await redis_client.exists("t:" + "f" * 64)
    await store.put(_record(create_api_key(), key_hash=record.key_hash, name="replaced"))
    replaced = await store.get(record.key_hash)
    assert replaced is not None
    assert replaced.name == "replaced"
    assert not replaced.revoked


async def test_middleware_with_redis_keys_flushes_last_used_on_shutdown(redis_client: aioredis.Redis) -> None:
    """A key in Redis authenticates; its last-used time is written on lifespan shutdown, not per request."""
    store = RedisAPIKeyStore(redis_client)
    key = create_api_key()
    await store.put(_record(key))
    middleware = AuthenticationMiddleware(ok_app, AuthConfig(api_key=APIKeyAuth(store=store)))
    for _ in range(3):
        assert (await call(middleware, make_scope(headers={"x-api-key": key}))).status == 200
    record = await store.get(hash_api_key(key))
    assert record is not None
    assert record.last_used_at is None
    await middleware.shutdown()
    record = await store.get(hash_api_key(key))
    assert record is not None
    assert record.last_used_at is not None
    assert abs(record.last_used_at - time.time()) < 60


async def test_logout_on_one_instance_is_refused_by_another(redis_server: RedisServer) -> None:
    """A token revoked through instance A's TokenService is refused by instance B within 100 ms."""
    keyring = KeyRing.single(b"s" * 32)
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(2)]
    stores = [RedisRevocationStore(client) for client in clients]
    instances = [
        AuthenticationMiddleware(
            ok_app, AuthConfig(jwt=JWTAuth(keyring=keyring, revocation=s, issuer=None, audience=None))
        )
        for s in stores
    ]
    for instance in instances:
        await instance.startup()
    try:
        service = TokenService(keyring, stores[0])
        token = service.issue_access("u1")
        scope_headers = {"authorization": f"Bearer {token}"}
        assert (await call(instances[1], make_scope(headers=scope_headers))).status == 200
        await service.revoke(token)
        started = time.monotonic()
        status = 200
        while time.monotonic() - started < 1.0:
            status = (await call(instances[1], make_scope(headers=scope_headers))).status
            if status == 401:
                break
            await asyncio.sleep(0.001)
        assert status == 401
        assert time.monotonic() - started < 0.1
    finally:
        for instance in instances:
            await instance.shutdown()
        for client in clients:
            await client.aclose()
