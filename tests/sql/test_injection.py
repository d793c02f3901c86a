"""SQL injection through every field a client controls changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import func, select

from asgi_guard.auth.api_keys import APIKeyRecord, create_api_key, hash_api_key
from asgi_guard.provider_tokens import ProviderToken
from asgi_guard.sealing import SealingKeyRing
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, SQLProviderTokenStore, SQLRevocationStore
from asgi_guard.sql.schema import TABLES
from tests.sql.app import build_app

pytestmark = pytest.mark.anyio
RING = SealingKeyRing({"k": bytes(32)}, current="k")
ATTACKS = (
    "' OR '1'='1",
    "x'; DROP TABLE asgi_guard_api_keys; --",
    'x"; DROP TABLE asgi_guard_api_keys; --',
    "'); DELETE FROM asgi_guard_provider_tokens; --",
    "1; UPDATE asgi_guard_api_keys SET revoked = true",
    "%",
    "_",
    "\\",
    "$1",
    ":key_hash",
    "%(key_hash)s",
    "' UNION SELECT key_hash, record, revoked, created_at, expires_at, last_used_at FROM asgi_guard_api_keys --",
    "\u02bc OR 1=1 --",  # a modifier apostrophe some drivers once folded into a quote
)


async def counts(db: SQLDatabase) -> dict[str, int]:
    async with db.engine.connect() as connection:
        return {
            table.name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for table in TABLES
        }


async def test_injection_attempts_change_nothing(sql_db: SQLDatabase) -> None:
    """Hostile key hashes, names, owners, user ids, provider names and token ids are data, never SQL."""
    keys, tokens = SQLAPIKeyStore(sql_db, cache_ttl=0), SQLProviderTokenStore(sql_db, RING)
    revocation = SQLRevocationStore(sql_db)
    canary = APIKeyRecord(key_hash=hash_api_key(create_api_key()), owner_id="canary", created_at=1.0)
    await keys.put(canary)
    await tokens.put(ProviderToken(user_id="canary", provider="twitch", access_token="at"))
    before = await counts(sql_db)
    for attack in ATTACKS:
        assert await keys.get(attack) is None
        assert not await keys.revoke(attack)
        await keys.touch({attack: 5.0})
        assert await tokens.get(attack, "twitch") is None
        assert await tokens.get("canary", attack) is None
        assert not await tokens.delete(attack, attack)
        assert not await tokens.delete("canary", attack)
        assert await tokens.list_for_user(attack) == []
        assert not await revocation.is_revoked([attack])
    assert await counts(sql_db) == before
    assert await keys.get(canary.key_hash) == canary
    # Hostile text stored as data comes back as data, and the tables are intact.
    for index, attack in enumerate(ATTACKS):
        record = APIKeyRecord(
            key_hash=hash_api_key(create_api_key()),
            name=attack,
            owner_id=attack,
            permissions=frozenset({attack}),
            communities={attack: frozenset({attack})},
            created_at=2.0 + index,
        )
        await keys.put(record)
        assert await keys.get(record.key_hash) == record
        token = ProviderToken(user_id=attack, provider=attack, access_token=attack, scopes=(attack,))
        await tokens.put(token)
        assert await tokens.list_for_user(attack) == [token]
        await revocation.revoke(attack, time.time() + 60)
        assert await revocation.is_revoked([attack])
        assert await revocation.claim_refresh(attack, time.time() + 60) is None
    after = await counts(sql_db)
    assert after["asgi_guard_api_keys"] == before["asgi_guard_api_keys"] + len(ATTACKS)
    assert after["asgi_guard_provider_tokens"] == before["asgi_guard_provider_tokens"] + len(ATTACKS)
    assert await keys.get(canary.key_hash) == canary
    assert not (await keys.get(canary.key_hash) or canary).revoked
    await revocation.aclose()


async def test_injection_through_http_headers_is_refused(sql_db: SQLDatabase) -> None:
    """Hostile API-key and bearer headers are refused with 401, and the tables are unchanged."""
    app, _ = build_app(sql_db)
    before = await counts(sql_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://guarded") as client:
        for attack in ATTACKS:
            for headers in (
                {"x-api-key": attack},
                {"x-api-key": f"wa-{attack}"},
                {"authorization": f"Bearer {attack}"},
            ):
                response = await client.get("/", headers={name: value.encode() for name, value in headers.items()})
                assert response.status_code == 401
    assert await counts(sql_db) == before
