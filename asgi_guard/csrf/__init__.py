"""CSRF protection for cookie-authenticated requests: Fetch Metadata, Origin/Referer, signed tokens."""

from __future__ import annotations

from asgi_guard.csrf.config import CSRFConfig
from asgi_guard.csrf.helpers import csrf_headers, csrf_input, csrf_meta, csrf_token
from asgi_guard.csrf.middleware import SAFE_METHODS, CSRFMiddleware
from asgi_guard.csrf.tokens import CSRFTokens, session_binding

__all__ = (
    "SAFE_METHODS",
    "CSRFConfig",
    "CSRFMiddleware",
    "CSRFTokens",
    "csrf_headers",
    "csrf_input",
    "csrf_meta",
    "csrf_token",
    "session_binding",
)
