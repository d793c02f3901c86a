"""Where the session JWT lives in a browser: two hardened cookies, and how a request's cookies are read.

The access token goes in ``__Host-session`` (``Secure``, ``Path=/``, no ``Domain``: a sibling
subdomain cannot set or shadow it, RFC 6265bis §4.1.3.2), ``HttpOnly`` (no script reads it, so an
XSS cannot carry it away) and ``SameSite=Lax`` (not sent on cross-site subrequests and POSTs; Strict
would drop it on the first navigation from another site, e.g. an OAuth provider redirecting back).
The refresh token goes in its own cookie scoped to the refresh path, so ordinary requests never carry
it; ``__Host-`` demands ``Path=/``, so that one uses ``__Secure-``.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from asgi_guard._headers import get_all, get_header
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError

if TYPE_CHECKING:
    from asgi_guard.types import Scope

# RFC 6265 §4.1.1 cookie-name is a token; values we write are JWTs (base64url and dots).
_NAME: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_PATH: Final = re.compile(r"^/[A-Za-z0-9\-._~/]*$")
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
MAX_COOKIE_HEADER: Final = 16384
"""Cookie headers longer than this are not parsed (browsers send at most a few kilobytes)."""

logger = logging.getLogger("asgi_guard.security")


class InsecureSessionWarning(UserWarning):
    """Session cookies without ``Secure``: development on plain-http localhost only."""


class SessionCookies(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Names and flags of the session cookies.

    Attributes:
        access_cookie: the cookie holding the access token (``__Host-`` prefixed in production).
        refresh_cookie: the cookie holding the refresh token (``__Secure-`` prefixed in production).
        refresh_path: the ``Path`` of the refresh cookie. The refresh *and* logout endpoints must be
            under it (logout revokes the refresh token, so it must receive it).
        refresh_max_age: lifetime of the refresh cookie in seconds (match ``TokenService.refresh_ttl``).
        same_site: ``lax`` (default) or ``strict``. ``none`` is refused: it would send the cookie on
            every cross-site request.
        insecure_dev: plain-http development on localhost: cookies without ``Secure`` and without
            name prefixes, accepted only from a loopback ``Host``. Warns at construction and logs a
            security warning; use :meth:`development` rather than setting it by hand.
    """

    access_cookie: str = "__Host-session"
    refresh_cookie: str = "__Secure-refresh"
    refresh_path: str = "/auth"
    refresh_max_age: int = 30 * 86400
    same_site: Literal["lax", "strict"] = "lax"
    insecure_dev: bool = False

    def __post_init__(self) -> None:
        for field in ("access_cookie", "refresh_cookie"):
            name = getattr(self, field)
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigurationError.expected("a cookie name (RFC 6265 token)", name, f"SessionCookies.{field}")
            prefixed = name.lower().startswith(("__host-", "__secure-"))
            if self.insecure_dev and prefixed:
                raise ConfigurationError.expected(
                    "a name without __Host-/__Secure- (browsers refuse them without Secure)",
                    name,
                    f"SessionCookies.{field}",
                )
        if self.access_cookie == self.refresh_cookie:
            raise ConfigurationError.expected("two different cookie names", self.access_cookie, "SessionCookies")
        if self.access_cookie.lower().startswith("__secure-"):
            raise ConfigurationError.expected(
                "__Host- (no Domain, Path=/) for the access cookie", self.access_cookie, "SessionCookies.access_cookie"
            )
        if not isinstance(self.refresh_path, str) or not _PATH.match(self.refresh_path):
            raise ConfigurationError.expected("an absolute path", self.refresh_path, "SessionCookies.refresh_path")
        if self.refresh_cookie.lower().startswith("__host-") and self.refresh_path != "/":
            raise ConfigurationError.expected(
                "__Secure- for a refresh cookie scoped to a path (__Host- requires Path=/)",
                self.refresh_cookie,
                "SessionCookies.refresh_cookie",
            )
        if (
            isinstance(self.refresh_max_age, bool)
            or not isinstance(self.refresh_max_age, int)
            or self.refresh_max_age < 1
        ):
            raise ConfigurationError.expected("seconds >= 1", self.refresh_max_age, "SessionCookies.refresh_max_age")
        if self.same_site not in ("lax", "strict"):
            raise ConfigurationError.expected("'lax' or 'strict'", self.same_site, "SessionCookies.same_site")
        if self.insecure_dev:
            message = (
                "asgi_guard session cookies are in insecure development mode: no Secure flag, plain http, "
                "accepted from localhost only. Never deploy this."
            )
            warnings.warn(message, InsecureSessionWarning, stacklevel=3)
            logger.warning(message)

    @classmethod
    def development(cls, *, refresh_path: str = "/auth") -> SessionCookies:
        """Cookies for plain-http localhost development (``session``/``refresh``, no ``Secure``)."""
        return cls(access_cookie="session", refresh_cookie="refresh", refresh_path=refresh_path, insecure_dev=True)

    def _attributes(self, path: str) -> str:
        secure = "" if self.insecure_dev else "; Secure"
        return f"; Path={path}; HttpOnly{secure}; SameSite={self.same_site.capitalize()}"

    def access_header(self, token: str, max_age: int) -> tuple[bytes, bytes]:
        """The ``Set-Cookie`` header storing ``token`` as the access cookie."""
        return _set_cookie(self.access_cookie, token, f"; Max-Age={max_age}" + self._attributes("/"))

    def refresh_header(self, token: str) -> tuple[bytes, bytes]:
        """The ``Set-Cookie`` header storing ``token`` as the refresh cookie (scoped to ``refresh_path``)."""
        return _set_cookie(
            self.refresh_cookie, token, f"; Max-Age={self.refresh_max_age}" + self._attributes(self.refresh_path)
        )

    def clear_headers(self) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
        """``Set-Cookie`` headers deleting both cookies (same name, path and flags, ``Max-Age=0``)."""
        return (
            _set_cookie(self.access_cookie, "", "; Max-Age=0" + self._attributes("/")),
            _set_cookie(self.refresh_cookie, "", "; Max-Age=0" + self._attributes(self.refresh_path)),
        )


