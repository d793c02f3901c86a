"""The one place that answers a refused request.

Every denial gets the JSON body of docs/errors.md (or RFC 9457 ``application/problem+json``), the
right status, ``WWW-Authenticate`` per RFC 6750 §3 on 401 (and on a bearer 403), ``Retry-After`` on
429 (passed in by the rate limiter), ``Cache-Control: no-store``, and a security event. Websocket
scopes are closed with 1008 before ``accept``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard._memo import Memo
from asgi_guard.context import GuardContext
from asgi_guard.errors import DETAIL, STATUS, ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.options import ErrorFormat

if TYPE_CHECKING:
    from asgi_guard.types import Scope, Send

WS_POLICY_VIOLATION: Final = 1008

_BEARER_ERRORS: Final = frozenset({ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED, ErrorCode.TOKEN_REVOKED})
_SIGNATURE_ERRORS: Final = frozenset(
    {ErrorCode.MISSING_SIGNATURE, ErrorCode.INVALID_SIGNATURE, ErrorCode.STALE_TIMESTAMP}
)
_API_KEY_ERRORS: Final = frozenset({ErrorCode.INVALID_API_KEY, ErrorCode.API_KEY_EXPIRED})

# The event type each denial is logged under (docs/guides/events.md).
EVENT_TYPE: Final[dict[ErrorCode, str]] = {
    ErrorCode.MISSING_COMMUNITY_ID: "community_denied",
    ErrorCode.INVALID_COMMUNITY_ID: "community_denied",
    ErrorCode.COMMUNITY_FORBIDDEN: "community_denied",
    ErrorCode.VALIDATION_ERROR: "validation_failure",
    ErrorCode.MALFORMED_REQUEST: "malformed_request",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "validation_failure",
    ErrorCode.PAYLOAD_TOO_LARGE: "payload_too_large",
    ErrorCode.MISSING_CREDENTIALS: "authn_failure",
    ErrorCode.INVALID_TOKEN: "authn_failure",
    ErrorCode.TOKEN_EXPIRED: "authn_failure",
    ErrorCode.TOKEN_REVOKED: "authn_failure",
    ErrorCode.INVALID_API_KEY: "authn_failure",
    ErrorCode.API_KEY_EXPIRED: "authn_failure",
    ErrorCode.MISSING_SIGNATURE: "signature_failure",
    ErrorCode.INVALID_SIGNATURE: "signature_failure",
    ErrorCode.STALE_TIMESTAMP: "signature_failure",
    ErrorCode.REPLAYED_MESSAGE: "signature_failure",
    ErrorCode.INSUFFICIENT_PERMISSIONS: "authz_denied",
    ErrorCode.RATE_LIMIT_EXCEEDED: "rate_limit_hit",
    ErrorCode.SERVICE_UNAVAILABLE: "backend_failure",
    ErrorCode.AMBIGUOUS_CREDENTIALS: "authn_failure",
    ErrorCode.CSRF_FAILED: "csrf_failure",
}


class _JSONError(msgspec.Struct):
    error: str
    detail: str


class _ProblemError(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    code: str


_encoder: Final = msgspec.json.Encoder()
_body_cache: Final[Memo[tuple[ErrorCode, ErrorFormat, str], bytes]] = Memo(1024)


def render_body(code: ErrorCode, fmt: ErrorFormat = "json", detail: str | None = None) -> bytes:
    """The response body of a denial (memoised: bodies are derived from constants)."""
    text = DETAIL[code] if detail is None else detail
    key = (code, fmt, text)
    body = _body_cache.get(key)
    if body is None:
        status = STATUS[code]
        if fmt == "problem":
            obj: Any = _ProblemError(
                type=f"urn:asgi-guard:error:{code.value}",
                title=HTTPStatus(status).phrase,
                status=status,
                detail=text,
                code=code.value,
            )
        else:
            obj = _JSONError(error=code.value, detail=text)
        body = _body_cache.put(key, _encoder.encode(obj))  # details are constants in practice; bounded anyway
    return body


def challenge(code: ErrorCode, *, bearer: bool = False, realm: str = "api") -> bytes | None:
    """The ``WWW-Authenticate`` value for a denial, or ``None`` when none applies.

    RFC 6750 §3: no ``error`` attribute when no credentials were sent; ``invalid_token`` for a bad,
    expired or revoked token; ``insufficient_scope`` on a 403 for a bearer-authenticated caller.
    """
    if code is ErrorCode.MISSING_CREDENTIALS:
        return f'Bearer realm="{realm}"'.encode()
    if code in _BEARER_ERRORS:
        return f'Bearer realm="{realm}", error="invalid_token", error_description="{DETAIL[code]}"'.encode()
    if code in _API_KEY_ERRORS:
        return f'ApiKey realm="{realm}"'.encode()
    if code in _SIGNATURE_ERRORS:
        return f'Signature realm="{realm}"'.encode()
    if code is ErrorCode.INSUFFICIENT_PERMISSIONS and bearer:
        return f'Bearer realm="{realm}", error="insufficient_scope"'.encode()
    return None


_CONTENT_TYPE: Final[dict[str, bytes]] = {
    "json": b"application/json",
    "problem": b"application/problem+json",
}


async def send_denial(
    scope: Scope,
    send: Send,
    error: GuardError,
    *,
    fmt: ErrorFormat = "json",
    bearer: bool = False,
    event_type: str | None = None,
    result: str = "deny",
    **extra: str,
) -> None:
    """Log a security event for ``error`` and answer it (HTTP response or websocket close)."""
    emit(scope, event_type or EVENT_TYPE[error.code], result, error.reason, **extra)
    # How the request ended, for layers outside: the response is the guard's, not the app's.
    GuardContext.from_scope(scope).denial = error.code

    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": error.code.value})
        return

    body = render_body(error.code, fmt, error.detail)
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", _CONTENT_TYPE[fmt]),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if error.status in (401, 403):
        value = challenge(error.code, bearer=bearer)
        if value is not None:
            headers.append((b"www-authenticate", value))
    headers.extend(error.headers)
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ("EVENT_TYPE", "ErrorFormat", "challenge", "render_body", "send_denial")
