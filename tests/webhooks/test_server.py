"""A real uvicorn server: a chunked request body reaches the app byte for byte after verification."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard.webhooks import TwitchEventSub, WebhookConfig, WebhookMiddleware, get_webhook, sign_twitch
from tests.redis_servers import free_port

pytestmark = pytest.mark.server

SECRET = "server-secret-0123"
CAP = 512 * 1024


def make_app() -> WebhookMiddleware:
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "id": get_webhook(request).message_id}
        )

    app = Starlette(routes=[Route("/webhook/twitch", hook, methods=["POST"])])
    return WebhookMiddleware(
        app, WebhookConfig(routes={"/webhook/twitch": TwitchEventSub(secrets=[SECRET])}, max_body_bytes=CAP)
    )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """uvicorn serving the guarded app on a free loopback port, in a thread, for this module."""
    port = free_port()
    config = uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".123456789Z"


def test_chunked_body_arrives_exactly(server_url: str) -> None:
    """A signed body streamed in uneven chunks (Transfer-Encoding: chunked) reaches the endpoint unchanged."""
    body = os.urandom(300_000)
    chunks = [body[:1], body[1:70_001], body[70_001:70_002], body[70_002:]]
    headers = sign_twitch(SECRET, body, message_id="srv-1", timestamp=now_rfc3339())

    def stream() -> Iterator[bytes]:
        yield from chunks

    with httpx.Client(base_url=server_url, timeout=10) as client:
        response = client.post("/webhook/twitch", content=stream(), headers=headers)
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 200
        assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "id": "srv-1"}
        again = client.post("/webhook/twitch", content=stream(), headers=headers)
        assert (again.status_code, again.content) == (200, b"")  # a resend is acknowledged, not processed


def test_refusals_over_the_wire(server_url: str) -> None:
    """Over a real socket: a tampered chunked body is 401 and a body over the cap is 413, never a 500."""
    body = b"x" * 1000
    headers = sign_twitch(SECRET, body, message_id="srv-2", timestamp=now_rfc3339())
    with httpx.Client(base_url=server_url, timeout=10) as client:
        tampered = client.post("/webhook/twitch", content=iter([body[:500], b"y" * 500]), headers=headers)
        assert (tampered.status_code, tampered.json()["error"]) == (401, "invalid_signature")
        big = b"z" * (CAP + 1)
        big_headers = sign_twitch(SECRET, big, message_id="srv-3", timestamp=now_rfc3339())
        too_big = client.post("/webhook/twitch", content=iter([big[:CAP], big[CAP:]]), headers=big_headers)
        assert (too_big.status_code, too_big.json()["error"]) == (413, "payload_too_large")
