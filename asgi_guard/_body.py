"""Read the request body at most once, capped, and replay it to the app.

The replaying ``receive`` hands the app the exact buffered bytes once, then falls through to the
real ``receive`` so ``http.disconnect`` still arrives (the asgi-csrf shape; Starlette #495 shows the
hang when a middleware forgets this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asgi_guard._headers import get_all
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError

if TYPE_CHECKING:
    from asgi_guard.types import Message, Receive, Scope


class ClientDisconnected(Exception):
    """The client went away before the whole body arrived: there is nobody to answer."""


def content_length(scope: Scope) -> int | None:
    """The declared ``Content-Length``, or ``None``.

    Raises:
        GuardError: ``malformed_request`` for a non-numeric or conflicting (duplicated) value.
    """
    values = get_all(scope, b"content-length")
    if not values:
        return None
    if len(set(values)) != 1:
        raise GuardError(ErrorCode.MALFORMED_REQUEST, "conflicting_content_length")
    raw = values[0].strip()
    if not raw.isdigit() or len(raw) > 19:
        raise GuardError(ErrorCode.MALFORMED_REQUEST, "invalid_content_length")
    return int(raw)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` in one message, then defers to the real ``receive``."""
    pending = True

    async def replay_receive() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> tuple[bytes, Receive]:
    """Buffer the body (at most ``max_bytes``) and return it with a replaying ``receive``.

    A body an outer layer already buffered is taken from the :class:`GuardContext` instead of
    being read again.

    Raises:
        GuardError: ``payload_too_large`` past the cap (Content-Length first, then while
            streaming), ``malformed_request`` for a bad Content-Length.
        ClientDisconnected: the client disconnected mid-body.
    """
    ctx = GuardContext.from_scope(scope)  # normally the layer's own, from GuardContext.enter
    if ctx.body is not None:
        if len(ctx.body) > max_bytes:
            raise GuardError(ErrorCode.PAYLOAD_TOO_LARGE, f"body_over_{max_bytes}_bytes")
        return ctx.body, receive

    declared = content_length(scope)
    if declared is not None and declared > max_bytes:
        raise GuardError(ErrorCode.PAYLOAD_TOO_LARGE, f"content_length_over_{max_bytes}_bytes")

    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            raise ClientDisconnected
        if kind != "http.request":
            raise GuardError(ErrorCode.MALFORMED_REQUEST, "unexpected_receive_message")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > max_bytes:
                raise GuardError(ErrorCode.PAYLOAD_TOO_LARGE, f"body_over_{max_bytes}_bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break

    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if declared is not None and declared != len(body):
        raise GuardError(ErrorCode.MALFORMED_REQUEST, "body_length_mismatch")
    ctx.body = body
    return body, replay(body, receive)


__all__ = ("ClientDisconnected", "content_length", "read_body", "replay")
