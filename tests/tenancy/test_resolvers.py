"""Membership resolvers: credential claims, a static table, and the bounded TTL cache."""

from __future__ import annotations

import anyio
import pytest

from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.tenancy import CachedResolver, StaticMembership, claims_membership
from asgi_guard.testing import FakeClock

pytestmark = pytest.mark.anyio

ALICE = Principal("alice", communities={"1": frozenset({"moderator"}), "2": frozenset()})


class CountingResolver:
    """A resolver over a mutable table that counts lookups and can be told to fail."""

    def __init__(self, table: dict[tuple[str, str], frozenset[str]]) -> None:
        self.table = table
        self.calls = 0
        self.fail = False

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None:
        self.calls += 1
        if self.fail:
            raise ConnectionError("directory down")
        return self.table.get((principal.id, community_id))


async def test_claims_membership_reads_the_credential() -> None:
    """Membership from the credential: roles where listed (possibly none), None elsewhere."""
    assert await claims_membership(ALICE, "1") == {"moderator"}
    assert await claims_membership(ALICE, "2") == frozenset()
    assert await claims_membership(ALICE, "3") is None


async def test_static_membership() -> None:
    """A static table answers for known principals and refuses everyone else."""
    static = StaticMembership({"alice": {"1": frozenset({"community_owner"})}})
    assert await static(ALICE, "1") == {"community_owner"}
    assert await static(ALICE, "2") is None
    assert await static(Principal("bob"), "1") is None


async def test_cache_serves_until_ttl_then_refreshes() -> None:
    """Answers (members and non-members) are reused within the TTL and looked up again after it."""
    clock = FakeClock()
    inner = CountingResolver({("alice", "1"): frozenset({"moderator"})})
    cached = CachedResolver(inner, ttl=30, clock=clock)
    assert await cached(ALICE, "1") == {"moderator"}
    assert await cached(ALICE, "9") is None
    inner.table[("alice", "9")] = frozenset()
    clock.advance(29)
    assert await cached(ALICE, "1") == {"moderator"}
    assert await cached(ALICE, "9") is None  # negative answer still cached
    assert inner.calls == 2
    clock.advance(2)
    assert await cached(ALICE, "9") == frozenset()  # membership granted after expiry
    assert inner.calls == 3


async def test_cache_is_bounded_oldest_first() -> None:
    """Past `max_entries` the oldest answer is dropped."""
    inner = CountingResolver({})
    cached = CachedResolver(inner, max_entries=2, clock=FakeClock())
    for community in ("1", "2", "3"):
        await cached(ALICE, community)
    assert len(cached) == 2
    await cached(ALICE, "3")
    await cached(ALICE, "1")
    assert inner.calls == 4  # "1" had been evicted


async def test_failures_are_not_cached() -> None:
    """A failing lookup propagates and is retried on the next request."""
    inner = CountingResolver({("alice", "1"): frozenset()})
    cached = CachedResolver(inner, clock=FakeClock())
    inner.fail = True
    with pytest.raises(ConnectionError):
        await cached(ALICE, "1")
    inner.fail = False
    assert await cached(ALICE, "1") == frozenset()
    assert len(cached) == 1


async def test_invalidate() -> None:
    """Invalidation forgets one principal's, one community's, one pair's or all answers."""
    cached = CachedResolver(CountingResolver({}), clock=FakeClock())
    bob = Principal("bob")
    for principal in (ALICE, bob):
        for community in ("1", "2"):
            await cached(principal, community)
    cached.invalidate(principal_id="alice", community_id="1")
    assert len(cached) == 3
    cached.invalidate(community_id="2")
    assert len(cached) == 1
    cached.invalidate(principal_id="bob")
    assert len(cached) == 0
    await cached(ALICE, "1")
    cached.invalidate()
    assert len(cached) == 0


@pytest.mark.parametrize(("kwargs", "message"), [({"ttl": 0}, "`ttl` > 0"), ({"max_entries": 0}, "`max_entries`")])
def test_cache_configuration_errors(kwargs: dict[str, float], message: str) -> None:
    """Non-positive TTLs and sizes are configuration errors."""
    with pytest.raises(ConfigurationError, match=message):
        CachedResolver(claims_membership, **kwargs)  # type: ignore[arg-type]


class GatedResolver:
    """A resolver whose lookups wait for `release`, counting how many were started."""

    def __init__(self, answer: frozenset[str] | None = frozenset({"moderator"})) -> None:
        self.release = anyio.Event()
        self.calls = 0
        self.answer = answer
        self.fail_first = False

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None:
        self.calls += 1
        await self.release.wait()
        if self.fail_first and self.calls == 1:
            raise ConnectionError("directory down")
        return self.answer


async def test_concurrent_misses_share_one_lookup() -> None:
    """Requests missing the cache for the same key at once wait for a single lookup."""
    inner = GatedResolver()
    cached = CachedResolver(inner, clock=FakeClock())
    results: list[frozenset[str] | None] = []

    async def ask() -> None:
        results.append(await cached(ALICE, "1"))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        inner.release.set()
    assert inner.calls == 1
    assert results == [frozenset({"moderator"})] * 5


async def test_failed_shared_lookup_lets_each_waiter_ask_itself() -> None:
    """When the shared lookup fails, its caller sees the error and each waiter looks up on its own."""
    inner = GatedResolver()
    inner.fail_first = True
    cached = CachedResolver(inner, clock=FakeClock())
    outcomes: list[object] = []

    async def ask() -> None:
        try:
            outcomes.append(await cached(ALICE, "1"))
        except ConnectionError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        inner.release.set()
    assert inner.calls == 3
    assert sum(isinstance(o, ConnectionError) for o in outcomes) == 1
    assert outcomes.count(frozenset({"moderator"})) == 2


async def test_lookup_overlapping_invalidation_is_not_cached_nor_joined() -> None:
    """An answer started before `invalidate()` is not cached, and later requests do not join it."""
    inner = GatedResolver()
    cached = CachedResolver(inner, clock=FakeClock())
    results: list[frozenset[str] | None] = []

    async def ask() -> None:
        results.append(await cached(ALICE, "1"))

    async with anyio.create_task_group() as group:
        group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        cached.invalidate(principal_id="alice")  # e.g. alice was removed from community 1
        group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        assert inner.calls == 2  # the second request did not join the pre-invalidation lookup
        inner.release.set()
    assert len(cached) == 1  # only the post-invalidation answer is kept
    inner.answer = None
    assert await cached(ALICE, "1") == frozenset({"moderator"})
    assert inner.calls == 2
