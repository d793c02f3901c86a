"""Where community membership comes from: the credential's claims, a lookup, and a TTL cache.

A resolver answers "which roles does this principal hold in this community?" with a frozenset of
role names (possibly empty: a plain member) or ``None`` (not a member).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import anyio

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_guard.principal import Principal


class MembershipResolver(Protocol):
    """An async membership lookup (database, directory service, ...)."""

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None: ...


async def claims_membership(principal: Principal, community_id: str) -> frozenset[str] | None:
    """Membership as the credential states it: the JWT ``communities`` claim or the API-key record."""
    return principal.communities.get(community_id)


class StaticMembership:
    """A fixed ``{principal id: {community id: roles}}`` table (configuration files, tests, demos).

    Args:
        members: who belongs where, with the roles held there.
    """

    __slots__ = ("_members",)

    def __init__(self, members: Mapping[str, Mapping[str, frozenset[str]]]) -> None:
        self._members = {pid: dict(communities) for pid, communities in members.items()}

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None:
        communities = self._members.get(principal.id)
        return communities.get(community_id) if communities is not None else None


class _Pending:
    """One lookup in flight, shared by the requests that asked for the same key meanwhile."""

    __slots__ = ("done", "generation", "ok", "roles")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.done = anyio.Event()
        self.ok = False
        self.roles: frozenset[str] | None = None


class CachedResolver:
    """Caches another resolver's answers (members and non-members) for ``ttl`` seconds.

    Entries are keyed by ``(principal.id, community_id)``: the wrapped resolver's answer must depend
    only on those. At most ``max_entries`` are kept; the oldest goes first. Failures are not cached.
    Concurrent misses for one key share a single lookup, so an expiry under load costs one query.
    An answer whose lookup overlapped :meth:`invalidate` is returned but not cached: a revocation
    is never undone by a lookup that started before it.

    Args:
        resolver: the resolver to ask on a miss.
        ttl: seconds an answer stays valid (measured on ``clock.monotonic()``).
        max_entries: the bound on cached answers.
        clock: the time source (inject :class:`asgi_guard.testing.FakeClock` in tests).
    """

    __slots__ = ("_clock", "_entries", "_generation", "_inflight", "_max", "_resolver", "_ttl")

    def __init__(
        self,
        resolver: MembershipResolver,
        *,
        ttl: float = 60.0,
        max_entries: int = 10_000,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError.expected("`ttl` > 0", ttl, "CachedResolver.ttl")
        if max_entries < 1:
            raise ConfigurationError.expected("`max_entries` >= 1", max_entries, "CachedResolver.max_entries")
        self._resolver = resolver
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, frozenset[str] | None]] = {}
        self._inflight: dict[tuple[str, str], _Pending] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None:
        key = (principal.id, community_id)
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock.monotonic():
                return entry[1]
            del self._entries[key]
        pending = self._inflight.get(key)
        if pending is not None and pending.generation == self._generation:
            await pending.done.wait()
            if pending.ok:
                return pending.roles
            # The shared lookup failed or was cancelled: ask on this request's own account.
            return await self._resolver(principal, community_id)
        generation = self._generation
        pending = self._inflight[key] = _Pending(generation)
        try:
            roles = await self._resolver(principal, community_id)
            pending.roles, pending.ok = roles, True
        finally:
            if self._inflight.get(key) is pending:
                del self._inflight[key]
            pending.done.set()
        if generation == self._generation:
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (self._clock.monotonic() + self._ttl, roles)
        return roles

    def invalidate(self, principal_id: str | None = None, community_id: str | None = None) -> None:
        """Forget cached answers for a principal, a community, both, or (no arguments) everything."""
        self._generation += 1
        if principal_id is None and community_id is None:
            self._entries.clear()
            return
        for key in [k for k in self._entries if principal_id in (None, k[0]) and community_id in (None, k[1])]:
            del self._entries[key]


__all__ = ("CachedResolver", "MembershipResolver", "StaticMembership", "claims_membership")
