"""Which security headers to send, with two presets (strict API, web app) as named constructors.

Defaults follow the OWASP Secure Headers Project and MDN: each preset value carries the reason.
``None`` means "do not send this header".
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.headers.security_txt import SecurityTxt

_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HSTS_MAX_AGE: Final = re.compile(r"(?:^|;)\s*max-age=\"?[0-9]+\"?\s*(?:;|$)", re.IGNORECASE)
_REFERRER_POLICIES: Final = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)

# Two years with subdomains: the value hstspreload.org asks for. Sent over HTTPS only (RFC 6797 §7.2).
HSTS_TWO_YEARS: Final = "max-age=63072000; includeSubDomains"
# Powerful features an API or a typical web app never needs.
PERMISSIONS_NONE: Final = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)

_STRICT_API: Final[dict[str, Any]] = {
    # An API serves data, never documents: nothing may load, nothing may frame it.
    "content_security_policy": "default-src 'none'; frame-ancestors 'none'",
    "strict_transport_security": HSTS_TWO_YEARS,
    "x_content_type_options": "nosniff",
    "x_frame_options": "DENY",  # for browsers that predate frame-ancestors
    "referrer_policy": "no-referrer",
    "permissions_policy": PERMISSIONS_NONE,
    "cross_origin_opener_policy": "same-origin",
    "cross_origin_resource_policy": "same-origin",
    # Responses carry personal or authorisation-dependent data: no shared or browser caching.
    "cache_control": "no-store",
}

_WEB_APP: Final[dict[str, Any]] = {
    # Same-origin resources only, no plugins, no <base> or form hijacking, framed by itself only.
    "content_security_policy": (
        "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'; object-src 'none'"
    ),
    "strict_transport_security": HSTS_TWO_YEARS,
    "x_content_type_options": "nosniff",
    "x_frame_options": "SAMEORIGIN",
    "referrer_policy": "strict-origin-when-cross-origin",  # the browsers' default, stated explicitly
    "permissions_policy": PERMISSIONS_NONE,
    "cross_origin_opener_policy": "same-origin",
    "cross_origin_resource_policy": "same-origin",
    "cache_control": None,  # pages and assets may be cached; the app decides
}

# (config field, header name) in the order the headers are sent.
FIELDS: Final = (
    ("content_security_policy", b"content-security-policy"),
    ("strict_transport_security", b"strict-transport-security"),
    ("x_content_type_options", b"x-content-type-options"),
    ("x_frame_options", b"x-frame-options"),
    ("referrer_policy", b"referrer-policy"),
    ("permissions_policy", b"permissions-policy"),
    ("cross_origin_opener_policy", b"cross-origin-opener-policy"),
    ("cross_origin_resource_policy", b"cross-origin-resource-policy"),
    ("cache_control", b"cache-control"),
)


def check_value(value: object, where: str) -> str:
    """A header value as configured: a latin-1 string without CR, LF or other control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError.expected("a non-empty string", value, where)
    if any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F or ord(char) > 0xFF for char in value):
        raise ConfigurationError.expected("a header value without control or non-latin-1 characters", value, where)
    return value


class SecurityHeadersConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Security response headers, and an optional security.txt.

    Prefer a preset: :meth:`strict_api` for JSON APIs, :meth:`web_app` for server-rendered pages,
    each taking field overrides. Headers the app sets itself always win.

    Attributes:
        content_security_policy: ``Content-Security-Policy``.
        strict_transport_security: ``Strict-Transport-Security``, sent on ``https`` requests only.
        hsts_on_http: also send HSTS when the scope says ``http`` (a TLS-terminating proxy in front
            that does not forward the scheme).
        x_content_type_options: ``X-Content-Type-Options`` (only ``nosniff`` exists).
        x_frame_options: ``X-Frame-Options``: ``DENY`` or ``SAMEORIGIN``.
        referrer_policy: ``Referrer-Policy`` (one policy or a comma-separated fallback list).
        permissions_policy: ``Permissions-Policy``.
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy``.
        cross_origin_resource_policy: ``Cross-Origin-Resource-Policy``.
        cache_control: ``Cache-Control`` for responses that set none (``no-store`` for APIs).
        extra_headers: further ``(name, value)`` pairs, sent the same way.
        security_txt: when set, served at ``/.well-known/security.txt`` (RFC 9116).
    """

    content_security_policy: str | None = None
    strict_transport_security: str | None = None
    hsts_on_http: bool = False
    x_content_type_options: str | None = "nosniff"
    x_frame_options: str | None = None
    referrer_policy: str | None = None
    permissions_policy: str | None = None
    cross_origin_opener_policy: str | None = None
    cross_origin_resource_policy: str | None = None
    cache_control: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    security_txt: SecurityTxt | None = None

    @classmethod
    def strict_api(cls, **overrides: Any) -> SecurityHeadersConfig:
        """The preset for JSON APIs: nothing loads, nothing frames, nothing is cached.

        Its CSP also blocks HTML tools served by the API itself (FastAPI's ``/docs``): give those
        apps a ``content_security_policy`` override, or serve the docs from a separate app.
        """
        return cls(**{**_STRICT_API, **overrides})

    @classmethod
    def web_app(cls, **overrides: Any) -> SecurityHeadersConfig:
        """The preset for server-rendered pages: same-origin resources, framing by itself only."""
        return cls(**{**_WEB_APP, **overrides})

    def __post_init__(self) -> None:
        for field, _ in FIELDS:
            value = getattr(self, field)
            if value is not None:
                check_value(value, f"SecurityHeadersConfig.{field}")
        hsts = self.strict_transport_security
        if hsts is not None and not _HSTS_MAX_AGE.search(hsts):
            raise ConfigurationError.expected(
                "a `max-age=<seconds>` directive (RFC 6797 §6.1.1)",
                hsts,
                "SecurityHeadersConfig.strict_transport_security",
            )
        if self.x_content_type_options is not None and self.x_content_type_options.lower() != "nosniff":
            raise ConfigurationError.expected(
                '"nosniff"', self.x_content_type_options, "SecurityHeadersConfig.x_content_type_options"
            )
        if self.x_frame_options is not None and self.x_frame_options.upper() not in ("DENY", "SAMEORIGIN"):
            raise ConfigurationError.expected(
                '"DENY" or "SAMEORIGIN"', self.x_frame_options, "SecurityHeadersConfig.x_frame_options"
            )
        if self.referrer_policy is not None:
            for policy in self.referrer_policy.split(","):
                if policy.strip().lower() not in _REFERRER_POLICIES:
                    raise ConfigurationError.expected(
                        f"policies among {sorted(_REFERRER_POLICIES)}",
                        self.referrer_policy,
                        "SecurityHeadersConfig.referrer_policy",
                    )
        self._check_extra()
        if self.security_txt is not None and not isinstance(self.security_txt, SecurityTxt):
            raise ConfigurationError.expected("a SecurityTxt", self.security_txt, "SecurityHeadersConfig.security_txt")

    def _check_extra(self) -> None:
        pairs: object = self.extra_headers
        if isinstance(pairs, str) or not isinstance(pairs, tuple | list):
            raise ConfigurationError.expected(
                "a tuple of (name, value) pairs", pairs, "SecurityHeadersConfig.extra_headers"
            )
        known = {name.decode() for _, name in FIELDS}
        for index, pair in enumerate(pairs):
            where = f"SecurityHeadersConfig.extra_headers[{index}]"
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ConfigurationError.expected("a (name, value) pair", pair, where)
            name, value = pair
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ConfigurationError.expected("a header name (RFC 9110 token)", name, where)
            if name.lower() in known:
                raise ConfigurationError.expected(f"a header without its own field, not `{name}`", name, where)
            check_value(value, where)


__all__ = ("HSTS_TWO_YEARS", "PERMISSIONS_NONE", "SecurityHeadersConfig", "check_value")
