"""Structured security events: the record, its sinks, and the middleware that correlates them."""

from __future__ import annotations

from asgi_guard.events.config import EventsConfig
from asgi_guard.events.emit import Emitter, emit, fingerprint
from asgi_guard.events.event import SecurityEvent
from asgi_guard.events.middleware import REQUEST_ID, EventsMiddleware
from asgi_guard.events.sinks import SECURITY_LOGGER, EventSink, LoggingSink, OpenTelemetrySink

__all__ = (
    "REQUEST_ID",
    "SECURITY_LOGGER",
    "Emitter",
    "EventSink",
    "EventsConfig",
    "EventsMiddleware",
    "LoggingSink",
    "OpenTelemetrySink",
    "SecurityEvent",
    "emit",
    "fingerprint",
)
