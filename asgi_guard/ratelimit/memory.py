"""The embedded backend: GCRA in process memory, bounded, with an injectable clock.

Per process only (each worker has its own buckets): use :class:`RedisRateLimitBackend` to share
limits across processes. Also the ``local`` fail mode's fallback when Redis is unavailable.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError
from asgi_guard.ratelimit.gcra import Check, Outcome, evaluate, evaluate_one
from asgi_guard.ratelimit.rate import MICROS

if TYPE_CHECKING:
    from collections.abc import Sequence


class MemoryRateLimitBackend:
    """GCRA buckets in an LRU-ordered dict: O(1) per limit, at most ``max_keys`` keys.

    A key whose TAT has passed is a full bucket, so dropping it changes nothing: each check also
    drops the least recently used key when it has expired, and past ``max_keys`` the least recently
    used key is evicted (the one most likely to be full already).
    """

    __slots__ = ("_clock", "_max_keys", "_tats", "_time")

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, max_keys: int = 100_000) -> None:
        if not isinstance(max_keys, int) or max_keys < 1:
            raise ConfigurationError.expected("a positive int", max_keys, "MemoryRateLimitBackend.max_keys")
        self._clock = clock
        # The system clock's method only forwards to time.time: call that directly (one call less per check).
        self._time = time.time if clock is SYSTEM_CLOCK else clock.time
        self._max_keys = max_keys
        self._tats: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tats)

    def now_us(self) -> int:
        return int(self._time() * MICROS)

    async def check(self, checks: Sequence[Check]) -> Outcome:
        """Check and consume every limit of one request, all or nothing."""
        return self.check_at(self.now_us(), checks)

    def check_now(self, checks: Sequence[Check]) -> Outcome:
        """:meth:`check` without the coroutine: nothing here waits, so the middleware calls it directly."""
        return self.check_at(int(self._time() * MICROS), checks)

    def check_at(self, now: int, checks: Sequence[Check]) -> Outcome:
        """:meth:`check` at an explicit ``now`` (epoch microseconds)."""
        tats = self._tats
        if tats:
            oldest = next(iter(tats))
            if tats[oldest] <= now:
                del tats[oldest]
        if len(checks) == 1:
            return evaluate(now, checks, (tats.get(checks[0].key),), self._store)
        return evaluate(now, checks, [tats.get(check.key) for check in checks], self._store)

    def check_one_now(self, check: Check) -> tuple[int, bool, int, int, int]:
        """One check, now, as ``(now_us, allowed, remaining, reset_us, retry_after_us)``: :meth:`check_now`
        of a single check without the :class:`Outcome` (the middleware's path for one limit)."""
        now = int(self._time() * MICROS)
        tats = self._tats
        if tats:
            oldest = next(iter(tats))
            if tats[oldest] <= now:
                del tats[oldest]
        allowed, remaining, reset_us, retry_us, new_tat = evaluate_one(now, check, tats.get(check.key))
        if new_tat is not None:
            key = check.key
            tats[key] = new_tat
            tats.move_to_end(key)
            if len(tats) > self._max_keys:
                tats.popitem(last=False)
        return now, allowed, remaining, reset_us, retry_us

    def _store(self, key: str, tat: int, _ttl_us: int) -> None:
        tats = self._tats
        tats[key] = tat
        tats.move_to_end(key)
        if len(tats) > self._max_keys:
            tats.popitem(last=False)

    async def aclose(self) -> None:
        """Nothing to release (symmetry with the Redis backend)."""


__all__ = ("MemoryRateLimitBackend",)