def _set_cookie(name: str, value: str, attributes: str) -> tuple[bytes, bytes]:
    if not _COOKIE_VALUE.match(value):
        raise ValueError("a session cookie value must be a JWT (base64url and dots)")
    return (b"set-cookie", f"{name}={value}{attributes}".encode("ascii"))


_COOKIE_VALUE: Final = re.compile(r"^[A-Za-z0-9\-_.]*$")


def read_cookie(scope: Scope, name: str) -> str | None:
    """The value of cookie ``name`` in the request, or ``None``.

    All ``Cookie`` headers are read (HTTP/2 may split one into several, RFC 9113 §8.2.3).

    Raises:
        GuardError: ``malformed_request`` when the cookie appears twice (a shadowing cookie set by
            a sibling subdomain or an insecure origin: refuse rather than guess which one is ours),
            or the headers are oversized.
    """
    values = get_all(scope, b"cookie")
    if not values:
        return None
    found: str | None = None
    size = 0
    for raw in values:
        size += len(raw)
        if size > MAX_COOKIE_HEADER:
            raise GuardError(ErrorCode.MALFORMED_REQUEST, "oversized_cookie_header")
        text = raw.decode("latin-1")
        if name not in text:
            continue
        for pair in text.split(";"):
            key, sep, value = pair.partition("=")
            if sep and key.strip() == name:
                if found is not None:
                    raise GuardError(ErrorCode.MALFORMED_REQUEST, f"duplicate_cookie:{name}")
                found = value.strip()
    return found


def is_loopback_host(scope: Scope) -> bool:
    """Whether the request's ``Host`` names this machine's loopback (port ignored)."""
    raw = get_header(scope, b"host")
    if raw is None:
        return False
    host = raw.decode("latin-1").strip().lower()
    host = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]
    return host in _LOOPBACK


__all__ = ("MAX_COOKIE_HEADER", "InsecureSessionWarning", "SessionCookies", "is_loopback_host", "read_cookie")
