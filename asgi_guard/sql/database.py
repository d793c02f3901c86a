"""One database handle: the async engine, the TLS policy, and the change feed shared by the stores.

URLs: ``postgresql://user@host/db`` (driven by asyncpg) or ``sqlite:///path/to/file.db`` (aiosqlite).
TLS options are read from the URL's query, libpq style, and handed to asyncpg as an
:class:`ssl.SSLContext`:

* ``sslmode``: ``verify-full`` (the default for a non-loopback host: encrypted, certificate and host
  name checked), ``verify-ca`` (certificate checked, host name not), ``require`` (encrypted; checked
  against ``sslrootcert`` when one is given), ``prefer``/``allow``/``disable`` (may be plaintext).
* ``sslrootcert``: CA bundle file; ``sslcert`` + ``sslkey``: client certificate.

A non-loopback host with a mode that may send plaintext is refused with :class:`ConfigurationError`
unless ``allow_plaintext=True``: credentials and tokens must not cross a network in the clear.
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

from asgi_guard.errors import ConfigurationError
from asgi_guard.sql.feed import ChangeFeed, LocalFeed, PostgresFeed, SQLiteFeed

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

SSL_PARAMS: Final = ("sslmode", "sslrootcert", "sslcert", "sslkey")
SSL_MODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PLAINTEXT_MODES: Final = frozenset({"disable", "allow", "prefer"})
CHANNEL: Final = "asgi_guard_changes"


def _loopback(host: str | None) -> bool:
    if not host or host.startswith("/") or host == "localhost":
        return True  # a Unix socket or the local host
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_url(url: str | URL) -> URL:
    """``url`` with the async driver named (``postgresql+asyncpg``, ``sqlite+aiosqlite``).

    Raises:
        ConfigurationError: not a PostgreSQL or SQLite URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError.expected("a database URL", "<unparsable>", "database url") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ConfigurationError.expected("a postgresql:// or sqlite:/// URL", parsed.drivername, "database url")


def tls_context(url: URL, *, allow_plaintext: bool = False) -> ssl.SSLContext | str | None:
    """What asyncpg's ``ssl`` argument should be for ``url`` (``None`` for SQLite).

    Raises:
        ConfigurationError: an unknown ``sslmode``, a missing certificate file, or a mode that may be
            plaintext on a non-loopback host without ``allow_plaintext``.
    """
    if url.get_backend_name() != "postgresql":
        return None
    query = url.query
    mode = str(query.get("sslmode", "prefer" if _loopback(url.host) else "verify-full"))
    if mode not in SSL_MODES:
        raise ConfigurationError.expected(f"an sslmode of {', '.join(SSL_MODES)}", mode, "database url")
    if mode in PLAINTEXT_MODES:
        if not _loopback(url.host) and not allow_plaintext:
            raise ConfigurationError.expected(
                "sslmode=require/verify-ca/verify-full for a non-loopback PostgreSQL (or allow_plaintext=True)",
                mode,
                "database url",
            )
        return mode  # asyncpg implements disable/allow/prefer itself
    rootcert = query.get("sslrootcert")
    try:
        context = ssl.create_default_context(cafile=str(rootcert) if rootcert else None)
        if "sslcert" in query:
            key = query.get("sslkey")
            context.load_cert_chain(str(query["sslcert"]), str(key) if key else None)
    except OSError as exc:
        raise ConfigurationError.expected("readable sslrootcert/sslcert/sslkey files", "<unreadable>", "url") from exc
    if mode == "require" and not rootcert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # libpq's `require`: encrypted, unauthenticated
    elif mode in ("require", "verify-ca"):
        context.check_hostname = False
    return context


class SQLDatabase:
    """The engine and change feed every SQL store of one application shares.

    Args:
        url: ``postgresql://...`` or ``sqlite:///file.db`` (drivers are filled in).
        allow_plaintext: accept ``sslmode=disable/allow/prefer`` for a non-loopback PostgreSQL.
        pool_size: pooled connections (PostgreSQL); the feed uses one more, unpooled.
        connect_timeout: seconds to open a connection.
        feed_reconnect_delay: first pause before the feed reconnects (doubles up to 2 s).
        engine_options: extra :func:`sqlalchemy.ext.asyncio.create_async_engine` arguments.

    Raises:
        ConfigurationError: a bad URL or TLS options (see the module docstring).
    """

    __slots__ = ("_lost", "engine", "feed", "is_postgres", "reader", "url")

    def __init__(
        self,
        url: str | URL,
        *,
        allow_plaintext: bool = False,
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        feed_reconnect_delay: float = 0.05,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        parsed = normalise_url(url)
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        options: dict[str, Any] = dict(engine_options or {})
        if self.is_postgres:
            tls = tls_context(parsed, allow_plaintext=allow_plaintext)
            parsed = parsed.difference_update_query(SSL_PARAMS)
            connect_args = {"ssl": tls, "timeout": connect_timeout, "command_timeout": 30.0}
            options.setdefault("pool_size", pool_size)
            # No pre-ping (a round trip per checkout, on the cache-miss path): the feed sees an outage
            # at once, and the pool is replaced when it reconnects (``resync`` below).
            self.engine: AsyncEngine = create_async_engine(parsed, connect_args=connect_args, **options)
            self.feed: ChangeFeed = PostgresFeed(
                parsed, ssl_option=tls, channel=CHANNEL, timeout=connect_timeout, reconnect_delay=feed_reconnect_delay
            )
        else:
            options.setdefault("connect_args", {"timeout": 30.0})
            self.engine = create_async_engine(parsed, **options)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            path = parsed.database
            if not path or path == ":memory:" or path.startswith("file::memory:"):
                self.feed = LocalFeed()  # one process by nature
            else:
                self.feed = SQLiteFeed(path, reconnect_delay=feed_reconnect_delay)
        self.url = parsed
        # Lookups run outside a transaction: no BEGIN/ROLLBACK round trips around one SELECT.
        self.reader: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._lost = False
        self.feed.subscribe(self)

    async def start(self, timeout: float = 2.0) -> None:
        """Start the change feed and wait up to ``timeout`` for it to be live (idempotent)."""
        await self.feed.start(timeout)

    async def aclose(self) -> None:
        """Stop the feed and dispose of the pool."""
        await self.feed.aclose()
        await self.engine.dispose()

    # Feed subscriber (registered first, so it runs before the stores resync): after an outage the
    # pooled connections may be dead; replace them before anyone queries again.
    def on_change(self, payload: str) -> None:
        return None

    def on_loss(self) -> None:
        self._lost = True

    async def resync(self) -> None:
        if self._lost:
            self._lost = False
            await self.engine.dispose()

    def __repr__(self) -> str:  # never the password
        return f"SQLDatabase({self.url.render_as_string(hide_password=True)!r})"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys and a busy wait make writers queue.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


__all__ = ("CHANNEL", "SQLDatabase", "normalise_url", "tls_context")
