"""A bounded cache from token string to verified claims; each entry expires with its token.

Verifying an HS256 token costs tens of microseconds; a dict lookup costs well under one. Only
successfully verified tokens are cached (a flood of garbage cannot evict good entries any faster
than it could fill the cache anyway), and revocation is checked on every request regardless.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Generic, TypeVar

from asgi_guard.errors import ConfigurationError

T = TypeVar("T")


class VerificationCache(Generic[T]):
    """Least-recently-used, bounded, with a per-entry expiry.

    Args:
        max_entries: the bound (the least recently used entry goes first).
    """

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ConfigurationError.expected("max_entries >= 1", max_entries, "VerificationCache.max_entries")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[T, float]] = OrderedDict()

    def get(self, token: str, now: float) -> T | None:
        """The cached value for ``token``, or ``None`` when absent or expired at ``now``."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        value, expires_at = entry
        if not now < expires_at:  # written so that a NaN expiry counts as expired
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return value

    def put(self, token: str, value: T, expires_at: float) -> None:
        """Cache ``value`` until ``expires_at`` (epoch seconds); a non-finite expiry is not cached at all."""
        if not math.isfinite(expires_at):
            return
        self._entries[token] = (value, expires_at)
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry (for example after a key was withdrawn)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ("VerificationCache",)
