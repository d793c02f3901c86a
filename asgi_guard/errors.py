"""Errors: configuration mistakes (raised at construction) and denials (answered per request).

Denial codes are stable API (docs/errors.md): clients and dashboards match on them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final


class ErrorCode(StrEnum):
    """Every code a denial can carry, with its HTTP status in :data:`STATUS`."""

    MISSING_COMMUNITY_ID = "missing_community_id"
    INVALID_COMMUNITY_ID = "invalid_community_id"
    VALIDATION_ERROR = "validation_error"
    MALFORMED_REQUEST = "malformed_request"
    MISSING_CREDENTIALS = "missing_credentials"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    INVALID_API_KEY = "invalid_api_key"
    API_KEY_EXPIRED = "api_key_expired"
    MISSING_SIGNATURE = "missing_signature"
    INVALID_SIGNATURE = "invalid_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    INSUFFICIENT_PERMISSIONS = "insufficient_permissions"
    COMMUNITY_FORBIDDEN = "community_forbidden"
    REPLAYED_MESSAGE = "replayed_message"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    SERVICE_UNAVAILABLE = "service_unavailable"
    AMBIGUOUS_CREDENTIALS = "ambiguous_credentials"
    CSRF_FAILED = "csrf_failed"


STATUS: Final[dict[ErrorCode, int]] = {
    ErrorCode.MISSING_COMMUNITY_ID: 400,
    ErrorCode.INVALID_COMMUNITY_ID: 400,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.MISSING_CREDENTIALS: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.TOKEN_REVOKED: 401,
    ErrorCode.INVALID_API_KEY: 401,
    ErrorCode.API_KEY_EXPIRED: 401,
    ErrorCode.MISSING_SIGNATURE: 401,
    ErrorCode.INVALID_SIGNATURE: 401,
    ErrorCode.STALE_TIMESTAMP: 401,
    ErrorCode.INSUFFICIENT_PERMISSIONS: 403,
    ErrorCode.COMMUNITY_FORBIDDEN: 403,
    ErrorCode.REPLAYED_MESSAGE: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.AMBIGUOUS_CREDENTIALS: 400,
    ErrorCode.CSRF_FAILED: 403,
}

# Generic, client-facing texts. The precise cause goes to the security event, never to the client.
DETAIL: Final[dict[ErrorCode, str]] = {
    ErrorCode.MISSING_COMMUNITY_ID: "The X-Community-ID header is required.",
    ErrorCode.INVALID_COMMUNITY_ID: "The community id is not valid.",
    ErrorCode.VALIDATION_ERROR: "The request body is not valid.",
    ErrorCode.MALFORMED_REQUEST: "The request is malformed.",
    ErrorCode.MISSING_CREDENTIALS: "Authentication is required.",
    ErrorCode.INVALID_TOKEN: "The access token is not valid.",
    ErrorCode.TOKEN_EXPIRED: "The access token has expired.",
    ErrorCode.TOKEN_REVOKED: "The access token has been revoked.",
    ErrorCode.INVALID_API_KEY: "The API key is not valid.",
    ErrorCode.API_KEY_EXPIRED: "The API key has expired.",
    ErrorCode.MISSING_SIGNATURE: "The request signature is missing.",
    ErrorCode.INVALID_SIGNATURE: "The request signature is not valid.",
    ErrorCode.STALE_TIMESTAMP: "The request timestamp is outside the accepted window.",
    ErrorCode.INSUFFICIENT_PERMISSIONS: "You do not have permission to perform this action.",
    ErrorCode.COMMUNITY_FORBIDDEN: "You are not a member of this community.",
    ErrorCode.REPLAYED_MESSAGE: "This message has already been received.",
    ErrorCode.PAYLOAD_TOO_LARGE: "The request body is too large.",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "The request content type is not supported.",
    ErrorCode.RATE_LIMIT_EXCEEDED: "Too many requests.",
    ErrorCode.SERVICE_UNAVAILABLE: "The service is temporarily unavailable.",
    ErrorCode.AMBIGUOUS_CREDENTIALS: "Send one credential: a session cookie or an Authorization header, not both.",
    ErrorCode.CSRF_FAILED: "The request was refused as a possible cross-site request forgery.",
}


class ConfigurationError(ValueError):
    """A misconfiguration, raised at construction time and never per request.

    Messages follow msgspec's shape: what was expected, what was given, and where.
    """

    @classmethod
    def expected(cls, what: str, got: Any, at: str) -> ConfigurationError:
        """Build ``Expected `what`, got `got` - at `at```."""
        return cls(f"Expected {what}, got {got!r} - at `{at}`")


class MissingGuardContext(LookupError):
    """Raised by the context accessors when the middleware that fills a value is not installed."""


class GuardError(Exception):
    """A request is refused: raised inside a layer, rendered once by ``_responses``.

    Args:
        code: the stable error code sent to the client.
        reason: the precise cause, for the security event only (never sent to the client).
        detail: overrides the generic client-facing text (must not carry secrets).
        headers: extra response headers (for example ``Retry-After``).
    """

    __slots__ = ("code", "detail", "headers", "reason")

    def __init__(
        self,
        code: ErrorCode,
        reason: str = "",
        *,
        detail: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(code.value, reason)
        self.code = code
        self.reason = reason or code.value
        self.detail = detail
        self.headers = headers

    @property
    def status(self) -> int:
        return STATUS[self.code]


__all__ = ("DETAIL", "STATUS", "ConfigurationError", "ErrorCode", "GuardError", "MissingGuardContext")
