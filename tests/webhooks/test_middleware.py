"""The webhooks middleware: routing, body handling, replay bookkeeping, events, framework integration."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, post
from litestar import Request as LitestarRequest
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.compose import guard
from asgi_guard.errors import MissingGuardContext
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope, receive_body
from asgi_guard.webhooks import (
    GenericHMAC,
    GitHub,
    TimestampedHMAC,
    TwitchEventSub,
    WebhookConfig,
    WebhookMiddleware,
    get_webhook,
    sign_generic,
    sign_github,
    sign_timestamped,
    sign_twitch,
)
from tests.webhooks.helpers import NOW, RecordingApp, events, last_event, middleware
from tests.webhooks.helpers import post as post_hook

pytestmark = pytest.mark.anyio

SECRET = "middleware-secret"
BODY = b'{"hello":"world"}'


async def test_other_paths_pass_through_untouched() -> None:
    """A request outside the webhook routes reaches the app with its original chunks and no checks."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    response, scope = await post_hook(mw, {}, [b"a", b"b"], path="/other")
    assert (response.status, app.bodies, app.webhooks) == (200, [b"ab"], [None])
    assert events(scope) == []


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
async def test_non_http_scopes_pass_through(kind: str) -> None:
    """Lifespan and websocket scopes, even on a webhook path, go straight to the app."""
    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        seen.append(scope["type"])

    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])}))
    scope = {"type": "lifespan"} if kind == "lifespan" else make_scope(path="/hook", type="websocket")
    await mw(scope, receive_body(), MessageRecorder())
    assert seen == [kind]


async def test_any_method_on_a_webhook_path_is_verified() -> None:
    """A GET on a webhook path is not a way around the check."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    response = await call(mw, make_scope("GET", "/hook"))
    assert response.json()["error"] == "missing_signature"
    assert app.bodies == []


async def test_templates_and_root_path() -> None:
    """Routes are templates matched on the route path (path minus root_path)."""
    app = RecordingApp()
    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hooks/{name}": GenericHMAC(secrets=[SECRET])}))
    scope = make_scope("POST", "/hooks/ci", headers=sign_generic(SECRET, BODY), root_path="/api")
    assert (await call(mw, scope, BODY)).status == 200
    assert app.webhooks[0].route == "/hooks/{name}"
    unsigned = make_scope("POST", "/hooks/ci", root_path="/api")
    assert (await call(mw, unsigned, BODY)).status == 401


async def test_body_over_cap_is_413_declared_or_streamed() -> None:
    """Bodies over max_body_bytes are refused, whether Content-Length says so or the stream shows it."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]), max_body_bytes=8)
    big = b"x" * 9
    declared = {**sign_generic(SECRET, big), "Content-Length": "9"}
    response, scope = await post_hook(mw, declared, big)
    assert (response.status, response.json()["error"]) == (413, "payload_too_large")
    assert last_event(scope).extra["provider"] == "generic"
    response, _ = await post_hook(mw, sign_generic(SECRET, big), [b"xxxx", b"xxxx", b"x"])
    assert response.status == 413
    assert app.bodies == []


async def test_truncated_body_is_malformed() -> None:
    """A body shorter than its Content-Length is a 400, never verified against."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    headers = {**sign_generic(SECRET, BODY[:5]), "Content-Length": str(len(BODY))}
    response, _ = await post_hook(mw, headers, BODY[:5])
    assert response.json()["error"] == "malformed_request"
    assert app.bodies == []


async def test_client_disconnect_mid_body_sends_nothing() -> None:
    """If the client leaves mid-body there is no response and the app is not called."""
    mw, app, _ = middleware(GenericHMAC(secrets=[SECRET]))
    recorder = MessageRecorder()
    messages = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    await mw(make_scope("POST", "/hook", headers=sign_generic(SECRET, BODY)), receive, recorder)
    assert (recorder.messages, app.bodies) == ([], [])


async def test_app_sees_disconnect_after_the_replayed_body() -> None:
    """After the buffered body, the app's next receive falls through to the real http.disconnect."""
    received: list[dict[str, object]] = []

    async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        received.append(await receive())
        received.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])}))
    await call(mw, make_scope("POST", "/hook", headers=sign_generic(SECRET, BODY)), [BODY[:3], BODY[3:]])
    assert received == [{"type": "http.request", "body": BODY, "more_body": False}, {"type": "http.disconnect"}]


