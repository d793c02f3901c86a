"""Token revocation: the store Protocol and the in-memory store.

A revoked id (a token's ``jti``, or a refresh family id) is kept until the tokens it refuses have
expired anyway. ``claim_refresh`` marks a refresh token as used, atomically, so rotation can tell a
first use from a reuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from asgi_guard.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from collections.abc import Iterable


class RevocationUnavailable(Exception):
    """The store cannot answer (its feed is lost and the fallback failed): the caller must refuse."""


class RevocationStore(Protocol):
    """Where revocations live. ``is_revoked`` runs on every request and must be cheap."""

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        """Whether any of ``token_ids`` is revoked.

        Raises:
            RevocationUnavailable: the answer cannot be trusted right now (fail closed).
        """
        ...

    async def revoke(self, token_id: str, expires_at: float) -> None:
        """Revoke ``token_id`` until ``expires_at`` (epoch seconds; the token's own expiry)."""
        ...

    async def claim_refresh(self, token_id: str, expires_at: float) -> float | None:
        """Mark a refresh token used. ``None`` on first use, else the time of the first use."""
        ...

    async def start(self) -> None:
        """Start background work (idempotent)."""
        ...

    async def aclose(self) -> None:
        """Stop background work."""
        ...


class ExpiringSet:
    """Ids with an expiry and a stamp (for example the time of first use), pruned as they grow."""

    __slots__ = ("_items", "_prune_at")

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, float]] = {}
        self._prune_at = 1024

    def add(self, item: str, expires_at: float, now: float, stamp: float | None = None) -> None:
        """Keep ``item`` until ``expires_at`` (a later expiry already held wins)."""
        held = self._items.get(item)
        if held is not None and held[0] > expires_at:
            expires_at = held[0]
        self._items[item] = (expires_at, expires_at if stamp is None else stamp)
        if len(self._items) >= self._prune_at:
            self.prune(now)
            self._prune_at = max(1024, 2 * len(self._items))

    def get(self, item: str, now: float) -> float | None:
        """The stamp of ``item`` if it is held and not expired at ``now``."""
        held = self._items.get(item)
        if held is None:
            return None
        if now >= held[0]:
            del self._items[item]
            return None
        return held[1]

    def prune(self, now: float) -> None:
        """Drop every expired item."""
        self._items = {item: held for item, held in self._items.items() if held[0] > now}

    def merge(self, items: dict[str, float], now: float) -> None:
        """Add ``items`` (id -> expiry), as loaded from a backend, and drop what has expired."""
        for item, when in items.items():
            self.add(item, when, now)
        self.prune(now)

    def __len__(self) -> int:
        return len(self._items)


class MemoryRevocationStore:
    """Revocations in process memory (single-process deployments, tests).

    Args:
        clock: the time source.
    """

    __slots__ = ("_clock", "_revoked", "_used")

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._revoked = ExpiringSet()
        self._used = ExpiringSet()

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        return self.is_revoked_now(token_ids)

    def is_revoked_now(self, token_ids: Iterable[str]) -> bool:
        """:meth:`is_revoked` without the coroutine: nothing here waits, so the middleware calls it directly."""
        revoked = self._revoked
        if not len(revoked):  # the common case, asked on every request: nothing to look up
            return False
        now = self._clock.time()
        for token_id in token_ids:  # noqa: SIM110 - a plain loop allocates no generator on the hot path
            if revoked.get(token_id, now) is not None:
                return True
        return False

    async def revoke(self, token_id: str, expires_at: float) -> None:
        now = self._clock.time()
        if expires_at > now:
            self._revoked.add(token_id, expires_at, now)

    async def claim_refresh(self, token_id: str, expires_at: float) -> float | None:
        now = self._clock.time()
        first = self._used.get(token_id, now)
        if first is not None:
            return first
        self._used.add(token_id, expires_at, now, stamp=now)
        return None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._revoked)


__all__ = ("ExpiringSet", "MemoryRevocationStore", "RevocationStore", "RevocationUnavailable")
