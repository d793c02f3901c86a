"""Shared test helpers: the published vectors, a recording app, and request runners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asgi_guard.context import GuardContext
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope
from asgi_guard.webhooks import Verifier, WebhookConfig, WebhookMiddleware

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
NOW = 1_700_000_000.0


class RecordingApp:
    """An app that reads the whole body, remembers it with the verified webhook, and answers 200."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[bytes] = []
        self.webhooks: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            self.bodies.append(b"<lifespan>")
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.bodies.append(b"".join(chunks))
        self.webhooks.append(GuardContext.from_scope(scope).webhook)
        await send(
            {"type": "http.response.start", "status": self.status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"app"})


def middleware(
    verifier: Verifier, *, clock: FakeClock | None = None, app: RecordingApp | None = None, **options: Any
) -> tuple[WebhookMiddleware, RecordingApp, FakeClock]:
    """A middleware guarding ``/hook`` with ``verifier``, its recording app and its clock."""
    clock = clock if clock is not None else FakeClock(NOW)
    app = app if app is not None else RecordingApp()
    config = WebhookConfig(routes={"/hook": verifier}, clock=clock, **options)
    return WebhookMiddleware(app, config), app, clock


async def post(
    mw: Any, headers: dict[str, str] | list[tuple[str, str]], body: bytes | list[bytes], path: str = "/hook"
) -> tuple[MessageRecorder, dict[str, Any]]:
    """POST ``body`` with ``headers``; return the response and the scope (for its events)."""
    scope = make_scope("POST", path, headers=headers)
    response = await call(mw, scope, body)
    return response, scope


def events(scope: dict[str, Any]) -> list[Any]:
    """The security events the request emitted."""
    ctx = scope.get("asgi_guard")
    return list(ctx.events) if isinstance(ctx, GuardContext) else []


def last_event(scope: dict[str, Any]) -> Any:
    """The last security event of the request."""
    found = events(scope)
    assert found, "no security event was emitted"
    return found[-1]
