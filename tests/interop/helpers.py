"""Shared by the interop tests: our middleware on a route, on the real clock (the libraries use it)."""

from __future__ import annotations

from typing import Any

from asgi_guard.testing import call, make_scope
from asgi_guard.webhooks import Verifier, WebhookConfig, WebhookMiddleware
from tests.webhooks.helpers import RecordingApp


async def deliver(verifier: Verifier, headers: dict[str, str], body: bytes) -> tuple[int, RecordingApp]:
    """POST ``body`` with ``headers`` to a fresh middleware guarding ``/hook``; the status and the app."""
    app = RecordingApp()
    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hook": verifier}))
    response = await call(mw, make_scope("POST", "/hook", headers=headers), body)
    return response.status, app


def lower(headers: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): str(value) for name, value in headers.items()}
