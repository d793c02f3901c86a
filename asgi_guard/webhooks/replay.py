"""Where seen deliveries are remembered: a bounded in-memory store and a Redis one (``SET NX PX``).

A delivery key is remembered for the verifier's window (the span in which its timestamp stays
acceptable), so a replay inside the window is caught and nothing outlives it. ``remember`` is
atomic: of two concurrent deliveries of one message exactly one is new.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio
from redis.exceptions import RedisError

from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from asgi_guard.clock import Clock


class ReplayStoreUnavailable(Exception):
    """The store could not answer (down, paused, timed out): the route's fail mode decides."""


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers delivery keys for a while."""

    async def remember(self, key: bytes, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds; ``True`` if it was new, ``False`` if already seen.

        Raises:
            ReplayStoreUnavailable: the store cannot answer.
        """
        ...

    async def forget(self, key: bytes) -> None:
        """Drop ``key`` (the app failed, so the provider's retry must get through)."""
        ...


class MemoryReplayStore:
    """A per-process store: at most ``max_entries`` keys, expired ones dropped first.

    When full of unexpired keys the oldest is evicted: memory stays bounded, at the price of
    forgetting the oldest delivery early (only deliveries with valid signatures get here).
    """

    __slots__ = ("_clock", "_entries", "max_entries")

    def __init__(self, max_entries: int = 100_000, *, clock: Clock | None = None) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError.expected("a positive integer", max_entries, "MemoryReplayStore.max_entries")
        self.max_entries = max_entries
        self._clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self._entries: OrderedDict[bytes, float] = OrderedDict()  # key -> monotonic expiry

    def __len__(self) -> int:
        return len(self._entries)

    async def remember(self, key: bytes, ttl: float) -> bool:
        now = self._clock.monotonic()
        expiry = self._entries.get(key)
        if expiry is not None and expiry > now:
            return False
        self._entries.pop(key, None)
        self._prune(now)
        self._entries[key] = now + ttl
        return True

    async def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def _prune(self, now: float) -> None:
        entries = self._entries
        # Expiries grow with insertion when windows are equal; stop at the first live entry.
        while entries:
            oldest_key, oldest_expiry = next(iter(entries.items()))
            if oldest_expiry > now and len(entries) < self.max_entries:
                break
            del entries[oldest_key]


class RedisReplayStore:
    """A store shared by every worker: ``SET key 1 NX PX ttl`` in one round trip.

    Args:
        client: a ``redis.asyncio.Redis`` or ``RedisCluster`` client owned by the caller.
        prefix: namespace for the keys.
        timeout: seconds to wait for Redis before treating it as down.
    """

    __slots__ = ("_client", "_prefix", "_timeout")

    def __init__(self, client: Any, *, prefix: str = "asgi_guard:webhook:", timeout: float = 0.5) -> None:
        if client is None or not hasattr(client, "set"):
            raise ConfigurationError.expected(
                "a redis.asyncio client", type(client).__name__, "RedisReplayStore.client"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError.expected("a positive number of seconds", timeout, "RedisReplayStore.timeout")
        self._client = client
        self._prefix = prefix.encode("utf-8")
        self._timeout = float(timeout)

    async def remember(self, key: bytes, ttl: float) -> bool:
        milliseconds = max(1, int(ttl * 1000))
        try:
            with anyio.fail_after(self._timeout):
                created = await self._client.set(self._prefix + key, b"1", nx=True, px=milliseconds)
        except (RedisError, OSError, TimeoutError) as exc:  # all mean "cannot answer"
            raise ReplayStoreUnavailable(type(exc).__name__) from exc
        return bool(created)

    async def forget(self, key: bytes) -> None:
        try:
            with anyio.fail_after(self._timeout):
                await self._client.delete(self._prefix + key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise ReplayStoreUnavailable(type(exc).__name__) from exc


__all__ = ("MemoryReplayStore", "RedisReplayStore", "ReplayStore", "ReplayStoreUnavailable")
