"""The ASGI vocabulary, and nothing else (the same aliases as Starlette's ``types.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers: TypeAlias = "list[tuple[bytes, bytes]]"
"""Raw ASGI headers as a server hands them over: a list of ``(name, value)`` byte pairs."""

__all__ = ("ASGIApp", "Headers", "Message", "Receive", "Scope", "Send")
