"""Security response headers (presets for APIs and web apps) and RFC 9116 security.txt."""

from __future__ import annotations

from asgi_guard.headers.config import HSTS_TWO_YEARS, PERMISSIONS_NONE, SecurityHeadersConfig
from asgi_guard.headers.middleware import SecurityHeadersMiddleware
from asgi_guard.headers.security_txt import SECURITY_TXT_PATH, SecurityTxt

__all__ = (
    "HSTS_TWO_YEARS",
    "PERMISSIONS_NONE",
    "SECURITY_TXT_PATH",
    "SecurityHeadersConfig",
    "SecurityHeadersMiddleware",
    "SecurityTxt",
)
