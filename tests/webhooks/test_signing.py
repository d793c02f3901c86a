"""The signers: what they produce verifies, and the curl line carries it intact."""

from __future__ import annotations

import shlex

import pytest

from asgi_guard.testing import call, make_scope
from asgi_guard.webhooks import GenericHMAC, WebhookConfig, WebhookMiddleware, curl_command, sign_generic
from tests.webhooks.helpers import RecordingApp

pytestmark = pytest.mark.anyio


async def test_curl_line_round_trips() -> None:
    """Parsing the printed curl line back gives headers and body that the middleware accepts."""
    body = b'{"message": "it\'s \\"quoted\\" & spaced"}'
    line = curl_command("http://127.0.0.1:8000/webhook/generic", sign_generic("demo-secret", body), body)
    args = shlex.split(line)
    assert args[:5] == ["curl", "-sS", "-X", "POST", "http://127.0.0.1:8000/webhook/generic"]
    headers = [tuple(args[i + 1].split(": ", 1)) for i, arg in enumerate(args) if arg == "-H"]
    sent = args[args.index("--data-binary") + 1].encode()
    assert sent == body
    app = RecordingApp()
    mw = WebhookMiddleware(app, WebhookConfig(routes={"/webhook/generic": GenericHMAC(secrets=["demo-secret"])}))
    response = await call(mw, make_scope("POST", "/webhook/generic", headers=headers), sent)  # type: ignore[arg-type]
    assert response.status == 200
    assert app.bodies == [body]
