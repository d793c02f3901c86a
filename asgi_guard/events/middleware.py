"""The outermost layer: request ids, the event emitter for the request, optional outcome events."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from asgi_guard._headers import get_header
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.context import GuardContext
from asgi_guard.events.config import EventsConfig
from asgi_guard.events.emit import DEFAULT_EMITTER, Emitter, emit

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

REQUEST_ID: Final[ContextVar[str]] = ContextVar("asgi_guard_request_id", default="")
"""The current request id, for log correlation anywhere in the request's task."""


class EventsMiddleware:
    """Gives each request an id (echoed in the response), routes its security events to the
    configured sinks, and optionally logs each request's outcome.

    The server's request id is always generated (128 random bits: unguessable, and no client can
    choose it or reuse another request's). A client-supplied ``X-Request-ID`` that matches the
    configured pattern (so it cannot inject log lines) is echoed in the response instead and logged
    as its own field, ``client_request_id``. ``lifespan`` passes through.
    """

    __slots__ = ("_emitter", "_header", "_log_outcome", "_pattern", "app", "config")

    def __init__(self, app: ASGIApp, config: EventsConfig | None = None) -> None:
        self.app = app
        self.config = config = config if config is not None else EventsConfig()
        if config.sinks is None and config.clock is None:
            self._emitter = DEFAULT_EMITTER
        else:
            sinks = config.sinks if config.sinks is not None else DEFAULT_EMITTER.sinks
            self._emitter = Emitter(list(sinks), config.clock or SYSTEM_CLOCK)
        self._header = config.request_id_header.encode("latin-1")
        self._pattern = re.compile(config.request_id_pattern) if config.trust_request_id else None
        self._log_outcome = config.log_outcome

    def _client_request_id(self, scope: Scope) -> str:
        """The client's request id when it is acceptable, else ``""``."""
        if self._pattern is not None:
            raw = get_header(scope, self._header)
            if raw is not None:
                try:
                    text = raw.decode("ascii")
                except UnicodeDecodeError:
                    return ""
                if self._pattern.fullmatch(text):
                    return text
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        ctx, send = GuardContext.enter(scope, send)
        ctx.emitter = self._emitter
        ctx.request_id = request_id = new_request_id()
        ctx.client_request_id = client_id = self._client_request_id(scope)
        token = REQUEST_ID.set(request_id)
        ctx.set_response_header(self._header, (client_id or request_id).encode("ascii"))
        raised = True
        try:
            await self.app(scope, receive, send)
            raised = False
        finally:
            REQUEST_ID.reset(token)
            if self._log_outcome:
                _log_outcome(scope, ctx.status, raised)


def _log_outcome(scope: Scope, status: int, raised: bool) -> None:
    """One ``request`` event: the status sent, or why there was none (the client left, or a crash)."""
    if status:
        emit(scope, "request", "allow" if status < 400 else "deny", reason=str(status))
    elif raised:
        emit(scope, "request", "error", reason="exception")
    else:  # every layer returns without answering only when the client has gone
        emit(scope, "request", "disconnect", reason="client_disconnected")


_ID_BYTES: Final = 16
_POOL: Final = 256
"""Request ids drawn per ``os.urandom`` call: one system call per 256 requests instead of one each."""


class _RandomPool:
    """Slices of one ``os.urandom`` read, each handed out once (a forked child starts a fresh pool)."""

    __slots__ = ("buffer", "next")

    def __init__(self) -> None:
        self.buffer = b""
        self.next = 0

    def reset(self) -> None:
        self.buffer, self.next = b"", 0


_pool: Final = _RandomPool()
os.register_at_fork(after_in_child=_pool.reset)


def new_request_id() -> str:
    """A server request id: 128 random bits (from ``os.urandom``, the source of ``secrets``) as 32 hex digits."""
    start = _pool.next
    end = start + _ID_BYTES
    if end > len(_pool.buffer):
        _pool.buffer, start, end = os.urandom(_ID_BYTES * _POOL), 0, _ID_BYTES
    _pool.next = end
    return _pool.buffer[start:end].hex()


__all__ = ("REQUEST_ID", "EventsMiddleware", "new_request_id")
