"""Smaller SQL-store behaviours: configuration checks, foreign notifications, purging, partial reseal, downgrade."""

from __future__ import annotations

import time

import pytest
from alembic import command
from sqlalchemy import update

from asgi_guard.errors import ConfigurationError
from asgi_guard.provider_tokens import ProviderToken, token_context
from asgi_guard.sealing import SealingKeyRing
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, SQLProviderTokenStore, SQLRevocationStore, current, upgrade
from asgi_guard.sql.database import tls_context
from asgi_guard.sql.migrate import _config
from asgi_guard.sql.schema import provider_tokens
from asgi_guard.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda db: SQLAPIKeyStore(db, on_feed_loss="open"), "on_feed_loss"),
        (lambda db: SQLAPIKeyStore(db, cache_ttl=301), "cache_ttl"),
        (lambda db: SQLRevocationStore(db, on_feed_loss="open"), "on_feed_loss"),
        (lambda db: SQLRevocationStore(db, purge_every=0), "purge_every"),
    ],
)
async def test_bad_store_options_are_configuration_errors(sqlite_db: SQLDatabase, build: object, match: str) -> None:
    """Unknown fail modes and out-of-range options fail at construction."""
    with pytest.raises(ConfigurationError, match=match):
        build(sqlite_db)  # type: ignore[operator]


def test_sqlite_urls_need_no_tls() -> None:
    """TLS options concern PostgreSQL only."""
    from asgi_guard.sql.database import normalise_url

    assert tls_context(normalise_url("sqlite:///x.db")) is None


async def test_foreign_notifications_are_ignored(sqlite_db: SQLDatabase) -> None:
    """Payloads that are not ours (another app on the channel) change nothing."""
    keys, revocation = SQLAPIKeyStore(sqlite_db), SQLRevocationStore(sqlite_db)
    await revocation.start()
    for payload in ("hello", "r:abc not-a-number", "k"):
        keys.on_change(payload)
        revocation.on_change(payload)
    assert not await revocation.is_revoked(["abc"])
    assert revocation.healthy
    assert "SQLRevocationStore" in repr(revocation)
    assert "SQLAPIKeyStore" in repr(keys)
    await revocation.aclose()


async def test_expired_rows_are_purged(sqlite_db: SQLDatabase) -> None:
    """Every `purge_every` writes, rows whose tokens have expired are deleted."""
    clock = FakeClock(1_800_000_000.0)
    store = SQLRevocationStore(sqlite_db, purge_every=3, clock=clock)
    await store.revoke("short", clock.time() + 10)
    assert await store.claim_refresh("used", clock.time() + 10) is None
    clock.advance(20)
    await store.revoke("long", clock.time() + 3600)  # the third write purges
    assert await store.purge_expired() == 0  # nothing left to purge
    assert await store.claim_refresh("used", clock.time() + 10) is None  # its claim row is gone: a first use again


async def test_reseal_of_a_row_whose_refresh_token_alone_is_stale(sqlite_db: SQLDatabase) -> None:
    """A row whose access token is current but whose refresh token is not is resealed too."""
    old = SealingKeyRing({"a": bytes(32)}, current="a")
    new = SealingKeyRing({"a": bytes(32), "b": bytes(range(32))}, current="b")
    await SQLProviderTokenStore(sqlite_db, old).put(
        ProviderToken(user_id="u", provider="p", access_token="at", refresh_token="rt")
    )
    fresh_access = new.seal(b"at", context=token_context("u", "p", "access"))
    async with sqlite_db.engine.begin() as connection:
        await connection.execute(update(provider_tokens).values(access_token=fresh_access))
    store = SQLProviderTokenStore(sqlite_db, new)
    assert await store.reseal() == 1
    expected = ProviderToken(user_id="u", provider="p", access_token="at", refresh_token="rt")
    assert await store.get("u", "p") == expected
    assert "SQLProviderTokenStore" in repr(store)


async def test_migrations_downgrade_to_nothing_and_back(sqlite_url: str) -> None:
    """The initial migration can be undone and redone."""
    db = SQLDatabase(sqlite_url)
    try:
        assert await upgrade(db) == "0001"

        def down(connection: object) -> None:
            command.downgrade(_config(connection), "base")  # type: ignore[arg-type]

        async with db.engine.begin() as connection:
            await connection.run_sync(down)
        assert await current(db) is None
        assert await upgrade(db) == "0001"
    finally:
        await db.aclose()


async def test_a_lazy_first_check_starts_the_feed(sqlite_db: SQLDatabase) -> None:
    """Without start(), the first check starts the feed and loads revocations made elsewhere."""
    await SQLRevocationStore(sqlite_db).revoke("jti", time.time() + 60)
    fresh = SQLRevocationStore(sqlite_db)
    assert await fresh.is_revoked(["jti"])


