"""Request validation with msgspec: one typed decode, constraints declared in types, sanitising.

``ValidationMiddleware(app, ValidationConfig(routes={("POST", "/api/v1/action/execute"): ExecuteAction}))``
decodes each listed route's JSON body once into its type, converts its query and path parameters,
answers 400 with the field path when they do not fit, and hands the decoded object to the app
(:func:`get_payload`).
"""

from __future__ import annotations

from asgi_guard.validation.access import Validated, get_path_params, get_payload, get_query
from asgi_guard.validation.config import ValidationConfig
from asgi_guard.validation.middleware import ValidationMiddleware
from asgi_guard.validation.route import RouteSchema
from asgi_guard.validation.sanitize import Sanitize, SanitizedStr
from asgi_guard.validation.schemas import ExecuteAction, ModerationAction
from asgi_guard.validation.types import (
    ChatMessage,
    CommandName,
    DurationSeconds,
    ModerationReason,
    PageSize,
    UserId,
)

__all__ = (
    "ChatMessage",
    "CommandName",
    "DurationSeconds",
    "ExecuteAction",
    "ModerationAction",
    "ModerationReason",
    "PageSize",
    "RouteSchema",
    "Sanitize",
    "SanitizedStr",
    "UserId",
    "Validated",
    "ValidationConfig",
    "ValidationMiddleware",
    "get_path_params",
    "get_payload",
    "get_query",
)
