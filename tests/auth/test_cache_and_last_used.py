"""The verification cache (bounded, expiring) and the batched last-used tracker."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from asgi_guard.auth import LastUsedTracker, MemoryAPIKeyStore, VerificationCache
from asgi_guard.errors import ConfigurationError
from asgi_guard.testing import FakeClock

pytestmark = pytest.mark.anyio


def test_cache_is_bounded_lru() -> None:
    """Past `max_entries` the least recently used entry is evicted first."""
    cache: VerificationCache[int] = VerificationCache(2)
    cache.put("a", 1, 100)
    cache.put("b", 2, 100)
    assert cache.get("a", 0) == 1
    cache.put("c", 3, 100)
    assert cache.get("b", 0) is None
    assert cache.get("a", 0) == 1
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_cache_entries_expire() -> None:
    """An entry is gone at its expiry time."""
    cache: VerificationCache[str] = VerificationCache()
    cache.put("t", "claims", 10)
    assert cache.get("t", 9.9) == "claims"
    assert cache.get("t", 10) is None
    assert len(cache) == 0


def test_cache_needs_a_positive_bound() -> None:
    """A cache of size 0 is a configuration error (disable it instead)."""
    with pytest.raises(ConfigurationError, match="max_entries"):
        VerificationCache(0)


class RecordingStore(MemoryAPIKeyStore):
    """A memory store that records each batch written and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict[str, float]] = []
        self.fail = False

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if self.fail:
            raise ConnectionError("store down")
        self.batches.append(dict(last_used))


async def test_uses_are_batched_and_written_once_per_interval() -> None:
    """Many uses of a key within the interval cause one write; after the interval, another."""
    clock = FakeClock()
    store = RecordingStore()
    tracker = LastUsedTracker(store, interval=60, clock=clock)
    for _ in range(100):
        tracker.note("a")
    tracker.note("b")
    assert tracker.pending == 2
    await tracker.flush()
    assert store.batches == [{"a": clock.time(), "b": clock.time()}]
    clock.advance(30)
    tracker.note("a")
    assert tracker.pending == 0
    clock.advance(31)
    tracker.note("a")
    await tracker.flush()
    assert store.batches[-1] == {"a": clock.time()}
    await tracker.flush()  # nothing pending: no write
    assert len(store.batches) == 2


async def test_failed_flush_keeps_the_batch() -> None:
    """A failing store keeps the pending times for the next flush instead of losing or raising."""
    clock = FakeClock()
    store = RecordingStore()
    tracker = LastUsedTracker(store, interval=60, clock=clock)
    tracker.note("a")
    store.fail = True
    await tracker.flush()
    assert tracker.pending == 1
    store.fail = False
    await tracker.flush()
    assert store.batches == [{"a": clock.time()}]


async def test_aclose_flushes_and_stops_the_task() -> None:
    """`aclose` stops the periodic task and writes what is pending; `start` is idempotent."""
    store = RecordingStore()
    tracker = LastUsedTracker(store, interval=3600)
    await tracker.start()
    await tracker.start()
    tracker.note("a")
    await tracker.aclose()
    assert list(store.batches[0]) == ["a"]
    await tracker.aclose()


async def test_periodic_task_flushes_on_its_own() -> None:
    """The background task writes the batch after each interval without being asked."""
    store = RecordingStore()
    tracker = LastUsedTracker(store, interval=0.01)
    tracker.note("a")
    await tracker.start()
    import asyncio

    for _ in range(500):
        if store.batches:
            break
        await asyncio.sleep(0.005)
    await tracker.aclose()
    assert list(store.batches[0]) == ["a"]


async def test_written_set_is_bounded() -> None:
    """The record of recent writes forgets old keys once it grows large."""
    clock = FakeClock()
    store = RecordingStore()
    tracker = LastUsedTracker(store, interval=1, clock=clock)
    for index in range(100_001):
        tracker.note(str(index))
    await tracker.flush()
    clock.advance(2)
    tracker.note("fresh")
    await tracker.flush()
    tracker.note("0")
    assert tracker.pending == 1
