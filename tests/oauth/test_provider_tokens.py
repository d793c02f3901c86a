"""Provider tokens: kept sealed at login, refreshed single-flight (memory and two instances on Redis),
validated for Twitch, revoked at the provider on logout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from asgi_guard.oauth import (
    CompositeProviderTokenStore,
    ProviderClient,
    ProviderTokens,
    ProviderTokenUnavailable,
    RedisProviderTokenStore,
    RedisRefreshLock,
)
from asgi_guard.provider_tokens import MemoryProviderTokenStore, ProviderToken
from tests.oauth.conftest import RING, Stack
from tests.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.server]

USER = "discord:141981764"


async def _login(stack: Stack, provider: str = "discord") -> dict[str, str]:
    async with stack.client() as client:
        response = await stack.login(client, provider)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def _expire_soon(store: object, user: str, provider: str) -> ProviderToken:
    """Move the stored access token to 10 s before expiry (inside the refresh margin)."""
    token = await store.get(user, provider)  # type: ignore[attr-defined]
    assert token is not None
    soon = msgspec.structs.replace(token, expires_at=time.time() + 10)
    await store.put(soon)  # type: ignore[attr-defined]
    return soon


async def test_login_keeps_the_provider_tokens(stack: Stack) -> None:
    """After a Discord login the access and refresh tokens are stored for our user, with expiry and scopes."""
    await _login(stack)
    token = await stack.provider_tokens.store.get(USER, "discord")
    assert token is not None
    assert token.refresh_token
    assert token.provider_user_id == "141981764"
    assert token.scopes == ("identify", "email")
    assert token.expires_at is not None
    assert token.expires_at > time.time() + 600_000  # Discord: 7 days
    assert await stack.provider_tokens.get_fresh_token(USER, "discord") == token.access_token


async def test_fifty_concurrent_calls_refresh_once_in_memory(stack: Stack) -> None:
    """50 coroutines asking for a token about to expire cause exactly one refresh at the provider."""
    await _login(stack)
    old = await _expire_soon(stack.provider_tokens.store, USER, "discord")
    idp = stack.idps["discord"]
    before = idp.refreshes
    results = await asyncio.gather(*(stack.provider_tokens.get_fresh_token(USER, "discord") for _ in range(50)))
    assert idp.refreshes - before == 1
    assert len(set(results)) == 1
    assert results[0] != old.access_token
    fresh = await stack.provider_tokens.store.get(USER, "discord")
    assert fresh is not None
    assert fresh.refresh_token != old.refresh_token  # Discord rotates refresh tokens
    assert old.refresh_token not in idp.by_refresh  # and the old one is dead at the provider
    assert [event.result for event in stack.events_of("provider_token_refresh")] == ["allow"]


@pytest.mark.redis
async def test_fifty_concurrent_calls_across_two_instances_refresh_once(
    stack: Stack, redis_client: aioredis.Redis
) -> None:
    """Two instances sharing Redis (sealed store + lock), 25 callers each: one refresh at the provider."""
    await _two_instances(stack, redis_client)


@pytest.mark.cluster
async def test_fifty_concurrent_calls_across_two_instances_on_a_cluster_refresh_once(
    stack: Stack, cluster_client: AsyncRedisCluster
) -> None:
    """The same on a 3-master Redis Cluster: the store's keys share a slot, the lock is redis-py's."""
    await _two_instances(stack, cluster_client)


async def _two_instances(stack: Stack, redis_client: Any) -> None:
    await _login(stack)
    instances = []
    for _ in range(2):
        manager = ProviderTokens(RedisProviderTokenStore(redis_client, RING), lock=RedisRefreshLock(redis_client))
        manager.attach(stack.app.clients)
        instances.append(manager)
    token = await stack.provider_tokens.store.get(USER, "discord")
    assert token is not None
    await instances[0].store.put(msgspec.structs.replace(token, expires_at=time.time() + 10))
    idp = stack.idps["discord"]
    before = idp.refreshes
    calls = [instances[index % 2].get_fresh_token(USER, "discord") for index in range(50)]
    results = await asyncio.gather(*calls)
    assert idp.refreshes - before == 1
    assert len(set(results)) == 1
    stored = await instances[1].store.get(USER, "discord")
    assert stored is not None
    assert stored.access_token == results[0]


@pytest.mark.redis
async def test_redis_store_is_sealed_with_ttl_of_the_remaining_lifetime(redis_client: aioredis.Redis) -> None:
    """The record in Redis is sealed (no token in plaintext) and expires with the access token."""
    store = RedisProviderTokenStore(redis_client, RING, prefix="t")
    token = ProviderToken(
        user_id="u:1}{x",
        provider="twitch",
        access_token="ACCESS-SECRET",
        refresh_token="REFRESH-SECRET",
        expires_at=time.time() + 3600,
    )
    await store.put(token)
    keys = sorted(key.decode() for key in await redis_client.keys("t:*"))
    assert keys == ["t:{u%3A1%7D%7Bx}:index", "t:{u%3A1%7D%7Bx}:twitch"]
    raw = await redis_client.get("t:{u%3A1%7D%7Bx}:twitch")
    assert b"SECRET" not in raw
    assert 3590 <= await redis_client.ttl("t:{u%3A1%7D%7Bx}:twitch") <= 3600
    assert await store.get("u:1}{x", "twitch") == token
    assert await store.list_for_user("u:1}{x") == [token]
    await redis_client.delete("t:{u%3A1%7D%7Bx}:twitch")  # expired
    assert await store.list_for_user("u:1}{x") == []
    assert await store.delete("u:1}{x", "twitch") is False


@pytest.mark.redis
async def test_composite_keeps_refresh_durable_and_refreshes_after_the_access_half_expires(
    stack: Stack, redis_client: aioredis.Redis, clients: dict[str, ProviderClient]
) -> None:
    """Access in Redis (expiring), refresh in the durable store: once Redis forgets, the token is refreshed."""
    await _login(stack)
    token = await stack.provider_tokens.store.get(USER, "discord")
    assert token is not None
    durable = MemoryProviderTokenStore(RING)
    access = RedisProviderTokenStore(redis_client, RING)
    manager = ProviderTokens(CompositeProviderTokenStore(access, durable))
    manager.attach(clients)
    await manager.store.put(token)
    in_redis = await access.get(USER, "discord")
    in_durable = await durable.get(USER, "discord")
    assert in_redis is not None
    assert in_redis.refresh_token is None
    assert in_durable is not None
    assert in_durable.access_token == ""
    assert in_durable.refresh_token
    assert await manager.get_fresh_token(USER, "discord") == token.access_token
    await access.delete(USER, "discord")
    before = stack.idps["discord"].refreshes
    fresh = await manager.get_fresh_token(USER, "discord")
    assert stack.idps["discord"].refreshes - before == 1
    assert fresh != token.access_token
    assert [stored.provider for stored in await manager.store.list_for_user(USER)] == ["discord"]
    assert await manager.store.delete(USER, "discord") is True
    assert await manager.store.get(USER, "discord") is None


async def test_dead_grant_is_dropped_and_needs_reauthorization(stack: Stack) -> None:
    """A refresh the provider refuses (revoked grant) deletes the record: the user must log in again."""
    await _login(stack)
    token = await _expire_soon(stack.provider_tokens.store, USER, "discord")
    stack.idps["discord"].by_refresh.pop(token.refresh_token or "")
    with pytest.raises(ProviderTokenUnavailable, match="reauthorization_required"):
        await stack.provider_tokens.get_fresh_token(USER, "discord")
    assert await stack.provider_tokens.store.get(USER, "discord") is None
    with pytest.raises(ProviderTokenUnavailable, match="not_connected"):
        await stack.provider_tokens.get_fresh_token(USER, "discord")


async def test_lock_backend_down_fails_closed(stack: Stack) -> None:
    """When the shared lock cannot be taken (Redis unreachable), no refresh happens: lock_unavailable."""
    await _login(stack)
    await _expire_soon(stack.provider_tokens.store, USER, "discord")
    dead = aioredis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # no retries: fail fast
    manager = ProviderTokens(stack.provider_tokens.store, lock=RedisRefreshLock(dead))
    manager.attach(stack.app.clients)
    before = stack.idps["discord"].refreshes
    with pytest.raises(ProviderTokenUnavailable, match="lock_unavailable"):
        await manager.get_fresh_token(USER, "discord")
    assert stack.idps["discord"].refreshes == before
    await dead.aclose()


async def test_logout_revokes_session_and_provider_tokens(stack: Stack) -> None:
    """Logout revokes our access and refresh tokens and the provider's tokens, and deletes them here."""
    pair = await _login(stack)
    token = await stack.provider_tokens.store.get(USER, "discord")
    assert token is not None
    async with stack.client() as client:
        response = await client.post(
            "/auth/logout",
            headers={"Authorization": f"Bearer {pair['access_token']}"},
            json={"refresh_token": pair["refresh_token"]},
        )
        again = await client.post("/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
        refresh = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_session"
    assert refresh.status_code == 401
    idp = stack.idps["discord"]
    assert token.access_token in idp.revoked
    assert token.access_token not in idp.by_access
    assert token.refresh_token not in idp.by_refresh
    assert await stack.provider_tokens.store.list_for_user(USER) == []
    (logout,) = [event for event in stack.events_of("logout") if event.result == "allow"]
    assert logout.extra["provider_tokens"] == "1"


async def test_logout_completes_when_the_provider_token_store_fails(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our session is revoked first; the provider-token store failing afterwards is an event, never a 500."""
    pair = await _login(stack)

    async def down(self: object, user: str) -> list[object]:
        raise ConnectionError("provider token store down")

    monkeypatch.setattr(type(stack.provider_tokens.store), "list_for_user", down)
    async with stack.client() as client:
        response = await client.post("/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
        again = await client.post("/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert response.status_code == 200
    assert again.status_code == 401
    assert next(event.reason for event in stack.events_of("logout") if event.result == "deny") == (
        "provider_tokens:ConnectionError"
    )
    (logout,) = [event for event in stack.events_of("logout") if event.result == "allow"]
    assert logout.extra["provider_tokens"] == "failed"


@pytest.mark.parametrize("provider", ["twitch", "slack", "google"])
async def test_revocation_dialects(stack: Stack, provider: str, clients: dict[str, ProviderClient]) -> None:
    """Twitch (client_id + token), Slack (auth.revoke) and Google (RFC 7009) revocation all reach the provider."""
    await _login(stack, provider)
    user = f"{provider}:141981764"
    manager = ProviderTokens(stack.provider_tokens.store)
    manager.attach(clients)
    token = await manager.store.get(user, provider)
    assert token is not None
    assert await manager.revoke_provider_tokens(user) == 1
    assert token.access_token in stack.idps[provider].revoked
    # A second revocation of an already-revoked token is not an error.
    await clients[provider].revoke(token.access_token)


async def test_refresh_endpoint_rotates_our_session(stack: Stack) -> None:
    """/refresh trades our refresh token for a new pair; malformed or missing bodies are 401."""
    pair = await _login(stack)
    async with stack.client() as client:
        rotated = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        form = await client.post("/auth/refresh", data={"refresh_token": "nope"})
        garbage = await client.post("/auth/refresh", content=b"{", headers={"content-type": "application/json"})
        nothing = await client.post("/auth/refresh")
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != pair["refresh_token"]
    assert {form.status_code, garbage.status_code, nothing.status_code} == {401}


async def test_twitch_validation_drops_revoked_tokens(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """Twitch's /oauth2/validate: a valid token stays, a token revoked at Twitch is dropped (with an event)."""
    await _login(stack, "twitch")
    user = "twitch:141981764"
    manager = ProviderTokens(stack.provider_tokens.store, emitter=stack.provider_tokens.emitter)
    manager.attach(clients)
    assert await manager.validate_stored([user]) == 0
    token = await manager.store.get(user, "twitch")
    assert token is not None
    stack.idps["twitch"].by_access.pop(token.access_token)
    assert await manager.validate_stored([user]) == 1
    assert await manager.store.get(user, "twitch") is None
    assert [event.result for event in stack.events_of("provider_token_validate")] == ["deny"]


async def test_google_refresh_keeps_its_refresh_token(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """Google does not rotate refresh tokens: a refresh answer without one keeps the old one."""
    await _login(stack, "google")
    user = "google:141981764"
    manager = ProviderTokens(stack.provider_tokens.store)
    manager.attach(clients)
    old = await _expire_soon(manager.store, user, "google")
    fresh = await manager.get_fresh_token(user, "google")
    stored = await manager.store.get(user, "google")
    assert stored is not None
    assert fresh != old.access_token
    assert stored.refresh_token == old.refresh_token
    assert old.access_token not in repr(stored)


@pytest.mark.redis
async def test_composite_with_the_sql_store(
    stack: Stack, redis_client: aioredis.Redis, clients: dict[str, ProviderClient], tmp_path: Path
) -> None:
    """The seed's split for real: access token in Redis (TTL), refresh token sealed in SQL (SQLite here)."""
    from asgi_guard.sql import SQLDatabase, SQLProviderTokenStore, upgrade

    db = SQLDatabase(f"sqlite:///{tmp_path}/tokens.db")
    await upgrade(db)
    try:
        durable = SQLProviderTokenStore(db, RING)
        manager = ProviderTokens(CompositeProviderTokenStore(RedisProviderTokenStore(redis_client, RING), durable))
        manager.attach(clients)
        await _login(stack)
        token = await stack.provider_tokens.store.get(USER, "discord")
        assert token is not None
        await manager.store.put(token)
        in_sql = await durable.get(USER, "discord")
        assert in_sql is not None
        assert in_sql.access_token == ""
        assert in_sql.refresh_token == token.refresh_token
        await redis_client.flushall()  # the access half expired
        fresh = await manager.get_fresh_token(USER, "discord")
        assert fresh != token.access_token
        rotated = await durable.get(USER, "discord")
        assert rotated is not None
        assert rotated.refresh_token != token.refresh_token  # Discord's rotation reached SQL
    finally:
        await db.aclose()


def test_token_response_repr_hides_tokens() -> None:
    """Token responses never print their tokens."""
    from asgi_guard.oauth import TokenResponse

    assert "secret-value" not in repr(TokenResponse(access_token="secret-value", refresh_token="secret-value"))
