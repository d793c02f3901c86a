"""Background work whose waiters may have left: its exception is looked at, never left unhandled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


def retrieve(task: asyncio.Future[Any]) -> None:
    """A done-callback: mark a failed task's exception as retrieved (no "never retrieved" warning when
    every waiter gave up: timed out, cancelled, or went away with its client)."""
    if not task.cancelled():
        task.exception()


__all__ = ("retrieve",)
