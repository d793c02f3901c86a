"""The refresh lock shared by instances: redis-py's own ``Lock`` (public API), one per (user, provider)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from redis.exceptions import LockError

from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class RefreshLockBusy(Exception):
    """The lock was not acquired in time (another instance holds it for too long)."""


class RedisRefreshLock:
    """A :class:`~asgi_guard.oauth.refresh.RefreshLock` on Redis.

    Args:
        client: a ``redis.asyncio.Redis`` or ``RedisCluster``.
        prefix: the key prefix.
        timeout: seconds after which a lock left by a crashed holder expires (longer than a refresh).
        wait: seconds to wait for the lock before giving up.
    """

    __slots__ = ("client", "prefix", "timeout", "wait")

    def __init__(
        self, client: Any, *, prefix: str = "asgi_guard:ptok-lock", timeout: float = 30.0, wait: float = 35.0
    ) -> None:
        if not 1 <= timeout <= 300 or not 0 < wait <= 300:
            raise ConfigurationError.expected(
                "timeout 1-300 s and wait up to 300 s", (timeout, wait), "RedisRefreshLock"
            )
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.wait = wait

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self.client.lock(
            f"{self.prefix}:{quote(key, safe='')}", timeout=self.timeout, blocking_timeout=self.wait
        )
        if not await lock.acquire():
            raise RefreshLockBusy(key)
        try:
            yield
        finally:
            with contextlib.suppress(LockError):  # expired meanwhile: nothing left to release
                await lock.release()


__all__ = ("RedisRefreshLock", "RefreshLockBusy")
