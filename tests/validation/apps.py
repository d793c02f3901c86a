"""Tiny ASGI apps and schemas shared by the validation tests."""

from __future__ import annotations

from typing import Any

import msgspec

from asgi_guard.context import CONTEXT_KEY
from asgi_guard.testing import make_scope
from asgi_guard.types import Receive, Scope, Send

JSON = {"content-type": "application/json"}


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 200 with what validation decoded and the raw body the app itself received."""
    raw = b""
    if scope["type"] == "http":
        message = await receive()
        raw = message.get("body", b"")
    ctx = scope.get(CONTEXT_KEY)
    validated = ctx.validated if ctx is not None else None
    out: dict[str, Any] = {"raw": raw.decode("utf-8", "replace")}
    if ctx is not None and ctx.payload is not msgspec.UNSET:
        out["payload"] = msgspec.to_builtins(ctx.payload)
    if validated is not None:
        for part in ("query", "path"):
            value = getattr(validated, part)
            if value is not msgspec.UNSET:
                out[part] = msgspec.to_builtins(value)
    body = msgspec.json.encode(out)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def post(path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Scope:
    """A JSON POST scope."""
    return make_scope("POST", path, headers=JSON if headers is None else headers, **kwargs)
