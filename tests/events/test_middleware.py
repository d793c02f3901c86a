"""EventsMiddleware: request ids (generated, accepted, replaced, echoed), sinks, outcome events."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, get
from litestar import Request as LitestarRequest
from litestar.middleware import DefineMiddleware
from litestar.testing import AsyncTestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.context import get_context
from asgi_guard.errors import ConfigurationError
from asgi_guard.events import REQUEST_ID, EventsConfig, EventsMiddleware, SecurityEvent, emit
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope

if TYPE_CHECKING:
    from asgi_guard.types import Receive, Scope, Send

pytestmark = pytest.mark.anyio

GENERATED = re.compile(r"[0-9a-f]{32}")  # 128 random bits


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request id it sees in the context and in the ContextVar."""
    body = f"{get_context(scope).request_id}|{REQUEST_ID.get()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": ((b"content-type", b"text/plain"),)})
    await send({"type": "http.response.body", "body": body})


async def test_request_id_is_generated_unique_and_echoed() -> None:
    """Without a client id, each request gets a fresh id, visible to the app and echoed in X-Request-ID."""
    app = EventsMiddleware(echo_app)
    first = await call(app, make_scope())
    second = await call(app, make_scope())
    rid = first.headers["x-request-id"]
    assert GENERATED.fullmatch(rid)
    assert first.body.decode() == f"{rid}|{rid}"
    assert second.headers["x-request-id"] != rid
    assert REQUEST_ID.get() == ""  # reset after the request


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"abc-123.DEF:4_5", True),
        (b"a" * 128, True),
        (b"a" * 129, False),
        (b"", False),
        (b"evil\r\nx-admin: 1", False),
        (b"id with space", False),
        (b"caf\xc3\xa9", False),
        (b"\xff\xfe", False),
        (b"ok\n", False),
    ],
)
async def test_client_request_id_accepted_only_when_valid(sent: bytes, kept: bool) -> None:
    """A valid X-Request-ID is echoed; a hostile or malformed one is replaced by the generated id. The
    server's own id is generated either way (issue 11 item 5)."""
    scope = make_scope(headers=[(b"x-request-id", sent)])
    response = await call(EventsMiddleware(echo_app), scope)
    echoed = response.headers["x-request-id"].encode("latin-1")
    server_id = response.body.decode().split("|")[0]
    assert GENERATED.fullmatch(server_id)
    assert (echoed == sent) is kept
    assert get_context(scope).client_request_id == (sent.decode() if kept else "")
    if not kept:
        assert echoed.decode() == server_id


async def test_untrusted_request_ids_and_custom_header() -> None:
    """trust_request_id=False ignores the client's id; request_id_header renames what is read and echoed."""
    app = EventsMiddleware(echo_app, EventsConfig(trust_request_id=False))
    response = await call(app, make_scope(headers={"x-request-id": "mine"}))
    assert response.headers["x-request-id"] != "mine"
    renamed = EventsMiddleware(echo_app, EventsConfig(request_id_header="x-correlation-id"))
    response = await call(renamed, make_scope(headers={"x-correlation-id": "corr-1"}))
    assert response.headers["x-correlation-id"] == "corr-1"
    assert "x-request-id" not in response.headers


async def test_events_go_to_configured_sinks_with_the_clock() -> None:
    """Events emitted by inner layers reach the configured sinks, stamped by the configured clock."""
    seen: list[SecurityEvent] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        emit(scope, "admin_action", "allow", "user_list")
        await echo_app(scope, receive, send)

    middleware = EventsMiddleware(app, EventsConfig(sinks=(seen.append,), clock=FakeClock(start=7.0)))
    response = await call(middleware, make_scope(headers={"x-request-id": "r-7"}))
    assert response.status == 200
    assert [(e.type, e.time, e.client_request_id, e.reason) for e in seen] == [
        ("admin_action", 7.0, "r-7", "user_list")
    ]
    assert GENERATED.fullmatch(seen[0].request_id)


@pytest.mark.parametrize(("status", "result"), [(200, "allow"), (302, "allow"), (403, "deny"), (500, "deny")])
async def test_outcome_event_per_request(status: int, result: str) -> None:
    """log_outcome emits one request event with the final status."""
    seen: list[SecurityEvent] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status})
        await send({"type": "http.response.body", "body": b""})

    middleware = EventsMiddleware(app, EventsConfig(sinks=(seen.append,), log_outcome=True))
    await call(middleware, make_scope())
    assert [(e.type, e.result, e.reason) for e in seen] == [("request", result, str(status))]


async def test_exceptions_propagate_and_are_still_logged() -> None:
    """An app exception is re-raised, the ContextVar is reset, and the outcome is logged as an error."""
    seen: list[SecurityEvent] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    middleware = EventsMiddleware(app, EventsConfig(sinks=(seen.append,), log_outcome=True))
    with pytest.raises(RuntimeError, match="boom"):
        await call(middleware, make_scope())
    assert REQUEST_ID.get() == ""
    assert [(e.type, e.result, e.reason) for e in seen] == [("request", "error", "exception")]


