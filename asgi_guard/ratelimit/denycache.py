"""A local cache of buckets known to be empty, so a flood is refused without a Redis round trip.

After Redis refuses a request with retry-after ``t``, the bucket cannot hold that many tokens before
``t`` (tokens only come back with time), so refusing locally until then is exact. The cache keeps
the instant the bucket was empty, not just ``t``: a cheaper request is let through to Redis as soon
as its own cost would fit. Deadlines are on the local monotonic clock (a reply's latency only makes
them later, never earlier).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, NamedTuple

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.ratelimit.gcra import Outcome, State
from asgi_guard.ratelimit.rate import MICROS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_guard.ratelimit.gcra import Check


class _Empty(NamedTuple):
    empty_at: int  # local monotonic µs at which the bucket held zero tokens
    interval_us: int
    burst: int


class DenyCache:
    """Bounded (LRU) map of key -> when its bucket was empty."""

    __slots__ = ("_clock", "_entries", "_max")

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, _Empty] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def now_us(self) -> int:
        return int(self._clock.monotonic() * MICROS)

    def remember(self, checks: Sequence[Check], outcome: Outcome, sent_at: int) -> None:
        """Record the enforced limits that refused (``sent_at``: monotonic µs when the call left)."""
        if outcome.allowed or self._max == 0:
            return
        entries = self._entries
        for check, state in zip(checks, outcome.states, strict=True):
            if state is None or state.allowed or not check.enforce:
                continue
            empty_at = sent_at + state.retry_after_us - check.cost * check.interval_us
            entries[check.key] = _Empty(empty_at, check.interval_us, check.burst)
            entries.move_to_end(check.key)
            if len(entries) > self._max:
                entries.popitem(last=False)

    def lookup(self, checks: Sequence[Check], offset_us: int) -> Outcome | None:
        """A refusal decided locally, or ``None`` when Redis must be asked.

        ``offset_us`` maps local monotonic time to the Redis clock (for the reset header).
        """
        entries = self._entries
        if not entries:
            return None
        now = self.now_us()
        for index, check in enumerate(checks):
            entry = entries.get(check.key)
            if entry is None or not check.enforce:
                continue
            wait = entry.empty_at + check.cost * check.interval_us - now
            if wait <= 0 or entry.interval_us != check.interval_us or entry.burst != check.burst:
                del entries[check.key]
                continue
            remaining = max(0, (now - entry.empty_at) // check.interval_us)
            reset = entry.empty_at + check.burst * check.interval_us - now
            states: list[State | None] = [None] * len(checks)
            states[index] = State(False, remaining, reset, wait)
            return Outcome(False, now + offset_us, tuple(states), cached=True)
        return None


__all__ = ("DenyCache",)
