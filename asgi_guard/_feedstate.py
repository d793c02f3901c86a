"""Waiting for a change feed (Redis pub/sub, PostgreSQL LISTEN) to become healthy or lost."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


async def wait_for_health(
    changed: asyncio.Condition, current: Callable[[], bool], healthy: bool, timeout: float
) -> bool:
    """Wait until ``current()`` is ``healthy`` (the feed notifies ``changed``); ``False`` on timeout."""
    async with changed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait_for(lambda: current() is healthy), timeout)
        return current() is healthy


__all__ = ("wait_for_health",)