async def test_websocket_gets_a_request_id_and_lifespan_passes_untouched() -> None:
    """Websocket scopes get a context and request id; lifespan reaches the app with the original callables."""
    seen: list[tuple[str, object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["type"], receive, send))
        await send({"type": f"{scope['type']}.probe"})

    recorder = MessageRecorder()

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    middleware = EventsMiddleware(app, EventsConfig(sinks=()))
    ws = make_scope(type="websocket", headers={"x-request-id": "ws-1"})
    await middleware(ws, receive, recorder)
    lifespan = {"type": "lifespan"}
    await middleware(lifespan, receive, recorder)
    assert (get_context(ws).client_request_id, GENERATED.fullmatch(get_context(ws).request_id) is not None) == (
        "ws-1",
        True,
    )
    assert lifespan == {"type": "lifespan"}
    assert seen[1] == ("lifespan", receive, recorder)
    assert recorder.messages == [{"type": "websocket.probe"}, {"type": "lifespan.probe"}]


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"request_id_header": "X-Request-ID"}, "request_id_header"),
        ({"request_id_header": ""}, "request_id_header"),
        ({"request_id_pattern": "("}, "request_id_pattern"),
        ({"sinks": ("not callable",)}, "sinks[0]"),
    ],
)
def test_config_errors(kwargs: dict[str, object], where: str) -> None:
    """Bad events configs raise ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match=re.escape(f"- at `EventsConfig.{where}`")):
        EventsConfig(**kwargs)  # type: ignore[arg-type]


async def test_starlette_fastapi_and_litestar() -> None:
    """The middleware works in Starlette's Middleware, FastAPI's add_middleware and Litestar's DefineMiddleware."""

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(get_context(request).client_request_id)

    config = EventsConfig(sinks=())
    starlette_app = Starlette(routes=[Route("/", home)], middleware=[Middleware(EventsMiddleware, config=config)])
    fastapi_app = FastAPI()
    fastapi_app.add_api_route("/", home)
    fastapi_app.add_middleware(EventsMiddleware, config=config)
    for app in (starlette_app, fastapi_app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/", headers={"x-request-id": "fw-1"})
        assert (response.text, response.headers["x-request-id"]) == ("fw-1", "fw-1")

    @get("/")
    async def index(request: LitestarRequest) -> str:  # type: ignore[type-arg]
        return get_context(request.scope).client_request_id

    litestar_app = Litestar(
        route_handlers=[index], logging_config=None, middleware=[DefineMiddleware(EventsMiddleware, config=config)]
    )
    async with AsyncTestClient(app=litestar_app) as client:
        response = await client.get("/", headers={"x-request-id": "ls-1"})
    assert (response.text, response.headers["x-request-id"]) == ("ls-1", "ls-1")


@pytest.mark.parametrize(
    ("messages", "result", "reason"),
    [
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1000}], "allow", "101"),
        ([{"type": "websocket.close", "code": 1008}], "deny", "403"),
    ],
)
async def test_websocket_outcomes(messages: list[dict[str, object]], result: str, reason: str) -> None:
    """An accepted websocket is logged as allowed (101); one closed before accept as denied (403)."""
    seen: list[SecurityEvent] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    middleware = EventsMiddleware(app, EventsConfig(sinks=(seen.append,), log_outcome=True))
    recorder = MessageRecorder()
    await middleware(make_scope(type="websocket"), None, recorder)  # type: ignore[arg-type]
    assert recorder.messages == messages
    assert [(e.type, e.result, e.reason) for e in seen] == [("request", result, reason)]


async def test_a_client_cannot_reuse_or_guess_a_server_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11 item 5: server ids are 128 random bits (no counter to guess), and a client replaying
    another request's server id in X-Request-ID only appears as client_request_id in the log."""
    middleware = EventsMiddleware(echo_app)
    victim = await call(middleware, make_scope())
    victim_id = victim.headers["x-request-id"]
    ids = {(await call(middleware, make_scope())).headers["x-request-id"] for _ in range(50)}
    assert len(ids) == 50
    assert all(GENERATED.fullmatch(server_id) for server_id in ids)
    assert len({server_id[:20] for server_id in ids}) == 50  # no shared prefix either

    async def emitting(scope: Scope, receive: Receive, send: Send) -> None:
        emit(scope, "authn_failure", "deny", "bad_token")
        await echo_app(scope, receive, send)

    with caplog.at_level("INFO", logger="asgi_guard.security"):
        scope = make_scope(headers={"x-request-id": victim_id})
        attacker = await call(EventsMiddleware(emitting), scope)
    assert attacker.headers["x-request-id"] == victim_id  # still echoed to the client
    [line] = [record.getMessage() for record in caplog.records]
    logged = json.loads(line)
    assert logged["client_request_id"] == victim_id
    assert logged["request_id"] != victim_id
    assert logged["request_id"] == get_context(scope).request_id


async def test_early_client_disconnect_is_logged_as_a_disconnect() -> None:
    """Issue 11 item 12: a client that leaves mid-body (a guard layer stops reading and answers nothing)
    is logged as a disconnect, not as a denial with status 0."""
    from asgi_guard.compose import guard
    from asgi_guard.webhooks import GenericHMAC, WebhookConfig, sign_generic

    seen: list[SecurityEvent] = []
    app = guard(
        echo_app,
        EventsConfig(sinks=(seen.append,), log_outcome=True),
        WebhookConfig(routes={"/hook": GenericHMAC(secrets=["s" * 32])}),
    )
    messages = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    recorder = MessageRecorder()
    await app(make_scope("POST", "/hook", headers=sign_generic("s" * 32, b"{}")), receive, recorder)
    assert recorder.messages == []
    assert [(e.type, e.result, e.reason) for e in seen] == [("request", "disconnect", "client_disconnected")]