async def test_app_exception_forgets_delivery_and_propagates() -> None:
    """An app crash re-raises and frees the message id, so the provider's retry is processed."""
    calls: list[bytes] = []

    async def flaky(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        calls.append((await receive())["body"])
        if len(calls) == 1:
            raise RuntimeError("database down")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    clock = FakeClock(NOW)
    mw = WebhookMiddleware(
        flaky, WebhookConfig(routes={"/hook": TwitchEventSub(secrets=["twitch-secret-x"])}, clock=clock)
    )
    headers = sign_twitch("twitch-secret-x", BODY, message_id="m-1", timestamp="2023-11-14T22:13:20Z")
    with pytest.raises(RuntimeError, match="database down"):
        await call(mw, make_scope("POST", "/hook", headers=headers), BODY)
    assert (await call(mw, make_scope("POST", "/hook", headers=headers), BODY)).body == b"ok"
    assert (await call(mw, make_scope("POST", "/hook", headers=headers), BODY)).body == b""
    assert calls == [BODY, BODY]


async def test_events_never_carry_secret_or_signature() -> None:
    """Failure and success events name provider, route and message id but never the signature or secret."""
    mw, _, _ = middleware(GitHub(secrets=[SECRET]))
    good = sign_github(SECRET, BODY, delivery="d-7")
    bad = {**good, "X-Hub-Signature-256": "sha256=" + "ab" * 32}
    _, ok_scope = await post_hook(mw, good, BODY)
    _, bad_scope = await post_hook(mw, bad, BODY)
    logged = json.dumps([repr(event) for event in events(ok_scope) + events(bad_scope)])
    assert SECRET not in logged
    assert good["X-Hub-Signature-256"][7:] not in logged
    assert "ab" * 32 not in logged
    failure = last_event(bad_scope)
    assert (failure.type, failure.reason) == ("signature_failure", "signature_mismatch")
    assert failure.extra == {"provider": "github", "message_id": "d-7", "route": "/hook"}


async def test_problem_format() -> None:
    """error_format="problem" renders refusals as RFC 9457 documents."""
    mw, _, _ = middleware(GenericHMAC(secrets=[SECRET]), error_format="problem")
    response, _ = await post_hook(mw, {}, BODY)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_signature"
    assert response.headers["www-authenticate"].startswith("Signature")


async def test_default_store_dedupes_without_explicit_clock() -> None:
    """With no store and no clock configured, the built-in memory store still catches a replay."""
    app = RecordingApp()
    mw = WebhookMiddleware(app, WebhookConfig(routes={"/hook": TimestampedHMAC(secrets=[SECRET])}))
    headers = sign_timestamped(SECRET, BODY, int(time.time()))
    assert (await call(mw, make_scope("POST", "/hook", headers=headers), BODY)).status == 200
    assert (await call(mw, make_scope("POST", "/hook", headers=headers), BODY)).status == 409


async def test_routes_do_not_share_replay_keys() -> None:
    """The same delivery id on two routes is two deliveries."""
    app = RecordingApp()
    routes = {"/a": GitHub(secrets=[SECRET]), "/b": GitHub(secrets=[SECRET])}
    mw = WebhookMiddleware(app, WebhookConfig(routes=routes))
    headers = sign_github(SECRET, BODY, delivery="same")
    for path in ("/a", "/b"):
        assert (await call(mw, make_scope("POST", path, headers=headers), BODY)).body == b"app"


def test_get_webhook_accessor() -> None:
    """get_webhook reads the verified facts from a scope or a request, and names the middleware when absent."""
    with pytest.raises(MissingGuardContext, match="WebhookMiddleware"):
        get_webhook(make_scope())
    with pytest.raises(MissingGuardContext):
        get_webhook(object())


def starlette_endpoint_app() -> Starlette:
    async def hook(request: Request) -> PlainTextResponse:
        webhook = get_webhook(request)
        return PlainTextResponse(f"{webhook.provider}:{(await request.body()).decode()}")

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def test_starlette_middleware() -> None:
    """Installed with Starlette's Middleware(...), the endpoint reads the exact body and the facts."""
    config = WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])})
    app = starlette_endpoint_app()
    app.user_middleware.append(Middleware(WebhookMiddleware, config=config))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post("/hook", content=BODY, headers=sign_generic(SECRET, BODY))
        bad = await client.post("/hook", content=BODY, headers=sign_generic("nope", BODY))
    assert (ok.status_code, ok.text) == (200, "generic:" + BODY.decode())
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_signature")


async def test_fastapi_add_middleware() -> None:
    """FastAPI's add_middleware works and the route body is the signed bytes."""
    api = FastAPI()

    @api.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode(), "provider": get_webhook(request).provider}

    api.add_middleware(WebhookMiddleware, config=WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])}))
    transport = httpx.ASGITransport(app=api, client=("203.0.113.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post("/hook", content=BODY, headers=sign_generic(SECRET, BODY))
        missing = await client.post("/hook", content=BODY)
    assert ok.json() == {"body": BODY.decode(), "provider": "generic"}
    assert missing.json()["error"] == "missing_signature"


async def test_litestar_define_middleware() -> None:
    """Litestar's DefineMiddleware passes app by keyword; the handler gets the exact body."""

    @post("/hook", status_code=200)
    async def hook(request: LitestarRequest) -> str:  # type: ignore[type-arg]
        return (await request.body()).decode()

    config = WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])})
    app = Litestar([hook], middleware=[DefineMiddleware(WebhookMiddleware, config=config)])
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post("/hook", content=BODY, headers=sign_generic(SECRET, BODY))
        bad = await client.post("/hook", content=BODY + b"!", headers=sign_generic(SECRET, BODY))
    assert (ok.status_code, ok.text) == (200, BODY.decode())
    assert bad.status_code == 401


async def test_guard_composition() -> None:
    """guard(app, WebhookConfig(...)) installs the layer; it needs no other layer."""
    app = RecordingApp()
    guarded = guard(app, WebhookConfig(routes={"/hook": GenericHMAC(secrets=[SECRET])}))
    assert isinstance(guarded, WebhookMiddleware)
    assert (await call(guarded, make_scope("POST", "/hook", headers=sign_generic(SECRET, BODY)), BODY)).status == 200
    assert (await call(guarded, make_scope("POST", "/hook"), BODY)).status == 401
