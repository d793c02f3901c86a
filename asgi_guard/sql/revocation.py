"""Token revocation and refresh-token claims in SQL, answered from an in-memory mirror.

``revoke`` writes the id's SHA-256 with its expiry and notifies every instance in the same
transaction; each instance keeps the revoked set in memory (loaded on every feed (re)connection,
kept current by notifications), so ``is_revoked`` costs no query. While the feed is down a check
queries the table (``on_feed_loss="lookup"``) or refuses (``"deny"``); a failed query raises
:class:`~asgi_guard.auth.revocation.RevocationUnavailable`: the token is refused, never trusted.

``claim_refresh`` is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: of any number of
concurrent claims of one refresh token, exactly one inserts (the first use), on PostgreSQL and SQLite.
Expired rows are purged every ``purge_every`` writes (the tokens they refuse are dead anyway).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Final, Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from asgi_guard._tasks import retrieve
from asgi_guard.auth.revocation import ExpiringSet, RevocationUnavailable
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError
from asgi_guard.sql.schema import refresh_claims, revocations
from asgi_guard.sql.statements import insert_for, notify, upsert

if TYPE_CHECKING:
    from collections.abc import Iterable

    from asgi_guard.sql.database import SQLDatabase

FeedLossMode = Literal["lookup", "deny"]
_log: Final = logging.getLogger("asgi_guard.sql")


def id_hash(token_id: str) -> str:
    """The stored form of a token or family id (a dump names no token)."""
    return hashlib.sha256(token_id.encode("utf-8", "surrogatepass")).hexdigest()


class SQLRevocationStore:
    """A :class:`~asgi_guard.auth.revocation.RevocationStore` on PostgreSQL or SQLite.

    Args:
        db: the shared :class:`~asgi_guard.sql.SQLDatabase`.
        on_feed_loss: ``"lookup"`` (one query per check while the feed is down) or ``"deny"``.
        lookup_timeout: seconds a fallback query may take before the check fails closed.
        purge_every: writes between two purges of expired rows.
        clock: the time source for expiries.
    """

    __slots__ = (
        "_clock",
        "_db",
        "_revoked",
        "_started",
        "_synced",
        "_writes",
        "lookup_timeout",
        "on_feed_loss",
        "purge_every",
    )

    def __init__(
        self,
        db: SQLDatabase,
        *,
        on_feed_loss: FeedLossMode = "lookup",
        lookup_timeout: float = 0.5,
        purge_every: int = 256,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if on_feed_loss not in ("lookup", "deny"):
            raise ConfigurationError.expected("'lookup' or 'deny'", on_feed_loss, "SQLRevocationStore.on_feed_loss")
        if purge_every < 1:
            raise ConfigurationError.expected("purge_every >= 1", purge_every, "SQLRevocationStore.purge_every")
        self._db = db
        self.on_feed_loss = on_feed_loss
        self.lookup_timeout = lookup_timeout
        self.purge_every = purge_every
        self._clock = clock
        self._revoked = ExpiringSet()
        self._writes = 0
        self._started = False
        self._synced = False  # the mirror holds every revocation committed before the feed went live
        db.feed.subscribe(self)

    @property
    def healthy(self) -> bool:
        """Whether checks are answered from memory (the feed is up and this mirror synced)."""
        return self._synced and self._db.feed.healthy

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        if not self._started:
            await self.start()
        live = self._synced and self._db.feed.healthy
        revoked = self._revoked
        if live and not len(revoked):  # the common case, asked on every request: nothing to look up
            return False
        hashes = [id_hash(token_id) for token_id in token_ids]
        now = self._clock.time()
        if any(revoked.get(digest, now) is not None for digest in hashes):
            return True
        if live:
            return False
        if self.on_feed_loss == "deny":
            raise RevocationUnavailable("revocation feed lost")
        # Shielded: a timed-out query runs to its end in the background and gives its pooled
        # connection back (cancelling it mid-checkout would leak the connection).
        lookup = asyncio.ensure_future(self._lookup(hashes, now))
        lookup.add_done_callback(retrieve)  # timed out or cancelled here, it may still fail later
        try:
            return await asyncio.wait_for(asyncio.shield(lookup), self.lookup_timeout)
        except TimeoutError as exc:
            raise RevocationUnavailable("revocation lookup timed out") from exc
        except (SQLAlchemyError, OSError) as exc:
            raise RevocationUnavailable("revocation lookup failed") from exc

    async def _lookup(self, hashes: list[str], now: float) -> bool:
        statement = select(revocations.c.id_hash).where(
            revocations.c.id_hash.in_(hashes), revocations.c.expires_at > now
        )
        async with self._db.reader.connect() as connection:
            return (await connection.execute(statement.limit(1))).first() is not None

    async def revoke(self, token_id: str, expires_at: float) -> None:
        now = self._clock.time()
        if expires_at <= now:
            return
        digest = id_hash(token_id)
        self._revoked.add(digest, expires_at, now)
        values = {"id_hash": digest, "expires_at": expires_at}
        async with self._db.engine.begin() as connection:
            later = revocations.c.expires_at < insert_for(connection, revocations).excluded.expires_at
            await connection.execute(upsert(connection, revocations, values, ("id_hash",), where=later))
            await notify(connection, f"r:{digest} {expires_at!r}")
        await self._count_write()

    async def claim_refresh(self, token_id: str, expires_at: float) -> float | None:
        now = self._clock.time()
        digest = id_hash(token_id)
        async with self._db.engine.begin() as connection:
            statement = (
                insert_for(connection, refresh_claims)
                .values(id_hash=digest, first_used_at=now, expires_at=max(expires_at, now))
                .on_conflict_do_nothing(index_elements=["id_hash"])
                .returning(refresh_claims.c.id_hash)
            )
            if (await connection.execute(statement)).first() is not None:
                first: float | None = None
            else:
                query = select(refresh_claims.c.first_used_at).where(refresh_claims.c.id_hash == digest)
                first = (await connection.execute(query)).scalar_one()
        await self._count_write()
        return first

    async def purge_expired(self) -> int:
        """Delete rows whose tokens have expired; returns how many."""
        now = self._clock.time()
        async with self._db.engine.begin() as connection:
            gone = await connection.execute(delete(revocations).where(revocations.c.expires_at <= now))
            used = await connection.execute(delete(refresh_claims).where(refresh_claims.c.expires_at <= now))
        return int(gone.rowcount) + int(used.rowcount)

    async def _count_write(self) -> None:
        self._writes += 1
        if self._writes % self.purge_every == 0:
            await self.purge_expired()

    async def start(self, timeout: float = 2.0) -> None:
        """Start the shared change feed and load the revoked set (idempotent)."""
        self._started = True
        await self._db.start(timeout)
        if not self._synced and self._db.feed.healthy:
            # A store made after the feed went live was not part of its resync: load now. Failing
            # here leaves checks on the lookup/deny path until the feed's next resync.
            try:
                await self.resync()
            except Exception as exc:  # the database is unreachable: fall back, never trust an empty mirror
                _log.warning("revocation mirror not loaded (%s); checks fall back", type(exc).__name__)

    async def aclose(self) -> None:
        """Stop the shared feed (the database handle stays usable)."""
        self._started = False
        await self._db.feed.aclose()

    # Feed subscriber.
    def on_change(self, payload: str) -> None:
        if not payload.startswith("r:"):
            return
        digest, _, expiry = payload[2:].partition(" ")
        try:
            expires_at = float(expiry)
        except ValueError:
            return  # not ours
        self._revoked.add(digest, expires_at, self._clock.time())

    async def resync(self) -> None:
        now = self._clock.time()
        statement = select(revocations.c.id_hash, revocations.c.expires_at).where(revocations.c.expires_at > now)
        async with self._db.reader.connect() as connection:
            loaded = {row.id_hash: row.expires_at for row in await connection.execute(statement)}
        # A union with what is known: forgetting a revocation is never safe, remembering it longer is.
        self._revoked.merge(loaded, now)
        self._synced = True

    def on_loss(self) -> None:
        return None  # the mirror is only ever added to; the loss changes how misses are answered

    def __repr__(self) -> str:
        return f"SQLRevocationStore({self._db!r}, on_feed_loss={self.on_feed_loss!r})"


__all__ = ("FeedLossMode", "SQLRevocationStore", "id_hash")
