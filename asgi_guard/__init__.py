"""asgi_guard: composable pure-ASGI security middlewares.

Wrap any ASGI app with :func:`guard` and the configs of the layers you want; each middleware also
works alone (Starlette ``Middleware``, FastAPI ``add_middleware``, Litestar ``DefineMiddleware``).
"""

from __future__ import annotations

from asgi_guard.clock import Clock, SystemClock
from asgi_guard.compose import GuardLayer, Layer, guard
from asgi_guard.context import CONTEXT_KEY, GuardContext, get_community_id, get_context, get_principal
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError, MissingGuardContext
from asgi_guard.events import EventsConfig, EventsMiddleware, SecurityEvent
from asgi_guard.principal import Principal

__version__ = "0.1.0"

__all__ = (
    "CONTEXT_KEY",
    "Clock",
    "ConfigurationError",
    "ErrorCode",
    "EventsConfig",
    "EventsMiddleware",
    "GuardContext",
    "GuardError",
    "GuardLayer",
    "Layer",
    "MissingGuardContext",
    "Principal",
    "SecurityEvent",
    "SystemClock",
    "__version__",
    "get_community_id",
    "get_context",
    "get_principal",
    "guard",
)
