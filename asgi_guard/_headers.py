"""Raw header access on ``scope["headers"]``, without building dicts per request.

ASGI servers send lower-cased names, but a raw ASGI caller may not: lookups compare
case-insensitively. Duplicated security-relevant headers (Authorization, signatures, ...) are an
ambiguous request and must be refused, so :func:`get_unique` reports them instead of picking one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asgi_guard.errors import ErrorCode, GuardError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from asgi_guard.types import Message, Scope


def _iter(scope: Scope) -> Iterable[tuple[bytes, bytes]]:
    headers = scope.get("headers")
    return headers if headers is not None else ()


def get_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes), or ``None``."""
    size = len(name)
    for key, value in _iter(scope):
        if len(key) == size and (key == name or key.lower() == name):
            return value
    return None


def get_all(scope: Scope, name: bytes) -> list[bytes]:
    """Every value of header ``name``, in order."""
    size = len(name)
    return [value for key, value in _iter(scope) if len(key) == size and (key == name or key.lower() == name)]


def get_unique(scope: Scope, name: bytes) -> bytes | None:
    """The single value of a security-relevant header.

    Raises:
        GuardError: ``malformed_request`` when the header is present more than once.
    """
    found: bytes | None = None
    size = len(name)
    for key, value in _iter(scope):
        if len(key) == size and (key == name or key.lower() == name):
            if found is not None:
                raise GuardError(ErrorCode.MALFORMED_REQUEST, f"duplicate_header:{name.decode('latin-1')}")
            found = value
    return found


def is_preflight(scope: Scope) -> bool:
    """A CORS preflight: ``OPTIONS`` with both ``Origin`` and ``Access-Control-Request-Method``.

    Layers that skip preflights (they carry no credentials by design) use this one definition, so an
    ``OPTIONS`` request lacking either header is checked like any other request.
    """
    return (
        scope.get("method") == "OPTIONS"
        and get_header(scope, b"access-control-request-method") is not None
        and get_header(scope, b"origin") is not None
    )


def has_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bool:
    """Whether a response/request header list already carries ``name``."""
    size = len(name)
    for key, _ in headers:  # noqa: SIM110 - a plain loop allocates no generator (runs on every response)
        if len(key) == size and (key == name or key.lower() == name):
            return True
    return False


def append_headers(message: Message, extra: Sequence[tuple[bytes, bytes]]) -> None:
    """Add headers to an ``http.response.start`` message (apps may pass tuples: copy into a list)."""
    headers = message.get("headers")
    message["headers"] = [*headers, *extra] if headers else list(extra)


def add_missing_headers(message: Message, defaults: Sequence[tuple[bytes, bytes]]) -> None:
    """Add each default header the app did not set itself: the app's own value wins."""
    headers = message.get("headers")
    if not headers:
        message["headers"] = list(defaults)
        return
    present = {key.lower() for key, _ in headers}
    missing = [pair for pair in defaults if pair[0] not in present]
    if missing:
        message["headers"] = [*headers, *missing]


__all__ = (
    "add_missing_headers",
    "append_headers",
    "get_all",
    "get_header",
    "get_unique",
    "has_header",
    "is_preflight",
)
