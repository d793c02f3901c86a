"""Refresh rotation on the SQL revocation store: 50 concurrent refreshes mint one pair; reuse after the
grace revokes the family (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from asgi_guard.auth.keyring import JWTKey, KeyRing
from asgi_guard.auth.revocation import MemoryRevocationStore
from asgi_guard.auth.tokens import TokenService
from asgi_guard.auth.verifier import JWTVerifier
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.sql import SQLDatabase, SQLRevocationStore
from asgi_guard.testing import FakeClock

pytestmark = pytest.mark.anyio
SECRET = b"r" * 32


def service(store: object, clock: FakeClock) -> TokenService:
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET)])
    return TokenService(ring, store, clock=clock, reuse_grace=10)  # type: ignore[arg-type]


async def test_fifty_concurrent_refreshes_mint_exactly_one_pair(sql_db: SQLDatabase) -> None:
    """Every refresh racing on one token gets the same pair; a later reuse revokes the whole family."""
    clock = FakeClock(1_800_000_000.0)
    store = SQLRevocationStore(sql_db, clock=clock)
    await store.start()
    tokens = service(store, clock)
    pair = tokens.issue_pair("u1", roles=["user"])
    results = await asyncio.gather(*(tokens.refresh(pair.refresh_token) for _ in range(50)))
    assert len({(result.access_token, result.refresh_token) for result in results}) == 1
    rotated = results[0]
    assert rotated.refresh_token != pair.refresh_token
    # The rotated pair works and rotates in turn (its own first use).
    clock.advance(1)
    again = await tokens.refresh(rotated.refresh_token)
    assert again.refresh_token != rotated.refresh_token
    # Reuse of the original token after the grace: refused, and the family is revoked.
    clock.advance(11)
    with pytest.raises(GuardError) as info:
        await tokens.refresh(pair.refresh_token)
    assert info.value.code is ErrorCode.TOKEN_REVOKED
    assert info.value.reason == "refresh_reuse_detected"
    verifier = JWTVerifier(tokens.keyring, clock=clock, cache_size=0)
    for token in (pair.access_token, rotated.access_token, again.access_token):
        assert await store.is_revoked(verifier.verify(token).revocation_ids)
    with pytest.raises(GuardError, match="token_revoked"):
        await tokens.refresh(again.refresh_token)
    await store.aclose()


async def test_two_instances_racing_share_one_pair(sql_db: SQLDatabase) -> None:
    """Two service instances (two stores on one database) racing on one token still mint one pair."""
    clock = FakeClock(1_800_000_000.0)
    other_db = SQLDatabase(sql_db.url)
    first, second = SQLRevocationStore(sql_db, clock=clock), SQLRevocationStore(other_db, clock=clock)
    try:
        for store in (first, second):  # both mirrors live: the race is on the claims, not on fallback lookups
            await store.start(timeout=15)
            assert store.healthy
        one, two = service(first, clock), service(second, clock)
        pair = one.issue_pair("u1")
        results = await asyncio.gather(
            *(instance.refresh(pair.refresh_token) for _ in range(10) for instance in (one, two))
        )
        assert len({result.refresh_token for result in results}) == 1
    finally:
        await other_db.aclose()


async def test_memory_store_rotation_is_idempotent_too() -> None:
    """The same derivation holds on the memory store: a racing reuse inside the grace gets the same pair."""
    clock = FakeClock(1_800_000_000.0)
    tokens = service(MemoryRevocationStore(clock=clock), clock)
    pair = tokens.issue_pair("u1")
    first = await tokens.refresh(pair.refresh_token)
    clock.advance(3)
    assert await tokens.refresh(pair.refresh_token) == first
