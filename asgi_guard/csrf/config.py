"""Configuration of the CSRF layer: the signing secrets, trusted origins, where a token may come from."""

from __future__ import annotations

import re
from typing import Final

import msgspec

from asgi_guard.csrf.origin import normalize_origin
from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_error_format

_HEADER: Final = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
_FIELD: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MIN_SECRET: Final = 32


class CSRFConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """CSRF protection for requests authenticated by a cookie (an ambient credential).

    Attributes:
        secrets: HMAC-SHA256 keys for the signed tokens, at least 32 bytes each (``str`` is UTF-8
            encoded); the first signs, any verifies (list the new key first to rotate).
        trusted_origins: other origins whose pages may send unsafe requests (``https://app.example``),
            same-site or cross-site. ``null`` is never an origin you can trust.
        header: the request header carrying a token (lower-case).
        form_field: the form field carrying a token (url-encoded and multipart bodies).
        max_form_bytes: largest form body read to find the token (past it: 413).
        require_token: also require a valid token when the headers already passed (defence in depth;
            every unsafe cookie-authenticated request must then carry one).
        error_format: ``json`` or ``problem`` (RFC 9457).
    """

    secrets: tuple[str | bytes, ...]
    trusted_origins: tuple[str, ...] = ()
    header: str = "x-csrf-token"
    form_field: str = "csrf_token"
    max_form_bytes: int = 1 << 20
    require_token: bool = False
    error_format: ErrorFormat = "json"

    def __post_init__(self) -> None:
        entries: object = self.secrets
        if isinstance(entries, str | bytes) or not isinstance(entries, tuple | list) or not entries:
            raise ConfigurationError.expected("a non-empty tuple of secrets", "<redacted>", "CSRFConfig.secrets")
        for index, secret in enumerate(self.secrets):
            if not isinstance(secret, str | bytes) or len(_key(secret)) < MIN_SECRET:
                raise ConfigurationError.expected(
                    f"a secret of at least {MIN_SECRET} bytes", "<redacted>", f"CSRFConfig.secrets[{index}]"
                )
        for index, origin in enumerate(self.trusted_origins):
            if not isinstance(origin, str) or normalize_origin(origin) is None:
                raise ConfigurationError.expected(
                    "an origin such as 'https://app.example' (no path, not 'null')",
                    origin,
                    f"CSRFConfig.trusted_origins[{index}]",
                )
        if not isinstance(self.header, str) or not _HEADER.match(self.header):
            raise ConfigurationError.expected("a lower-case header name", self.header, "CSRFConfig.header")
        if not isinstance(self.form_field, str) or not _FIELD.match(self.form_field):
            raise ConfigurationError.expected("a form field name", self.form_field, "CSRFConfig.form_field")
        size: object = self.max_form_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError.expected("a size >= 1", size, "CSRFConfig.max_form_bytes")
        check_error_format(self.error_format, "CSRFConfig.error_format")

    def keys(self) -> tuple[bytes, ...]:
        """The secrets as bytes."""
        return tuple(_key(secret) for secret in self.secrets)

    def origins(self) -> frozenset[str]:
        """The trusted origins, normalised."""
        return frozenset(normalize_origin(origin) or "" for origin in self.trusted_origins)

    def __repr__(self) -> str:
        return f"CSRFConfig(secrets=<{len(self.secrets)} redacted>, trusted_origins={self.trusted_origins!r})"


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


__all__ = ("MIN_SECRET", "CSRFConfig")
