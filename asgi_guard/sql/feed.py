"""Change feeds: how a revocation written by one instance reaches every other instance's memory.

:class:`PostgresFeed` LISTENs on a dedicated asyncpg connection opened outside the pool (a listener on
a pooled connection is lost when the connection goes back to the pool). On every (re)connection it
LISTENs first, then asks each subscriber to resync from the tables, and only then reports healthy,
so nothing committed in between is missed. A terminated backend, a failed keep-alive or a closed
socket marks the feed unhealthy at once; subscribers then stop trusting their caches until the
feed is back.

:class:`SQLiteFeed` serves a SQLite file, which has no notifications: it polls ``PRAGMA
data_version`` (which changes when another connection commits) every ``interval`` seconds on a
connection of its own, and resyncs the subscribers when it changed, so processes sharing one file
(uvicorn workers, the CLI) see each other's revocations within about ``interval``.
:class:`LocalFeed` (an in-memory SQLite database) is for one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol

import aiosqlite
import asyncpg

from asgi_guard._feedstate import wait_for_health

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

_log: Final = logging.getLogger("asgi_guard.sql")
FEED_APPLICATION_NAME: Final = "asgi_guard_feed"  # how operators spot the listener in pg_stat_activity


class FeedSubscriber(Protocol):
    """What a store gives the feed: a handler for each change, a resync, and a loss signal."""

    def on_change(self, payload: str) -> None:
        """Apply one change notification (its payload)."""
        ...

    async def resync(self) -> None:
        """Reload state from the tables (the feed has just (re)connected)."""
        ...

    def on_loss(self) -> None:
        """The feed was lost: stop trusting what was learnt from it."""
        ...


class ChangeFeed(Protocol):
    """A feed of change notifications (see the module docstring)."""

    @property
    def healthy(self) -> bool:
        """Whether every change committed so far has reached the subscribers."""
        ...

    @property
    def cross_process(self) -> bool:
        """Whether changes made by other processes arrive through this feed."""
        ...

    def subscribe(self, subscriber: FeedSubscriber) -> None:
        """Register a subscriber (before :meth:`start`, or it is resynced on the next connection)."""
        ...

    async def start(self, timeout: float = 2.0) -> None:
        """Start (idempotent); waits up to ``timeout`` for the first healthy state."""
        ...

    async def aclose(self) -> None:
        """Stop."""
        ...


class LocalFeed:
    """The feed of an in-memory SQLite database (one process by nature): healthy once started."""

    __slots__ = ("_started", "_subscribers")

    cross_process: Final = False

    def __init__(self) -> None:
        self._subscribers: list[FeedSubscriber] = []
        self._started = False

    @property
    def healthy(self) -> bool:
        return self._started

    def subscribe(self, subscriber: FeedSubscriber) -> None:
        self._subscribers.append(subscriber)

    async def start(self, timeout: float = 2.0) -> None:
        if not self._started:
            for subscriber in self._subscribers:
                try:
                    await subscriber.resync()
                except Exception as exc:  # the subscriber stays unsynced and answers from the database
                    _log.warning("SQL store not loaded (%s); it falls back to lookups", type(exc).__name__)
            self._started = True

    async def aclose(self) -> None:
        self._started = False


class _BackgroundFeed:
    """A feed run by one background task: health, waiting for a state, subscribers."""

    __slots__ = ("_changed", "_healthy", "_stop", "_subscribers", "_task", "reconnect_delay")

    cross_process: Final = True

    def __init__(self, reconnect_delay: float) -> None:
        self.reconnect_delay = reconnect_delay
        self._subscribers: list[FeedSubscriber] = []
        self._healthy = False
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def healthy(self) -> bool:
        return self._healthy

    def subscribe(self, subscriber: FeedSubscriber) -> None:
        self._subscribers.append(subscriber)

    async def start(self, timeout: float = 2.0) -> None:
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="asgi_guard-sql-feed")
        await self.wait_for_state(healthy=True, timeout=timeout)

    async def aclose(self, grace: float = 5.0) -> None:
        """Stop at the loop's next pause (a resync in progress finishes and returns its pooled
        connection); cancel only if that takes longer than ``grace`` seconds."""
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            done, _ = await asyncio.wait([task], timeout=grace)
            if not done:
                task.cancel()
                await asyncio.wait([task])  # waits without re-raising the task's CancelledError
        await self._set_healthy(False)

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless asked to stop; ``True`` when the feed must stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def wait_for_state(self, *, healthy: bool, timeout: float) -> bool:
        """Wait until the feed is (or is not) healthy; ``False`` on timeout. For readiness probes and tests."""
        return await wait_for_health(self._changed, lambda: self._healthy, healthy, timeout)

    async def _set_healthy(self, value: bool) -> None:
        if not value and self._healthy:
            for subscriber in self._subscribers:
                subscriber.on_loss()
        async with self._changed:
            self._healthy = value
            self._changed.notify_all()

    async def _resync_all(self) -> None:
        for subscriber in self._subscribers:
            await subscriber.resync()

    async def _lost(self, exc: BaseException) -> None:
        if self._healthy:
            _log.warning("SQL change feed lost (%s); checks fall back until it is back", type(exc).__name__)
        await self._set_healthy(False)

    async def _run(self) -> None:
        raise NotImplementedError


class SQLiteFeed(_BackgroundFeed):
    """Polls ``PRAGMA data_version`` of one SQLite file on a connection of its own.

    Args:
        path: the database file.
        interval: seconds between polls (the propagation delay between processes).
        reconnect_delay: first pause before reopening after an error (doubles up to 2 s).
    """

    __slots__ = ("interval", "path")

    def __init__(self, path: str, *, interval: float = 0.05, reconnect_delay: float = 0.05) -> None:
        super().__init__(reconnect_delay)
        self.path = path
        self.interval = interval

    async def _run(self) -> None:
        delay = self.reconnect_delay
        while not self._stop.is_set():
            try:
                async with aiosqlite.connect(self.path) as connection:
                    seen = None
                    while True:
                        async with connection.execute("PRAGMA data_version") as cursor:
                            row = await cursor.fetchone()
                        version = row[0] if row else None
                        if version != seen:  # another connection committed (or first poll): reload
                            await self._resync_all()
                            seen = version
                            if not self._healthy:
                                await self._set_healthy(True)
                                delay = self.reconnect_delay
                        if await self._pause(self.interval):
                            return
            except Exception as exc:  # an unreadable file, a failed resync: unhealthy, then retry
                await self._lost(exc)
            if await self._pause(delay):
                return
            delay = min(delay * 2, 2.0)


class PostgresFeed(_BackgroundFeed):
    """LISTEN/NOTIFY on one dedicated, unpooled asyncpg connection.

    Args:
        url: the database URL (asyncpg driver).
        ssl_option: asyncpg's ``ssl`` argument (see :func:`asgi_guard.sql.database.tls_context`).
        channel: the notification channel.
        timeout: seconds to connect, and for each keep-alive query.
        reconnect_delay: first pause before reconnecting (doubles up to 2 s).
        keepalive: seconds between keep-alive queries (they catch a silently dead connection).
    """

    __slots__ = ("_connect_args", "channel", "keepalive", "timeout")

    def __init__(
        self,
        url: URL,
        *,
        ssl_option: Any,
        channel: str,
        timeout: float = 5.0,
        reconnect_delay: float = 0.05,
        keepalive: float = 5.0,
    ) -> None:
        self._connect_args: dict[str, Any] = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "database": url.database,
            "ssl": ssl_option,
            "timeout": timeout,
            "server_settings": {"application_name": FEED_APPLICATION_NAME},
        }
        super().__init__(reconnect_delay)
        self.channel = channel
        self.timeout = timeout
        self.keepalive = keepalive

    def _dispatch(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        for subscriber in self._subscribers:
            subscriber.on_change(payload)

    async def _run(self) -> None:
        delay = self.reconnect_delay
        while not self._stop.is_set():
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(**self._connect_args)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(self.channel, self._dispatch)
                await self._resync_all()  # after LISTEN: nothing committed since is missed
                await self._set_healthy(True)
                delay = self.reconnect_delay
                stopping = asyncio.ensure_future(self._stop.wait())
                dropped = asyncio.ensure_future(lost.wait())
                try:
                    while True:
                        await asyncio.wait(
                            [stopping, dropped], timeout=self.keepalive, return_when=asyncio.FIRST_COMPLETED
                        )
                        if stopping.done():
                            return
                        if dropped.done():
                            break
                        await connection.fetchval("SELECT 1", timeout=self.timeout)
                finally:
                    stopping.cancel()
                    dropped.cancel()
                raise ConnectionError("listener connection terminated")
            except Exception as exc:  # any failure (network, server, resync): unhealthy, then reconnect
                await self._lost(exc)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.terminate()
            if await self._pause(delay):
                return
            delay = min(delay * 2, 2.0)


__all__ = ("FEED_APPLICATION_NAME", "ChangeFeed", "FeedSubscriber", "LocalFeed", "PostgresFeed", "SQLiteFeed")
