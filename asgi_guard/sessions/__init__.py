"""Browser sessions: the session JWT in hardened cookies, and helpers to set, rotate and clear it.

Authenticate from the cookie with ``AuthConfig(jwt=..., session=SessionCookies())`` and protect
cookie-authenticated requests with :class:`asgi_guard.csrf.CSRFConfig`.
"""

from __future__ import annotations

from asgi_guard.sessions.cookies import InsecureSessionWarning, SessionCookies, is_loopback_host, read_cookie
from asgi_guard.sessions.helpers import clear_session, logout, refresh_session, set_session

__all__ = (
    "InsecureSessionWarning",
    "SessionCookies",
    "clear_session",
    "is_loopback_host",
    "logout",
    "read_cookie",
    "refresh_session",
    "set_session",
)