async def test_a_store_made_after_the_feed_started_loads_its_mirror(pg_db: SQLDatabase) -> None:
    """A second revocation store on a live feed loads what was revoked before it existed."""
    first = SQLRevocationStore(pg_db)
    await first.start()
    await first.revoke("early", time.time() + 60)
    later = SQLRevocationStore(pg_db)
    assert await later.is_revoked(["early"])
    assert later.healthy


async def test_a_mirror_that_cannot_load_falls_back(sqlite_url: str) -> None:
    """When the first load fails (tables missing here), checks do not trust the empty mirror."""
    db = SQLDatabase(sqlite_url)
    try:
        await db.start()  # the feed is live, but no store has loaded anything
        store = SQLRevocationStore(db)
        await store.start()
        assert not store.healthy
        from asgi_guard.auth.revocation import RevocationUnavailable

        with pytest.raises(RevocationUnavailable):
            await store.is_revoked(["x"])  # the lookup fails too: refused, never trusted
    finally:
        await db.aclose()


@pytest.mark.parametrize("in_memory", [False, True], ids=["file", "memory"])
async def test_an_unloadable_sqlite_mirror_never_gives_a_500(sqlite_url: str, in_memory: bool) -> None:
    """SQLite without tables: the first load fails and the check is refused (RevocationUnavailable), not crashed."""
    db = SQLDatabase("sqlite://" if in_memory else sqlite_url)
    assert db.feed.cross_process is not in_memory  # an in-memory database is one process's own
    try:
        store = SQLRevocationStore(db)
        from asgi_guard.auth.revocation import RevocationUnavailable

        with pytest.raises(RevocationUnavailable):
            await store.is_revoked(["x"])
        assert not store.healthy
    finally:
        await db.aclose()


async def test_lifespan_startup_starts_the_key_stores_feed(pg_db: SQLDatabase) -> None:
    """The auth layer starts an SQL key store's feed at startup, not on the first request."""
    from starlette.applications import Starlette

    from asgi_guard.auth.config import APIKeyAuth, AuthConfig
    from asgi_guard.compose import guard

    app = guard(Starlette(), AuthConfig(api_key=APIKeyAuth(store=SQLAPIKeyStore(pg_db), last_used_interval=0)))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        if len(sent) == 1:
            assert pg_db.feed.healthy  # started before the app reported startup complete
        return messages.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    assert not pg_db.feed.healthy
    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)  # type: ignore[arg-type]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_an_unopenable_sqlite_file_leaves_the_feed_down(tmp_path: object) -> None:
    """A file that cannot be opened: the feed stays unhealthy (and keeps retrying) instead of pretending."""
    db = SQLDatabase(f"sqlite:///{tmp_path}/missing-dir/x.db")
    try:
        await db.start(timeout=0.3)
        assert not db.feed.healthy
    finally:
        await db.aclose()


async def test_a_slow_fallback_lookup_is_a_refusal_and_returns_its_connection(sqlite_db: SQLDatabase) -> None:
    """A lookup over `lookup_timeout` refuses the check; the abandoned query still ends and frees its connection."""
    import asyncio

    from asgi_guard.auth.revocation import RevocationUnavailable

    store = SQLRevocationStore(sqlite_db, lookup_timeout=1e-9)
    store._started = True  # the feed never started: every check takes the lookup path
    with pytest.raises(RevocationUnavailable, match="timed out"):
        await store.is_revoked(["x"])
    for _ in range(100):  # the shielded query finishes in the background
        await asyncio.sleep(0.01)
        if sqlite_db.engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
    assert sqlite_db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_lookup_whose_request_left_fails_quietly(
    sqlite_db: SQLDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client went away (its check cancelled) and the shielded lookup then failed: the failure is
    looked at, never an asyncio "exception was never retrieved" error."""
    import asyncio
    import gc

    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    gate = asyncio.Event()

    async def failing_lookup(self: SQLRevocationStore, hashes: list[str], now: float) -> bool:
        await gate.wait()
        raise OSError("database went away")

    monkeypatch.setattr(SQLRevocationStore, "_lookup", failing_lookup)
    store = SQLRevocationStore(sqlite_db, lookup_timeout=5.0)
    store._started = True  # the feed never started: every check takes the lookup path
    try:
        check = asyncio.ensure_future(store.is_revoked(["x"]))
        await asyncio.sleep(0.01)
        check.cancel()
        with pytest.raises(asyncio.CancelledError):
            await check
        gate.set()
        for _ in range(5):
            await asyncio.sleep(0.01)
        del check
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [context.get("message") for context in unhandled] == []
