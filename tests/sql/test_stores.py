"""One store behaviour, four backends: memory, Redis, SQLite, PostgreSQL (real servers)."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_guard.auth.api_keys import APIKeyRecord, MemoryAPIKeyStore, create_api_key, hash_api_key
from asgi_guard.auth.redis_keys import RedisAPIKeyStore
from asgi_guard.auth.redis_revocation import RedisRevocationStore
from asgi_guard.auth.revocation import MemoryRevocationStore
from asgi_guard.provider_tokens import MemoryProviderTokenStore, ProviderToken
from asgi_guard.sealing import SealingKeyRing
from asgi_guard.sql import SQLAPIKeyStore, SQLProviderTokenStore, SQLRevocationStore
from tests.redis_servers import REDIS_CLI
from tests.sql.conftest import open_db

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

RING = SealingKeyRing({"k1": bytes(range(32))}, current="k1")
BACKENDS = ["memory", "redis", "sqlite", "postgresql"]
# Any text but NUL for the ids PostgreSQL keys rows by (ProviderToken refuses NUL in ids).
ids = st.text(min_size=1, max_size=30).filter(lambda text: "\x00" not in text)


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(name, url) of each backend; the session's servers and databases are reused."""
    name: str = request.param
    if name == "memory":
        return name, ""
    if name == "redis":
        server = request.getfixturevalue("redis_server")
        subprocess.run([REDIS_CLI, "-p", str(server.port), "flushall"], capture_output=True, timeout=5, check=True)
        return name, server.url
    return name, request.getfixturevalue("pg_url" if name == "postgresql" else "sqlite_url")


@pytest.fixture
async def backend(backend_url: tuple[str, str]) -> AsyncIterator[tuple[str, Any]]:
    """(name, handle): nothing for memory, a Redis client, or a fresh SQL database."""
    name, url = backend_url
    if name == "memory":
        yield name, None
    elif name == "redis":
        client = aioredis.Redis.from_url(url)
        yield name, client
        await client.aclose()
    else:
        db = await open_db(url)
        yield name, db
        await db.aclose()


def key_store(backend: tuple[str, Any]) -> Any:
    name, handle = backend
    if name == "memory":
        return MemoryAPIKeyStore()
    if name == "redis":
        return RedisAPIKeyStore(handle)
    return SQLAPIKeyStore(handle)


async def revocation_store(backend: tuple[str, Any]) -> Any:
    name, handle = backend
    store: Any
    if name == "memory":
        store = MemoryRevocationStore()
    elif name == "redis":
        store = RedisRevocationStore(handle)
    else:
        store = SQLRevocationStore(handle)
    await store.start()
    return store


def provider_store(backend: tuple[str, Any]) -> Any:
    name, handle = backend
    if name in ("memory", "redis"):  # the Redis provider store belongs to the OAuth package
        return MemoryProviderTokenStore(RING)
    return SQLProviderTokenStore(handle, RING)


def record(key_hash: str | None = None, **changes: Any) -> APIKeyRecord:
    fields: dict[str, Any] = {
        "key_hash": key_hash or hash_api_key(create_api_key()),
        "name": "ci-deploy",
        "owner_id": "owner-1",
        "permissions": frozenset({"action:execute", "profile:view"}),
        "role": "action",
        "owner_roles": frozenset({"user"}),
        "communities": {"c1": frozenset({"moderator"}), "c2": frozenset()},
        "created_at": 1_800_000_000.0,
        "expires_at": 1_900_000_000.5,
    }
    fields.update(changes)
    return APIKeyRecord(**fields)


