"""API-key records in SQL, with a bounded in-process cache the request path reads first.

The cache holds positive and negative answers for ``cache_ttl`` seconds, and is trusted only while
the change feed is healthy: every ``put`` and ``revoke`` notifies all instances (PostgreSQL
LISTEN/NOTIFY), which drop their cached answers. While the feed is down, lookups go to the database
on every request (``on_feed_loss="lookup"``) or are refused (``"deny"``); the cache is emptied on
loss and on every reconnection, so an answer learnt before a missed notification is never reused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from sqlalchemy import bindparam, select, update

from asgi_guard.auth.api_keys import APIKeyRecord
from asgi_guard.auth.cache import VerificationCache
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError
from asgi_guard.sql.schema import api_keys
from asgi_guard.sql.statements import notify, upsert

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_guard.sql.database import SQLDatabase

FeedLossMode = Literal["lookup", "deny"]
_STORED_APART: Final = ("key_hash", "revoked", "last_used_at")
_encoder: Final = msgspec.json.Encoder(order="sorted")


class APIKeyStoreUnavailable(Exception):
    """The change feed is down and ``on_feed_loss="deny"``: the caller refuses the request (503)."""


def _record_json(record: APIKeyRecord) -> str:
    data = {name: value for name, value in msgspec.to_builtins(record).items() if name not in _STORED_APART}
    return _encoder.encode(data).decode("utf-8")


def _to_record(row: Any) -> APIKeyRecord:
    data = msgspec.json.decode(row.record)
    data.update(key_hash=row.key_hash, revoked=bool(row.revoked), last_used_at=row.last_used_at)
    return msgspec.convert(data, APIKeyRecord)


class SQLAPIKeyStore:
    """An :class:`~asgi_guard.auth.api_keys.APIKeyStore` on PostgreSQL or SQLite.

    Args:
        db: the shared :class:`~asgi_guard.sql.SQLDatabase`.
        cache_ttl: seconds a looked-up answer (found or not) is reused while the feed is healthy (0: no cache).
        cache_size: the cache bound (least recently used first out).
        on_feed_loss: ``"lookup"`` (one query per request while the feed is down) or ``"deny"``.
        clock: the time source.
    """

    __slots__ = ("_cache", "_clock", "_db", "_generation", "_started", "cache_ttl", "on_feed_loss")

    def __init__(
        self,
        db: SQLDatabase,
        *,
        cache_ttl: float = 10.0,
        cache_size: int = 10_000,
        on_feed_loss: FeedLossMode = "lookup",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if on_feed_loss not in ("lookup", "deny"):
            raise ConfigurationError.expected("'lookup' or 'deny'", on_feed_loss, "SQLAPIKeyStore.on_feed_loss")
        if not 0 <= cache_ttl <= 300:
            raise ConfigurationError.expected("a cache_ttl of 0 to 300 seconds", cache_ttl, "SQLAPIKeyStore")
        self._db = db
        self.cache_ttl = cache_ttl
        self.on_feed_loss = on_feed_loss
        self._clock = clock
        self._cache: VerificationCache[tuple[APIKeyRecord | None]] = VerificationCache(cache_size)
        self._generation = 0
        self._started = False
        db.feed.subscribe(self)

    async def start(self) -> None:
        """Start the shared change feed (done on first use otherwise)."""
        self._started = True
        await self._db.start()

    async def get(self, key_hash: str) -> APIKeyRecord | None:
        if not self._started:
            await self.start()
        if not self._db.feed.healthy:
            if self.on_feed_loss == "deny":
                raise APIKeyStoreUnavailable("change feed lost")
            return await self._fetch(key_hash)
        now = self._clock.time()
        hit = self._cache.get(key_hash, now)
        if hit is not None:
            return hit[0]
        generation = self._generation
        record = await self._fetch(key_hash)
        # Cache only if nothing changed meanwhile: a notification during the query may concern this key.
        if self.cache_ttl and generation == self._generation and self._db.feed.healthy:
            self._cache.put(key_hash, (record,), now + self.cache_ttl)
        return record

    async def _fetch(self, key_hash: str) -> APIKeyRecord | None:
        async with self._db.reader.connect() as connection:
            row = (await connection.execute(select(api_keys).where(api_keys.c.key_hash == key_hash))).first()
        return None if row is None else _to_record(row)

    async def put(self, record: APIKeyRecord) -> None:
        values = {
            "key_hash": record.key_hash,
            "record": _record_json(record),
            "revoked": record.revoked,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
            "last_used_at": record.last_used_at,
        }
        async with self._db.engine.begin() as connection:
            await connection.execute(upsert(connection, api_keys, values, ("key_hash",)))
            await notify(connection, "k:" + record.key_hash)
        self.on_change("k:" + record.key_hash)

    async def revoke(self, key_hash: str) -> bool:
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(api_keys).where(api_keys.c.key_hash == key_hash).values(revoked=True)
            )
            found = bool(result.rowcount)
            if found:
                await notify(connection, "k:" + key_hash)
        self.on_change("k:" + key_hash)
        return found

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        statement = update(api_keys).where(api_keys.c.key_hash == bindparam("h")).values(last_used_at=bindparam("t"))
        async with self._db.engine.begin() as connection:
            await connection.execute(statement, [{"h": key_hash, "t": when} for key_hash, when in last_used.items()])

    async def list(self) -> list[APIKeyRecord]:
        """Every record, oldest first (for the CLI and admin tools; never on the request path)."""
        async with self._db.reader.connect() as connection:
            rows = await connection.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_hash))
            return [_to_record(row) for row in rows]

    # Feed subscriber: any change empties the cache (changes are rare; a precise drop is not worth a race).
    def on_change(self, payload: str) -> None:
        if payload.startswith("k:"):
            self._generation += 1
            self._cache.clear()

    async def resync(self) -> None:
        self.on_loss()

    def on_loss(self) -> None:
        self._generation += 1
        self._cache.clear()

    def __repr__(self) -> str:
        return f"SQLAPIKeyStore({self._db!r}, cache_ttl={self.cache_ttl!r}, on_feed_loss={self.on_feed_loss!r})"


__all__ = ("APIKeyStoreUnavailable", "FeedLossMode", "SQLAPIKeyStore")
