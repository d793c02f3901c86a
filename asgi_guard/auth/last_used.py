"""Last-used tracking for API keys, written in background batches and never on the request path.

Each key is written at most once per ``interval``; the request path only records the time in a dict.
A background task flushes the pending batch every ``interval`` seconds, and :meth:`aclose` (called
on lifespan shutdown) flushes what is left.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from asgi_guard.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from asgi_guard.auth.api_keys import APIKeyStore

_log: Final = logging.getLogger("asgi_guard.auth")


class LastUsedTracker:
    """Batches ``last_used_at`` writes to an :class:`APIKeyStore`.

    Args:
        store: where the times are written.
        interval: seconds between flushes, and the minimum gap between two writes for one key.
        clock: the time source.
    """

    __slots__ = ("_clock", "_last_written", "_pending", "_task", "interval", "store")

    def __init__(self, store: APIKeyStore, *, interval: float = 60.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.interval = interval
        self._clock = clock
        self._pending: dict[str, float] = {}
        self._last_written: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, key_hash: str) -> None:
        """Record a use (cheap, synchronous): queued only if the key was not written recently."""
        now = self._clock.time()
        written = self._last_written.get(key_hash)
        if written is not None and now - written < self.interval:
            return
        self._pending[key_hash] = now

    @property
    def pending(self) -> int:
        """How many keys wait for the next flush."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write the pending batch now. A failed write keeps the batch for the next flush."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            await self.store.touch(batch)
        except Exception:
            # Last-used is bookkeeping: never fail (or log a key); retry with the next batch.
            _log.warning("api key last-used flush failed; %d keys kept for the next flush", len(batch))
            for key_hash, when in batch.items():
                self._pending.setdefault(key_hash, when)
            return
        self._last_written.update(batch)
        if len(self._last_written) > 100_000:  # bounded: forget the oldest writes
            cutoff = self._clock.time() - self.interval
            self._last_written = {k: v for k, v in self._last_written.items() if v >= cutoff}

    async def start(self) -> None:
        """Start the periodic flush task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="asgi_guard-last-used")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def aclose(self) -> None:
        """Stop the periodic task and flush what is pending."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # waits without re-raising the task's CancelledError
        await self.flush()


__all__ = ("LastUsedTracker",)