@pytest.mark.anyio
class TestStoreBehaviour:
    """The same contract holds on every backend."""

    async def test_api_key_put_get_revoke_touch_list(self, backend: tuple[str, Any]) -> None:
        """Records round-trip; revoke marks one; touch writes last-used in a batch; list sees all."""
        store = key_store(backend)
        first, second = record(created_at=1.0), record(created_at=2.0, expires_at=None, name="")
        await store.put(first)
        await store.put(second)
        assert await store.get(first.key_hash) == first
        assert await store.get(second.key_hash) == second
        assert await store.get(hash_api_key(create_api_key())) is None
        assert await store.revoke(first.key_hash)
        assert not await store.revoke(hash_api_key(create_api_key()))
        got = await store.get(first.key_hash)
        assert got is not None
        assert got.revoked
        await store.touch({first.key_hash: 123.5, second.key_hash: 456.25, "f" * 64: 1.0})
        await store.touch({})
        listed = await store.list()
        assert [item.key_hash for item in listed] == [first.key_hash, second.key_hash]
        assert [item.last_used_at for item in listed] == [123.5, 456.25]
        assert await store.get("f" * 64) is None  # touch never creates a stub
        replaced = record(first.key_hash, name="renamed", created_at=1.0)
        await store.put(replaced)
        assert await store.get(first.key_hash) == replaced

    async def test_revocation_and_refresh_claims(self, backend: tuple[str, Any]) -> None:
        """Revoked ids are refused until they expire; a refresh token's first claim wins, later ones see it."""
        store = await revocation_store(backend)
        try:
            now = time.time()
            assert not await store.is_revoked(["jti-1", "fam-1"])
            await store.revoke("fam-1", now + 60)
            await store.revoke("gone", now - 1)  # already expired: nothing to keep
            assert await store.is_revoked(["jti-1", "fam-1"])
            assert not await store.is_revoked(["gone"])
            assert await store.claim_refresh("r-1", now + 60) is None
            first = await store.claim_refresh("r-1", now + 60)
            assert first is not None
            assert abs(first - now) < 30
            assert await store.claim_refresh("r-1", now + 60) == first
        finally:
            await store.aclose()

    async def test_provider_tokens(self, backend: tuple[str, Any]) -> None:
        """Provider tokens round-trip per (user, provider), list by provider, delete."""
        store = provider_store(backend)
        token = ProviderToken(
            user_id="u1", provider="twitch", access_token="at", refresh_token="rt", scopes=("openid",), expires_at=5.0
        )
        await store.put(token)
        await store.put(msgspec.structs.replace(token, provider="discord", refresh_token=None))
        assert await store.get("u1", "twitch") == token
        assert [item.provider for item in await store.list_for_user("u1")] == ["discord", "twitch"]
        assert await store.delete("u1", "twitch")
        assert not await store.delete("u1", "twitch")
        assert await store.get("u1", "twitch") is None

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        name=st.text(max_size=40),
        owner=st.text(min_size=1, max_size=40),
        permissions=st.frozensets(st.text(max_size=20), max_size=4),
        communities=st.dictionaries(st.text(max_size=20), st.frozensets(st.text(max_size=10), max_size=3), max_size=3),
        user=ids,
        provider=ids,
        secret=st.text(max_size=100),
        scopes=st.lists(st.text(max_size=20), max_size=4),
    )
    async def test_arbitrary_strings_round_trip(
        self,
        backend: tuple[str, Any],
        name: str,
        owner: str,
        permissions: frozenset[str],
        communities: dict[str, frozenset[str]],
        user: str,
        provider: str,
        secret: str,
        scopes: list[str],
    ) -> None:
        """Any names, owners (NUL included), permissions, ids and secrets come back exactly."""
        keys = key_store(backend)
        original = record(name=name, owner_id=owner, permissions=permissions, communities=communities)
        await keys.put(original)
        assert await keys.get(original.key_hash) == original
        tokens = provider_store(backend)
        token = ProviderToken(
            user_id=user, provider=provider, access_token=secret, refresh_token=secret[::-1], scopes=tuple(scopes)
        )
        await tokens.put(token)
        assert await tokens.get(user, provider) == token
        revocations = await revocation_store(backend)
        try:
            await revocations.revoke(secret or owner, time.time() + 60)
            assert await revocations.is_revoked([secret or owner])
        finally:
            await revocations.aclose()
