"""The outermost layer: request ids, the event emitter for the request, optional outcome events."""

from __future__ import annotations

import itertools
import re
import secrets
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

    A client-supplied ``X-Request-ID`` is kept only when it matches the configured pattern, so a
    hostile id cannot inject log lines. ``lifespan`` passes through.
    """

    __slots__ = ("_counter", "_emitter", "_header", "_log_outcome", "_pattern", "_prefix", "app", "config")

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
        # A per-process random prefix plus a counter: unique across instances, far cheaper than uuid4.
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)
        self._log_outcome = config.log_outcome

    def _request_id(self, scope: Scope) -> str:
        if self._pattern is not None:
            raw = get_header(scope, self._header)
            if raw is not None:
                try:
                    text = raw.decode("ascii")
                except UnicodeDecodeError:
                    text = ""
                if self._pattern.fullmatch(text):
                    return text
        return f"{self._prefix}-{next(self._counter):x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        ctx, send = GuardContext.enter(scope, send)
        ctx.emitter = self._emitter
        ctx.request_id = request_id = self._request_id(scope)
        token = REQUEST_ID.set(request_id)
        ctx.set_response_header(self._header, request_id.encode("ascii"))
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)
            if self._log_outcome:
                status = ctx.status
                emit(scope, "request", "allow" if 0 < status < 400 else "deny", reason=str(status))


__all__ = ("REQUEST_ID", "EventsMiddleware")
